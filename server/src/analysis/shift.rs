//! Moving an analysis along with an edit that cannot change its meaning (typing inside a comment): every
//! position after the edit moves, nothing else does. The language server uses this to answer such an
//! edit without running the analysis again; `tests` check it against a fresh analysis.
//!
//! The structs are destructured without `..` so that a new position field fails to compile here until it
//! is shifted too.

use std::ops::Range;

use super::summary::{BlockingSite, CallSite, FunctionSummary, Loc};
use super::{Cut, FileAnalysis, Finding, Hop, Related};

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
            related,
        } = f;
        *range = edit.range(range);
        for Related { range, name: _, message: _ } in related {
            *range = edit.range(range);
        }
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
            lifespan: _,
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
            argument: _,
        } in calls
        {
            *start = edit.loc(*start);
            *end = edit.loc(*end);
            *call_end = edit.loc(*call_end);
        }
    }
}

/// Two edits in a row as one: `first` turned text A into B (bytes `start..old_end` of A became
/// `start..new_end` of B), `then` turned B into C. The result, `(start, old_end, new_end)`, is the byte
/// range of A that the pair replaced and what it became in C: the union of both edits (and what lies
/// between them), in A's and C's coordinates. The line and column moves of the merged `LineEdit` are for
/// the caller to compute from texts A and C (the language server does, from its ropes).
pub fn merged(first: (usize, usize, usize), then: (usize, usize, usize)) -> (usize, usize, usize) {
    let (start_1, old_end_1, new_end_1) = first;
    let (start_2, old_end_2, new_end_2) = then;
    // Both edits' spans in B: the union ends at `end`, at or after both ends, so it maps to A through the
    // first edit and to C through the second, and it starts before both, where nothing moved.
    let end = new_end_1.max(old_end_2);
    (start_1.min(start_2), end - new_end_1 + old_end_1, end - old_end_2 + new_end_2)
}

#[cfg(test)]
mod tests {
    use super::merged;

    /// Applies `(start, old_end, new_end)` with the inserted text `with`.
    fn apply(text: &str, (start, old_end, new_end): (usize, usize, usize), with: &str) -> String {
        assert_eq!(new_end - start, with.len());
        format!("{}{with}{}", &text[..start], &text[old_end..])
    }

    #[test]
    fn merged_edits_replace_what_both_replaced() {
        let a = "0123456789abcdefghij";
        // (first edit, its text, second edit in B, its text)
        let cases = [
            ((2, 4, 7), "XXXXX", (10, 12, 11), "Y"), // the second after the first
            ((10, 12, 11), "Z", (1, 3, 1), ""),      // the second before the first
            ((5, 5, 8), "abc", (6, 7, 8), "QQ"),     // inside the first's new text
            ((5, 9, 6), "-", (3, 12, 4), "R"),       // around it
            ((0, 0, 0), "", (20, 20, 22), "ZZ"),     // an empty edit, then one at the end
            ((4, 8, 4), "", (4, 4, 6), "ww"),        // a deletion, then an insertion where it was
        ];
        for (e1, t1, e2, t2) in cases {
            let b = apply(a, e1, t1);
            let c = apply(&b, e2, t2);
            let (start, old_end, new_end) = merged(e1, e2);
            assert!(start <= old_end && start <= new_end);
            assert_eq!(apply(a, (start, old_end, new_end), &c[start..new_end]), c, "{e1:?} {e2:?}");
            // The merged range covers both edits: outside it, A and C agree byte for byte.
            assert_eq!(a[..start], c[..start]);
            assert_eq!(a[old_end..], c[new_end..]);
            assert!(start <= e1.0.min(e2.0));
        }
    }
}
