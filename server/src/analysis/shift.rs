//! Moving an analysis along with an edit that cannot change its meaning (typing inside a comment): every
//! position after the edit moves, nothing else does. The language server uses this to answer such an
//! edit without running the analysis again; `tests` check it against a fresh analysis.
//!
//! The structs are destructured without `..` so that a new position field fails to compile here until it
//! is shifted too.

use std::ops::Range;

use super::summary::{BlockingSite, CallSite, FunctionSummary, Loc};
use super::{Cut, FileAnalysis, Finding, Hop};

/// An edit: bytes `start..old_end` became `start..new_end`. What followed it on the line of `old_end`
/// moved by the given numbers of characters, UTF-16 units and bytes, and every later line by `lines`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineEdit {
    pub start: usize,
    pub old_end: usize,
    pub new_end: usize,
    /// The 0-based line of `old_end`, before the edit.
    pub line: u32,
    /// How many lines the edit added (negative: removed).
    pub lines: i64,
    pub chars: i64,
    pub utf16: i64,
    pub utf8: i64,
    /// The replaced bytes were only spaces, tabs and line breaks (or none).
    pub blank: bool,
}

impl LineEdit {
    /// The edit that turned `old` into `new` (bytes `start..old_end` of `old` became `start..new_end`),
    /// with the line and column moves computed from whole-text line indexes, for replays and tests (the
    /// language server computes the same numbers from its rope).
    pub fn between(old: &str, new: &str, start: usize, old_end: usize, new_end: usize) -> LineEdit {
        let cols = |text: &str, at: usize| {
            let (line, chars, utf16, utf8) = crate::line_index::LineIndex::new(text).all_columns(text, at);
            (line as i64, chars as i64, utf16 as i64, utf8 as i64)
        };
        let before = cols(old, old_end);
        let after = cols(new, new_end);
        LineEdit {
            start,
            old_end,
            new_end,
            line: before.0 as u32,
            lines: after.0 - before.0,
            chars: after.1 - before.1,
            utf16: after.2 - before.2,
            utf8: after.3 - before.3,
            blank: old[start..old_end].bytes().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')),
        }
    }

    /// Where byte `p` of the old text is in the new text. A position inside the replaced bytes cannot be
    /// the end of anything the analysis reports (the edit is inside one token); it stays at `start`.
    pub fn offset(&self, p: usize) -> usize {
        if p >= self.old_end { p - self.old_end + self.new_end } else { p.min(self.start) }
    }

    fn range(&self, r: &Range<usize>) -> Range<usize> {
        self.offset(r.start)..self.offset(r.end)
    }

    fn loc(&self, l: Loc) -> Loc {
        if (l.offset as usize) < self.old_end {
            return l;
        }
        let add = |v: u32, d: i64| (v as i64 + d).max(0) as u32;
        let same_line = l.line == self.line;
        Loc {
            offset: self.offset(l.offset as usize) as u32,
            line: add(l.line, self.lines),
            col: if same_line { add(l.col, self.chars) } else { l.col },
            col_utf16: if same_line { add(l.col_utf16, self.utf16) } else { l.col_utf16 },
            col_utf8: if same_line { add(l.col_utf8, self.utf8) } else { l.col_utf8 },
        }
    }
}

/// Moves an analysis to the edited text, when `edit` changed nothing but positions (or when what it
/// changed has been taken out, to be analysed again).
pub fn shift(out: &mut FileAnalysis, edit: &LineEdit) {
    for Cut { offset, message: _ } in &mut out.cuts {
        *offset = edit.offset(*offset);
    }
    for f in &mut out.findings {
        let Finding {
            rule: _,
            tier: _,
            range,
            call_range,
            message: _,
            callee: _,
            instead: _,
            fix_kinds: _,
            chain,
            function: _,
            route: _,
        } = f;
        *range = edit.range(range);
        if let Some(c) = call_range {
            *c = edit.range(c);
        }
        for Hop { path, range, name: _ } in chain {
            if path.is_none() {
                *range = edit.range(range);
            }
        }
    }
    for func in &mut out.summary.functions {
        let FunctionSummary {
            qualname: _,
            is_async: _,
            offloaded: _,
            memoized: _,
            is_property: _,
            generator: _,
            name,
            route: _,
            cli: _,
            blocking,
            calls,
            returns: _,
            overload: _,
            params: _,
            rebound: _,
        } = func;
        *name = edit.loc(*name);
        for BlockingSite {
            start,
            end,
            callee: _,
            rule: _,
            tier: _,
            message: _,
            instead: _,
            fixes: _,
            once: _,
            gate: _,
            needs: _,
        } in blocking
        {
            *start = edit.loc(*start);
            *end = edit.loc(*end);
        }
        for CallSite {
            start,
            end,
            call_end,
            target: _,
            noqa: _,
            access: _,
            once: _,
            iterated: _,
            gate: _,
            falsy: _,
            made_by: _,
            awaited_method: _,
            alternatives: _,
            needs: _,
            args: _,
            splat: _,
        } in calls
        {
            *start = edit.loc(*start);
            *end = edit.loc(*end);
            *call_end = edit.loc(*call_end);
        }
    }
}
