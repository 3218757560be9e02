//! `loopsafe check --add-noqa`: a `# noqa: LSxxx` on the line of every current finding, as ruff's
//! `--add-noqa` does, so that a codebase can adopt loopsafe today and burn the list down later.
//!
//! Which line: as ruff, the finding's first line, or, when that line ends inside a multi-line string
//! or with a backslash continuation, the line where that string or continuation ends
//! (`analysis::noqa::statement_line`, which the suppression reads too). The parse checks that a
//! comment can end that line; if not (a lexing corner the parse disagrees with), the finding's first
//! or last line, else none and a warning. Never inside a string.
//!
//! What: an existing `# noqa: A, B` gets the new codes merged in (sorted, no duplicates, whatever
//! follows the codes kept); a bare `# noqa` is left alone; any other line gets `  # noqa: CODES` at its
//! end (trailing spaces dropped). Line endings and a BOM are kept (the file is written by
//! `autofix::write`, atomically).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;

use tree_sitter::Node;

use crate::check::{Report, Source, read_source};
use crate::rules::Rule;

/// A file's text with the directives added.
#[derive(Debug, PartialEq, Eq)]
pub struct Added {
    pub text: String,
    /// Lines given a directive or new codes in one.
    pub lines: usize,
    /// The findings (byte ranges) no line could take a directive for.
    pub skipped: Vec<Range<usize>>,
}

/// A replacement of a byte range of the text.
pub type NoqaEdit = (Range<usize>, String);

/// Adds the directives for `findings` (byte range, rule code) to `text` (pure).
pub fn add(text: &str, findings: &[(Range<usize>, &str)]) -> Added {
    let tree = crate::syntax::parse(text, None);
    let (edits, skipped) = edits(text, tree.as_ref().map(|t| t.root_node()), findings);
    let mut out = String::with_capacity(text.len() + edits.len() * 16);
    let mut at = 0;
    for (range, new) in &edits {
        out.push_str(&text[at..range.start]);
        out.push_str(new);
        at = range.end;
    }
    out.push_str(&text[at..]);
    Added { text: out, lines: edits.len(), skipped }
}

/// The edits (sorted, one per line) that add the directives for `findings` to `text`, whose tree is
/// `root` (`None`: no parse, every line taken to hold a comment); and the findings no line could take
/// a directive for. The editor's "Add `# noqa`" quick fix is the same edit for one finding.
pub fn edits(
    text: &str,
    root: Option<Node<'_>>,
    findings: &[(Range<usize>, &str)],
) -> (Vec<NoqaEdit>, Vec<Range<usize>>) {
    let can_hold = |l: &Range<usize>| root.is_none_or(|r| can_hold_comment(text, r, l));
    // line start → (line content, codes)
    let mut lines: BTreeMap<usize, (Range<usize>, BTreeSet<String>)> = BTreeMap::new();
    let mut skipped = Vec::new();
    for (range, code) in findings {
        // ruff's line first; the parse has the last word on where strings end.
        // A string opened on the finding's line and never closed: no line is safe.
        let Some(ruff) = crate::analysis::noqa::statement_line(text, range.start) else {
            skipped.push(range.clone());
            continue;
        };
        let first = line_at(text, range.start);
        let last = line_at(text, range.end.saturating_sub(1).max(range.start));
        let Some(line) = [ruff, first, last].into_iter().find(|l| can_hold(l)) else {
            skipped.push(range.clone());
            continue;
        };
        lines.entry(line.start).or_insert_with(|| (line, BTreeSet::new())).1.insert(code.to_string());
    }
    let mut edits = Vec::with_capacity(lines.len());
    for (line, codes) in lines.into_values() {
        let comment = root.and_then(|r| comment_at_end(text, r, &line));
        let edit = match comment.and_then(|c| noqa_in(&text[c.clone()]).map(|n| (c, n))) {
            Some((_, Noqa::Bare)) => None,
            Some((c, Noqa::Codes { span, existing })) => {
                let mut all: BTreeSet<String> = existing.iter().cloned().collect();
                let before = all.len();
                all.extend(codes);
                (all.len() != before).then(|| {
                    let list = all.into_iter().collect::<Vec<_>>().join(", ");
                    let span = c.start + span.start..c.start + span.end;
                    let sep = if span.is_empty() && !text[span.end..line.end].trim().is_empty() { " " } else { "" };
                    (span, format!("{list}{sep}"))
                })
            }
            None => {
                let end = line.start + text[line.clone()].trim_end().len();
                let list = codes.into_iter().collect::<Vec<_>>().join(", ");
                Some((end..line.end, format!("  # noqa: {list}")))
            }
        };
        edits.extend(edit);
    }
    (edits, skipped)
}

/// The content (without its line break) of the line holding `offset`. `\n`, `\r\n` and `\r` end lines.
fn line_at(text: &str, offset: usize) -> Range<usize> {
    let offset = offset.min(text.len());
    let b = text.as_bytes();
    let start = b[..offset].iter().rposition(|&c| c == b'\n' || c == b'\r').map_or(0, |i| i + 1);
    let end = b[offset..].iter().position(|&c| c == b'\n' || c == b'\r').map_or(text.len(), |i| offset + i);
    // `offset` on the `\n` of a `\r\n`: the line before it.
    if start == offset && offset > 0 && b[offset - 1] == b'\r' && b.get(offset) == Some(&b'\n') {
        return line_at(text, offset - 1);
    }
    start..end
}

/// Whether a comment may end line `line`: its end is not inside a string, and it is not continued by a
/// backslash.
fn can_hold_comment(text: &str, root: Node<'_>, line: &Range<usize>) -> bool {
    if inside(root, line.end, "string") {
        return false;
    }
    let content = text[line.clone()].trim_end();
    !content.ends_with('\\') || inside(root, line.start + content.len() - 1, "comment")
}

/// Whether byte `at` is strictly inside a node of kind `kind` (walking down from the root).
fn inside(root: Node<'_>, at: usize, kind: &str) -> bool {
    let mut node = root;
    loop {
        if node.kind() == kind
            && node.start_byte() <= at
            && at < node.end_byte()
            && (kind != "string" || node.start_byte() < at)
        {
            return true;
        }
        match node.first_child_for_byte(at) {
            Some(c) if c.start_byte() <= at => node = c,
            _ => return false,
        }
    }
}

/// The comment that ends `line`, if any.
fn comment_at_end(text: &str, root: Node<'_>, line: &Range<usize>) -> Option<Range<usize>> {
    let trimmed = text[line.clone()].trim_end().len();
    if trimmed == 0 {
        return None;
    }
    let last = line.start + trimmed - 1;
    let node = root.descendant_for_byte_range(last, last + 1)?;
    (node.kind() == "comment").then(|| node.start_byte()..node.end_byte().min(line.end))
}

#[derive(Debug, PartialEq, Eq)]
enum Noqa {
    Bare,
    /// `# noqa: A, B`: where the codes are in the comment, and them.
    Codes {
        span: Range<usize>,
        existing: Vec<String>,
    },
}

/// The `# noqa` directive in a comment's text (which may hold other `#` comments before it).
fn noqa_in(comment: &str) -> Option<Noqa> {
    let mut from = 0;
    while let Some(i) = comment[from..].find('#') {
        let hash = from + i;
        from = hash + 1;
        let rest = &comment[from..];
        let word = rest.trim_start();
        if !word.get(..4).is_some_and(|w| w.eq_ignore_ascii_case("noqa")) {
            continue;
        }
        let after = &word[4..];
        let Some(codes) = after.trim_start().strip_prefix(':') else { return Some(Noqa::Bare) };
        let start = comment.len() - codes.len() + (codes.len() - codes.trim_start().len());
        let mut end = start;
        let mut existing = Vec::new();
        let mut pos = start;
        loop {
            let tail = &comment[pos..];
            let skip = tail.len() - tail.trim_start_matches(|c: char| c == ',' || c.is_whitespace()).len();
            let word_at = pos + if existing.is_empty() { 0 } else { skip };
            let word: String = comment[word_at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            if word.is_empty() || !is_code(&word) {
                break;
            }
            existing.push(word.clone());
            end = word_at + word.len();
            pos = end;
        }
        if existing.is_empty() && comment[start..].trim().is_empty() {
            // `# noqa:` with nothing after it suppresses everything, as a bare `# noqa` does.
            return Some(Noqa::Bare);
        }
        return Some(Noqa::Codes { span: start..end, existing });
    }
    None
}

/// A code (`LS101`, `ASYNC210`, `E501`) or a loopsafe rule name.
fn is_code(word: &str) -> bool {
    let letters = word.chars().take_while(char::is_ascii_alphabetic).count();
    (letters > 0 && letters < word.len() && word[letters..].chars().all(|c| c.is_ascii_digit()))
        || Rule::from_name_or_code(word).is_some()
}

/// Adds the directives for every finding of `report` to its files (each written atomically, as
/// `--fix` writes). Returns the number of directives added or extended; what could not be done is in
/// `warnings`, and a file that could not be written is an error.
pub fn run(report: &Report, warnings: &mut Vec<String>) -> Result<usize, String> {
    let mut by_file: BTreeMap<&str, Vec<(Range<usize>, &str)>> = BTreeMap::new();
    for d in &report.diagnostics {
        by_file.entry(d.path.as_str()).or_default().push((d.finding.range.clone(), d.finding.rule.info().code));
    }
    let mut fixes = Vec::new();
    for (path, findings) in by_file {
        let Source::Text { text } = read_source(Path::new(path)) else { continue };
        let hash = crate::cache::content_hash(&text);
        if report.hashes.get(path).is_some_and(|h| *h != hash) {
            warnings.push(format!("{path}: changed on disk while loopsafe was running; no noqa added"));
            continue;
        }
        let added = add(&text, &findings);
        let idx = crate::line_index::LineIndex::new(&text);
        for r in &added.skipped {
            let lc = idx.line_col(&text, r.start, crate::line_index::ColumnUnit::Chars);
            warnings.push(format!(
                "{path}:{}:{}: no `# noqa` added: the finding's lines end inside a multi-line string or a line continuation",
                lc.line + 1,
                lc.col + 1
            ));
        }
        if added.lines > 0 {
            let fixed = crate::fix::FixedText { text: added.text, applied: added.lines, titles: Vec::new() };
            fixes.push(crate::autofix::FileFix { path: path.to_string(), original: text, fixed, hash, group: None });
        }
    }
    let written = crate::autofix::write(&fixes, warnings);
    if let Some(signal) = written.interrupted {
        warnings.push("interrupted: the files not written yet are unchanged".to_string());
        crate::atomic_write::reraise(signal);
    }
    if !written.errors.is_empty() {
        return Err(written.errors.join("; "));
    }
    Ok(written.fixes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn added(text: &str, findings: &[(&str, &str)]) -> String {
        let f: Vec<(Range<usize>, &str)> = findings
            .iter()
            .map(|(needle, code)| {
                let at = text.find(needle).unwrap();
                (at..at + needle.len(), *code)
            })
            .collect();
        add(text, &f).text
    }

    #[test]
    fn merges_with_existing_directives_and_leaves_a_bare_one() {
        assert_eq!(added("f()   \n", &[("f()", "LS102")]), "f()  # noqa: LS102\n");
        assert_eq!(added("f()  # noqa: LS101\n", &[("f()", "LS102")]), "f()  # noqa: LS101, LS102\n");
        assert_eq!(
            added("f()  # NOQA:LS104,ASYNC210 why\n", &[("f()", "LS101")]),
            "f()  # NOQA:ASYNC210, LS101, LS104 why\n"
        );
        assert_eq!(added("f()  # noqa\n", &[("f()", "LS102")]), "f()  # noqa\n");
        assert_eq!(added("f()  # type: ignore\n", &[("f()", "LS102")]), "f()  # type: ignore  # noqa: LS102\n");
        assert_eq!(
            added("f(); g()\r\n", &[("f()", "LS102"), ("g()", "LS101"), ("f()", "LS102")]),
            "f(); g()  # noqa: LS101, LS102\r\n"
        );
        assert_eq!(added("f()  # noqa: why\n", &[("f()", "LS102")]), "f()  # noqa: LS102 why\n");
    }

    #[test]
    fn never_inside_a_string_or_after_a_continuation() {
        // The call spans the string: its last line takes the directive.
        let text = "x = f(\"\"\"a\nb\"\"\")\n";
        assert_eq!(added(text, &[("f(\"\"\"a\nb\"\"\")", "LS101")]), "x = f(\"\"\"a\nb\"\"\")  # noqa: LS101\n");
        // Only the name is the finding: the line where the string ends, as ruff does.
        assert_eq!(add(text, &[(4..5, "LS101")]).text, "x = f(\"\"\"a\nb\"\"\")  # noqa: LS101\n");
        let cont = "y = f() + \\\n    1\n";
        assert_eq!(add(cont, &[(4..7, "LS101")]).text, "y = f() + \\\n    1  # noqa: LS101\n");
        // A file whose string never ends: no line can take it.
        let open = "y = f('''\n";
        let a = add(open, &[(4..5, "LS101")]);
        assert_eq!((a.text.as_str(), a.lines, a.skipped), (open, 0, std::iter::once(4..5).collect::<Vec<_>>()));
        // A backslash in a comment is no continuation.
        assert_eq!(added("f()  # a \\\n", &[("f()", "LS1")]), "f()  # a \\  # noqa: LS1\n");
    }
}
