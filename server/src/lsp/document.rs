//! An open document: its text as a rope (for positions) and as a string (for the analysis), its syntax
//! tree (edited and reparsed incrementally), and its latest analysis.

use std::sync::Arc;

use ropey::Rope;
use tower_lsp_server::ls_types::{Position, TextDocumentContentChangeEvent};
use tree_sitter::{InputEdit, Point, Tree};

use crate::analysis::FileAnalysis;
use crate::analysis::facts::Facts;
use crate::analysis::shift::LineEdit;

/// How LSP positions count columns (negotiated at `initialize`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf16,
    Utf32,
}

pub struct Document {
    pub version: i32,
    pub rope: Rope,
    pub text: String,
    /// The syntax tree. After an edit analysed on its own (`Applied::Edit`), or one left to a whole-file
    /// analysis, it is edited but not reparsed (`stale`): its nodes outside the edited part are right,
    /// those inside are not. `None` before the first parse (a large document is parsed off the async
    /// thread) and after the whole text was replaced.
    pub tree: Option<Tree>,
    pub stale: bool,
    /// `tree` is a parse of the text with brackets nested too deep blanked (`analysis::parse_document`):
    /// it is not reused by the next parse, and the analysis is of the blanked text.
    pub blanked: bool,
    /// The last full parse had no syntax errors: an edit inside a function may then be analysed by
    /// parsing that function alone.
    pub clean: bool,
    /// The facts of the text `analysed` describes, for analysing an edit on its own: `None` before the
    /// first analysis, after one panicked, and whenever the edits since `analysed` are not one `pending`
    /// edit (a whole-file analysis is then due).
    pub facts: Option<Facts>,
    /// The latest complete analysis, of the text `analysed` describes (not necessarily the current
    /// one, while a whole-file analysis runs off the async thread).
    pub analysis: Arc<FileAnalysis>,
    /// The version and the text (a rope, cheap to clone) that `analysis` describes; `None` before the
    /// first analysis.
    pub analysed: Option<(i32, Rope)>,
    /// What was last computed for the client from `analysis` (diagnostics in LSP positions): hovers and
    /// pull requests are answered from it.
    pub published: Option<Arc<Published>>,
    /// The whole-file analysis running off the async thread, if any (see `lsp::scheduler`).
    pub job: Option<Arc<Job>>,
    /// Analyse again when the running job ends, even at the same version (the settings changed).
    pub rerun: bool,
    /// The tree edits applied since the running job took its snapshot, to bring the tree it parsed up
    /// to the current text; `None` when they cannot (the whole text was replaced).
    pub edits: Option<Vec<InputEdit>>,
    /// The version whose analysis panicked (the document keeps its last good analysis).
    pub failed: Option<i32>,
    /// The edits applied since `analysed`, merged into one (bytes of the analysed text, columns of both
    /// texts), not analysed yet: a `didChange` with a later one for the same document already queued
    /// leaves its analysis to that one (`handlers::did_change`), and requests bring the analysis up to
    /// date first (`Backend::catch_up`). `None` when the analysis is of the current text, or when the
    /// edits are left to a whole-file analysis (`facts` is then `None`).
    pub pending: Option<LineEdit>,
    /// `text` has a lone `\r` (see `point`): kept, so that an edit does not scan the whole text for one.
    lone_cr: bool,
}

/// A whole-file analysis of one version of a document, running on a blocking thread.
#[derive(Debug)]
pub struct Job {
    pub version: i32,
    /// Set when the job is superseded (a newer version arrived, the settings changed, the document
    /// closed): it gives up at its next step.
    pub cancel: std::sync::atomic::AtomicBool,
}

/// The diagnostics of one analysed version of a document, as last computed for the client (pushed, or
/// ready to be pulled).
#[derive(Debug)]
pub struct Published {
    pub version: i32,
    /// The text of that version, for positions.
    pub rope: Rope,
    /// The analysis they were computed from.
    pub analysis: Arc<FileAnalysis>,
    /// In document order.
    pub diagnostics: Vec<tower_lsp_server::ls_types::Diagnostic>,
    /// Each diagnostic's route and advice (what a hover shows and the diagnostic's `data` does not carry).
    pub extras: Vec<(Option<String>, Option<String>)>,
    /// The sync functions that block, for hovers on their names: the byte range of the name, the
    /// qualified name and the chain down to the blocking call (Markdown).
    pub blocking: Vec<(std::ops::Range<usize>, String, String)>,
}

impl Document {
    /// A document that is not parsed yet (see `reparse`).
    pub fn new(text: String, version: i32) -> Document {
        Document {
            version,
            lone_cr: has_lone_cr(&text),
            rope: Rope::from_str(&text),
            text,
            tree: None,
            stale: true,
            blanked: false,
            clean: false,
            facts: None,
            analysis: Arc::default(),
            analysed: None,
            published: None,
            job: None,
            rerun: false,
            edits: None,
            failed: None,
            pending: None,
        }
    }

    /// A syntax tree of the current text (reparsed when `stale`, as `reparse` would, without changing the
    /// document).
    pub fn current_tree(&self) -> Option<Tree> {
        match (&self.tree, self.stale) {
            (Some(t), true) => {
                crate::analysis::parse_document(&self.text, Some(t).filter(|_| self.clean && !self.blanked)).0
            }
            (t, _) => t.clone(),
        }
    }

    /// Whether `analysis` (and `facts`, when present) describe the current text, with nothing pending.
    pub fn current(&self) -> bool {
        self.analysed.as_ref().is_some_and(|(v, _)| *v == self.version) && self.job.is_none() && !self.rerun
    }

    /// The text already analysed is being analysed again (the settings changed): its published
    /// diagnostics are about to be replaced.
    pub fn reanalysing(&self) -> bool {
        let analysed_now = self.analysed.as_ref().is_some_and(|(v, _)| *v == self.version);
        analysed_now && (self.rerun || self.job.as_ref().is_some_and(|j| j.version == self.version))
    }

    /// Records the analysis of the current text.
    pub fn analysed_now(&mut self, analysis: Arc<FileAnalysis>) {
        self.analysis = analysis;
        self.analysed = Some((self.version, self.rope.clone()));
        self.failed = None;
        self.pending = None;
    }

    /// Moves the analysis (and the facts) by edits typed inside comments (`Applied::Trivia`): the
    /// analysis of the new text, without a reparse or a re-analysis.
    pub fn moved_by(&mut self, edits: &[LineEdit]) {
        let mut moved = (*self.analysis).clone();
        for e in edits {
            crate::analysis::shift::shift(&mut moved, e);
            if let Some(facts) = self.facts.as_mut() {
                facts.moved(e.old_end, e.new_end);
            }
        }
        self.analysed_now(Arc::new(moved));
    }

    /// Whether the analysis lags behind the text with nothing running to catch up: edits left
    /// `pending`, or a whole-file analysis deferred (`handlers::did_change`). A version whose analysis
    /// panicked is not retried.
    pub fn lagging(&self) -> bool {
        self.job.is_none()
            && self.analysed.as_ref().is_some_and(|(v, _)| *v != self.version)
            && self.failed != Some(self.version)
    }

    /// Reparses the edited tree (incrementally), when the last edits were analysed without it. A tree
    /// with syntax errors is not reused: tree-sitter's error recovery, starting from the old error
    /// nodes, may then give another tree than a fresh parse (and other findings than `loopsafe check`).
    pub fn reparse(&mut self) {
        if self.stale || self.tree.is_none() {
            let old = self.tree.as_ref().filter(|_| self.clean && !self.blanked);
            (self.tree, self.blanked) = crate::analysis::parse_document(&self.text, old);
            self.clean = self.tree.as_ref().is_some_and(|t| !t.root_node().has_error());
            self.stale = false;
        }
    }

    /// Applies content changes in order: each range edit goes to the rope, the text and, as an
    /// `InputEdit`, to the tree. When every change was typed inside a comment (see `is_trivia_edit`), the
    /// edited tree is already the tree of the new text and the analysis only moves: the returned
    /// `Applied::Trivia` says how. Other edits are merged with those `pending` since the last analysis
    /// into one (`shift::merged`: the union of their ranges, its line and column moves computed from the
    /// analysed text and the current one), returned as `Applied::Edit` for the caller to analyse it alone
    /// (the edit is also kept as `pending` until then). Otherwise (`Applied::Whole`: the whole text was
    /// replaced, the analysis lags behind a whole-file analysis, or the merged edit spans more than
    /// `MERGED_SPAN`) the whole file must be parsed again (incrementally, from the edited tree) and
    /// analysed, which the caller does off the async thread: this function never parses. Trivia needs
    /// the current analysis (`current`), an edit an analysis with its facts and no job; the tree is left
    /// edited and `stale`, except after trivia.
    pub fn apply(&mut self, changes: &[TextDocumentContentChangeEvent], enc: Encoding) -> Applied {
        let current = self.current();
        let mut trivia = current.then(Vec::new);
        let mut last = None;
        // The edits since the analysis, as one byte range (`shift::merged`): from the pending edit, or
        // from nothing when the analysis is of the text before these changes.
        let mut mergeable = self.job.is_none()
            && !self.rerun
            && self.facts.is_some()
            && self.analysed.is_some()
            && (current || self.pending.is_some());
        let mut merged = self.pending.filter(|_| !current).map(|e| (e.start, e.old_end, e.new_end));
        // tree-sitter counts rows at `\n` only: points differ from the rope's lines after a lone `\r`.
        let mut lone_cr = self.lone_cr;
        for change in changes {
            match change.range {
                None => {
                    self.rope = Rope::from_str(&change.text);
                    self.text = change.text.clone();
                    self.tree = None;
                    lone_cr = has_lone_cr(&self.text);
                    self.edits = None;
                    trivia = None;
                    last = None;
                    mergeable = false;
                }
                Some(range) => {
                    let start = offset(&self.rope, range.start, enc);
                    let end = offset(&self.rope, range.end, enc).max(start);
                    if trivia.is_some() && !self.is_trivia_edit(start, end, &change.text) {
                        trivia = None;
                    }
                    let start_point = point(&self.rope, start, lone_cr);
                    let old_end_point = point(&self.rope, end, lone_cr);
                    let before = self.columns(end);
                    let blank = self.text[start..end].bytes().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
                    let (sc, ec) = (self.rope.byte_to_char(start), self.rope.byte_to_char(end));
                    self.rope.remove(sc..ec);
                    self.rope.insert(sc, &change.text);
                    // `offset` returns character boundaries, so this cannot split a character.
                    self.text.replace_range(start..end, &change.text);
                    let new_end = start + change.text.len();
                    // A lone `\r` comes from the new text, or from a `\r\n` whose `\n` was removed.
                    if lone_cr || change.text.contains('\r') || self.text[..start].ends_with('\r') {
                        lone_cr = has_lone_cr(&self.text);
                    }
                    let edit = line_edit((start, end, new_end), before, self.columns(new_end), blank);
                    if let Some(edits) = trivia.as_mut() {
                        edits.push(edit);
                    }
                    last = Some(edit);
                    let this = (start, end, new_end);
                    merged = Some(merged.map_or(this, |m| crate::analysis::shift::merged(m, this)));
                    let input = InputEdit {
                        start_byte: start,
                        old_end_byte: end,
                        new_end_byte: new_end,
                        start_position: start_point,
                        old_end_position: old_end_point,
                        new_end_position: point(&self.rope, new_end, lone_cr),
                    };
                    if let Some(tree) = &mut self.tree {
                        tree.edit(&input);
                    }
                    if let Some(log) = self.edits.as_mut().filter(|_| self.job.is_some()) {
                        log.push(input);
                    }
                }
            }
        }
        self.lone_cr = lone_cr;
        if let (Some(edits), true) = (trivia, self.tree.is_some()) {
            return Applied::Trivia(edits);
        }
        self.stale = true;
        let local = mergeable && self.tree.is_some() && self.clean;
        let edit = match (merged, last) {
            // One edit on the analysed text: as it was computed.
            (Some(_), Some(edit)) if local && current && changes.len() == 1 => Some(edit),
            (Some(m), _) if local && m.1 - m.0 <= MERGED_SPAN && m.2 - m.0 <= MERGED_SPAN => self.since_analysis(m),
            _ => None,
        };
        self.pending = edit;
        match edit {
            Some(edit) => Applied::Edit(edit),
            None => {
                self.facts = None;
                Applied::Whole
            }
        }
    }

    /// The `LineEdit` that turns the analysed text into the current one, replacing bytes
    /// `start..old_end` of the first by `start..new_end` of the second (`m`): line and columns of
    /// `old_end` in the analysed rope, of `new_end` in the current one.
    fn since_analysis(&self, (start, old_end, new_end): (usize, usize, usize)) -> Option<LineEdit> {
        let (_, old) = self.analysed.as_ref()?;
        if old_end > old.len_bytes() || new_end > self.rope.len_bytes() {
            return None;
        }
        let blank = old.byte_slice(start..old_end).bytes().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
        Some(line_edit((start, old_end, new_end), columns(old, old_end), columns(&self.rope, new_end), blank))
    }

    /// The line of `offset` and its column there in characters, UTF-16 units and bytes.
    fn columns(&self, offset: usize) -> (usize, i64, i64, i64) {
        columns(&self.rope, offset)
    }

    /// Whether replacing `start..end` by `new` (not yet applied) only changes the inside of a comment,
    /// so that the syntax tree keeps its shape and the analysis its meaning: the edit is after the `#`
    /// of a comment, adds or removes no line break, and neither the old nor the new comment is a
    /// `# noqa` (which the analysis reads). A tree with syntax errors never qualifies: tree-sitter's
    /// error recovery weighs the length of what it skips, so a longer comment may change it.
    fn is_trivia_edit(&self, start: usize, end: usize, new: &str) -> bool {
        let Some(tree) = self.tree.as_ref().filter(|_| !self.stale) else { return false };
        let root = tree.root_node();
        let Some(old) = self.text.get(start..end) else { return false };
        let breaks = |s: &str| s.bytes().any(|b| matches!(b, b'\n' | b'\r' | 0));
        if root.has_error() || breaks(old) || breaks(new) {
            return false;
        }
        // From the byte before the edit: an insertion at the end of a comment touches the comment only
        // on its left, and tree-sitter finds nodes that extend past the start of a range.
        let Some(node) = start.checked_sub(1).and_then(|b| root.descendant_for_byte_range(b, end)) else {
            return false;
        };
        if node.kind() != "comment" || start <= node.start_byte() || end > node.end_byte() {
            return false;
        }
        // A comment between statements only (in a block, or before a body's first statement): inside an
        // expression or a decorator, the facts may hold a copy of the text around it (a decorator's text
        // spans `@a#pp.get()`), which moving cannot update.
        if node.parent().is_some_and(|p| {
            let k = p.kind();
            !(matches!(k, "module" | "block" | "function_definition" | "class_definition")
                || (k.ends_with("_statement") && k != "expression_statement")
                || k.ends_with("_clause"))
        }) {
            return false;
        }
        let Some(before) = self.text.get(node.byte_range()) else { return false };
        let after = format!("{}{new}{}", &self.text[node.start_byte()..start], &self.text[end..node.end_byte()]);
        let noqa = |s: &str| s.to_ascii_lowercase().contains("noqa");
        !noqa(before) && !noqa(&after)
    }
}

/// The most bytes a merged edit (`Document::pending` and what a `didChange` of several changes adds)
/// may span, in the old text or the new, to be analysed on its own: beyond, a whole-file analysis off
/// the async thread. (A single edit on the analysed text is not bounded here: the analysis of an edit
/// decides whether it is local.)
pub const MERGED_SPAN: usize = 8 * 1024;

/// The edit replacing bytes `start..old_end` by `start..new_end`, from the line and columns of `old_end`
/// before it (`before`, see `columns`) and of `new_end` after it (`after`).
fn line_edit(
    (start, old_end, new_end): (usize, usize, usize),
    before: (usize, i64, i64, i64),
    after: (usize, i64, i64, i64),
    blank: bool,
) -> LineEdit {
    LineEdit {
        start,
        old_end,
        new_end,
        line: before.0 as u32,
        lines: after.0 as i64 - before.0 as i64,
        chars: after.1 - before.1,
        utf16: after.2 - before.2,
        utf8: after.3 - before.3,
        blank,
    }
}

/// The line of `offset` in `rope` and its column there in characters, UTF-16 units and bytes.
fn columns(rope: &Rope, offset: usize) -> (usize, i64, i64, i64) {
    let line = rope.byte_to_line(offset);
    let prefix = rope.byte_slice(rope.line_to_byte(line)..offset);
    (line, prefix.len_chars() as i64, prefix.len_utf16_cu() as i64, prefix.len_bytes() as i64)
}

/// What `Document::apply` did to the tree.
#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    /// Only comments changed: the tree was edited but not reparsed, and the analysis moves by these
    /// edits, in order.
    Trivia(Vec<LineEdit>),
    /// One edit in code (or several, merged with those pending since the last analysis): the tree was
    /// edited but not reparsed (`stale`). The caller analyses the edit alone (`analysis::reanalyze_edit`),
    /// leaves it pending, or analyses the whole file.
    Edit(LineEdit),
    /// The tree was edited, not reparsed: the whole file must be parsed and analysed again.
    Whole,
}

/// The byte offset of an LSP position. A line past the end is the end of the text; a character past
/// the end of its line is the end of the line (as the specification says).
pub fn offset(rope: &Rope, pos: Position, enc: Encoding) -> usize {
    let line = pos.line as usize;
    if line >= rope.len_lines() {
        return rope.len_bytes();
    }
    let line_start = rope.line_to_byte(line);
    let mut units = 0usize;
    let mut bytes = 0usize;
    for ch in rope.line(line).chars() {
        if ch == '\n' || ch == '\r' || units >= pos.character as usize {
            break;
        }
        units += match enc {
            Encoding::Utf8 => ch.len_utf8(),
            Encoding::Utf16 => ch.len_utf16(),
            Encoding::Utf32 => 1,
        };
        bytes += ch.len_utf8();
    }
    line_start + bytes
}

/// The LSP position of a byte offset.
pub fn position(rope: &Rope, offset: usize, enc: Encoding) -> Position {
    let mut offset = offset.min(rope.len_bytes());
    // Round down to a character boundary.
    while offset > 0 && rope.try_byte_to_char(offset).is_ok_and(|c| rope.char_to_byte(c) != offset) {
        offset -= 1;
    }
    let line = rope.byte_to_line(offset);
    let line_start = rope.line_to_byte(line);
    let prefix = rope.byte_slice(line_start..offset);
    let character: usize = match enc {
        Encoding::Utf8 => prefix.len_bytes(),
        Encoding::Utf16 => prefix.len_utf16_cu(),
        Encoding::Utf32 => prefix.len_chars(),
    };
    Position { line: line as u32, character: character as u32 }
}

/// tree-sitter's point of a byte offset: the rope's line and column, unless the text has a lone `\r`
/// (`lone_cr`): that is a line break for LSP and the rope, but tree-sitter counts rows at `\n` only.
fn point(rope: &Rope, offset: usize, lone_cr: bool) -> Point {
    if !lone_cr {
        let row = rope.byte_to_line(offset);
        return Point { row, column: offset - rope.line_to_byte(row) };
    }
    let (mut row, mut row_start, mut at) = (0, 0, 0);
    for chunk in rope.byte_slice(..offset).chunks() {
        for (i, _) in chunk.match_indices('\n') {
            row += 1;
            row_start = at + i + 1;
        }
        at += chunk.len();
    }
    Point { row, column: offset - row_start }
}

/// Whether `text` has a `\r` not followed by `\n`.
fn has_lone_cr(text: &str) -> bool {
    let bytes = text.as_bytes();
    text.match_indices('\r').any(|(i, _)| bytes.get(i + 1) != Some(&b'\n'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_lsp_server::ls_types::Range;

    fn change(sl: u32, sc: u32, el: u32, ec: u32, text: &str) -> TextDocumentContentChangeEvent {
        TextDocumentContentChangeEvent {
            range: Some(Range { start: Position::new(sl, sc), end: Position::new(el, ec) }),
            range_length: None,
            text: text.into(),
        }
    }

    #[test]
    fn edits_after_wide_characters_in_both_encodings() {
        // "😀" is 2 UTF-16 units and 4 bytes; "日" is 1 UTF-16 unit and 3 bytes.
        let src = "x = '😀日'; y = 1\r\nz = 2\n";
        for (enc, col) in [(Encoding::Utf16, 15), (Encoding::Utf8, 19), (Encoding::Utf32, 14)] {
            let mut d = Document::new(src.to_string(), 1);
            d.reparse();
            assert_eq!(d.apply(&[change(0, col, 0, col + 1, "42")], enc), Applied::Whole);
            d.reparse();
            assert_eq!(d.text, "x = '😀日'; y = 42\r\nz = 2\n", "{enc:?}");
            assert_eq!(
                d.tree.as_ref().unwrap().root_node().to_sexp(),
                crate::syntax::parse(&d.text, None).unwrap().root_node().to_sexp()
            );
            let z = d.text.find('z').unwrap();
            assert_eq!(position(&d.rope, z, enc), Position::new(1, 0));
        }
    }

    /// Every node of both trees, in order: kind, bytes and points.
    fn nodes(tree: &Tree) -> Vec<(String, std::ops::Range<usize>, Point, Point)> {
        let mut out = Vec::new();
        crate::syntax::walk_preorder(tree.root_node(), |n| {
            out.push((n.kind().to_string(), n.byte_range(), n.start_position(), n.end_position()));
            true
        });
        out
    }

    const SRC: &str = "import time, requests\n\nasync def route():\n    # wait a bit 😀\n    time.sleep(1)  # then more\n    return requests.get('u')\n\ndef helper():\n    # ascii\n    return requests.get('v')\n";

    #[test]
    fn typing_in_a_comment_moves_the_analysis_without_a_reparse() {
        let catalog = crate::catalog::Catalog::bundled();
        let settings = crate::settings::Settings::default();
        let analyse =
            |d: &Document| crate::analysis::analyze_file(&d.text, d.tree.as_ref().unwrap(), catalog, &settings, true);
        for enc in [Encoding::Utf16, Encoding::Utf8] {
            let mut d = Document::new(SRC.to_string(), 1);
            d.reparse();
            let a = std::sync::Arc::new(analyse(&d));
            d.analysed_now(a);
            assert!(!d.analysis.findings.is_empty() && !d.analysis.summary.functions.is_empty());
            // Insert wide characters, then delete some, in one comment and in a trailing one (the columns are
            // in the ASCII part of the line, so the same in both encodings).
            let batches: Vec<Vec<TextDocumentContentChangeEvent>> = vec![
                vec![change(3, 10, 3, 10, "日😀x")],
                vec![change(3, 6, 3, 10, ""), change(4, 20, 4, 20, " é")],
                vec![change(3, 5, 3, 5, "…")],
                // At the end of a comment, as when typing.
                vec![change(8, 11, 8, 11, "!")],
                vec![change(8, 11, 8, 12, "")],
            ];
            for changes in batches {
                let Applied::Trivia(edits) = d.apply(&changes, enc) else { panic!("not trivia: {changes:?}") };
                let mut moved = (*d.analysis).clone();
                for e in &edits {
                    crate::analysis::shift::shift(&mut moved, e);
                }
                let fresh = crate::syntax::parse(&d.text, None).unwrap();
                assert_eq!(nodes(d.tree.as_ref().unwrap()), nodes(&fresh), "{enc:?} {}", d.text);
                assert_eq!(moved, analyse(&d), "{enc:?} {}", d.text);
                d.analysis = std::sync::Arc::new(moved);
            }
        }
    }

    #[test]
    fn edits_that_may_change_meaning_reparse() {
        for (change_, why) in [
            (change(3, 4, 3, 5, ""), "removes the #"),
            (change(3, 8, 3, 8, "\n"), "adds a line break"),
            (change(3, 8, 3, 8, "noqa"), "writes a noqa"),
            (change(4, 4, 4, 5, "T"), "edits code"),
            (change(3, 4, 4, 0, ""), "spans lines"),
        ] {
            let mut d = Document::new(SRC.to_string(), 1);
            d.reparse();
            d.analysed_now(Default::default());
            assert_eq!(d.apply(&[change_], Encoding::Utf16), Applied::Whole, "{why}");
            d.reparse();
            let fresh = crate::syntax::parse(&d.text, None).unwrap();
            assert_eq!(nodes(d.tree.as_ref().unwrap()), nodes(&fresh), "{why}");
        }
        // A noqa comment: editing it changes what it suppresses.
        let mut d = Document::new("x = 1  # noqa: LS101\n".to_string(), 1);
        d.reparse();
        d.analysed_now(Default::default());
        assert_eq!(d.apply(&[change(0, 15, 0, 20, "")], Encoding::Utf16), Applied::Whole);
        // Code with a syntax error: recovery may change with the comment's length.
        let mut d = Document::new("def f(:\n    # c\n".to_string(), 1);
        d.reparse();
        d.analysed_now(Default::default());
        assert_eq!(d.apply(&[change(1, 7, 1, 7, "x")], Encoding::Utf16), Applied::Whole);
        // Without a current analysis, even a comment edit is left to a whole-file analysis.
        let mut d = Document::new(SRC.to_string(), 1);
        d.reparse();
        assert_eq!(d.apply(&[change(3, 10, 3, 10, "x")], Encoding::Utf16), Applied::Whole);
    }

    /// As `loopsafe check` does, a document blanks brackets nested deeper than `MAX_BRACKETS` before
    /// parsing (50,000 levels would hold tree-sitter for minutes), and a tree of blanked text is never
    /// the base of an incremental parse.
    #[test]
    fn deep_brackets_are_blanked_in_documents_too() {
        let catalog = crate::catalog::Catalog::bundled();
        let settings = crate::settings::Settings::default();
        let n = crate::analysis::MAX_BRACKETS + 30_000;
        let deep = format!("import time\nx = {}1{}\nasync def f():\n    time.sleep(1)\n", "(".repeat(n), ")".repeat(n));
        let mut d = Document::new(deep.clone(), 1);
        d.reparse();
        assert!(d.blanked);
        let tree = d.tree.clone().unwrap();
        let (_, a) = crate::analysis::analyze_document(&d.text, &tree, d.blanked, catalog, &settings);
        assert_eq!(a, crate::analysis::analyze_source_file(&deep, catalog, &settings, true));
        assert!(a.cuts.iter().any(|c| c.message.contains("brackets")), "{:?}", a.cuts);
        assert_eq!(a.findings.len(), 1, "the call after the deep brackets is analysed");
        // An edit that keeps them deep: still blanked; the current tree too.
        d.analysed_now(Arc::new(a));
        assert_eq!(d.apply(&[change(0, 0, 0, 0, "#")], Encoding::Utf16), Applied::Whole);
        assert!(d.current_tree().is_some());
        d.reparse();
        assert!(d.blanked);
        // The deep line deleted: the blanked tree is not the base of the next parse.
        d.apply(&[change(1, 0, 2, 0, "")], Encoding::Utf16);
        d.reparse();
        assert!(!d.blanked);
        assert_eq!(nodes(d.tree.as_ref().unwrap()), nodes(&crate::syntax::parse(&d.text, None).unwrap()));
        // Replaced by normal text: parsed as usual, incrementally afterwards.
        let mut d2 = Document::new(deep, 1);
        d2.reparse();
        d2.apply(
            &[TextDocumentContentChangeEvent { range: None, range_length: None, text: SRC.into() }],
            Encoding::Utf16,
        );
        d2.reparse();
        assert!(!d2.blanked);
        assert_eq!(nodes(d2.tree.as_ref().unwrap()), nodes(&crate::syntax::parse(SRC, None).unwrap()));
    }

    #[test]
    fn positions_past_the_end_clamp() {
        let rope = Rope::from_str("ab\ncd");
        assert_eq!(offset(&rope, Position::new(0, 99), Encoding::Utf16), 2);
        assert_eq!(offset(&rope, Position::new(9, 0), Encoding::Utf16), 5);
        // A lone \r breaks lines too.
        let rope = Rope::from_str("a\rb");
        assert_eq!(offset(&rope, Position::new(1, 0), Encoding::Utf16), 2);
    }
}
