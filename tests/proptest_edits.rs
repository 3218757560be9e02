//! Property test of the language server's document pipeline: random Python-like sources (defs, async
//! defs, classes, blocking calls, awaits, blocks, comments, non-ASCII strings and emoji, CRLF and lone
//! CR line endings, tabs, broken fragments) receive random `didChange` notifications, with one or
//! several content changes each (multi-cursor edits, applied in order as the LSP specification says),
//! whose positions count UTF-16 units, bytes or characters. After every notification:
//!
//! - the document's text and rope equal the text computed independently here (a `String` edited at
//!   offsets this file derives from the positions, without the server's code);
//! - the document's syntax tree equals a fresh parse of that text, node by node;
//! - its analysis (findings and summary) and its facts equal a fresh analysis of that text.
//!
//! The document is driven as `lsp::did_change` drives it: `Document::apply`, then the comment-only path
//! (`shift`, `Facts::moved`), the one-edit path (`reanalyze_edit`) or a reparse and a whole-file
//! analysis. Failing cases are shrunk by proptest and their seeds kept in
//! `tests/proptest-regressions/proptest_edits.txt`, which is replayed first on every run.
//!
//! The seed is fixed (so `cargo test` is deterministic) and printed; `PROPTEST_RNG_SEED=<u64>` explores
//! other cases and `PROPTEST_CASES=<n>` runs more of them.

mod common;

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;

use loopsafe::analysis::facts::Facts;
use loopsafe::analysis::{NotLocal, analyze_tree, analyze_with_broken, reanalyze_edit};
use loopsafe::catalog::Catalog;
use loopsafe::lsp::document::{Applied, Document, Encoding};
use loopsafe::settings::Settings;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, RngSeed, TestCaseError, TestRunner};
use tower_lsp_server::ls_types::{Position, Range, TextDocumentContentChangeEvent};
use tree_sitter::{Point, Tree};

/// Lines that open a block (`{n}` is replaced by a name, `{w}` by a word, some of them wide: emoji,
/// CJK, combining marks); a line break inside one stays at the block's indentation.
const OPENERS: &[&str] = &[
    "def {n}(x, *args, y=1, **kw):",
    "async def {n}():",
    "async def {n}(request):",
    "@app.get('/{w}')\nasync def {n}(q: str = Depends(dep)):",
    "@functools.cache\ndef {n}():",
    "class {n}:",
    "class {n}(Base, metaclass=M):",
    // Headers that read module-level names (a default, an annotation, a return annotation, a decorator):
    // an import that binds one of them is checked with the function (`analysis::reading_units`).
    "def {n}(self, s=session, t: requests.Session = None) -> requests.Session:",
    "@session.hook\ndef {n}():",
    "with open('{w}') as fh:",
    "async with {n}() as s:",
    "for {n} in range(3):",
    "async for {n} in aiter():",
    "if {n}:",
    "while True:",
];

/// Simple statements, comments and strings.
const SIMPLE: &[&str] = &[
    "import requests",
    "import time, asyncio",
    "from os import path as {n}",
    "requests.get('{w}')",
    "time.sleep(1)",
    "return requests.get(url)",
    "data = open('{w}').read()",
    "{n} = requests.Session()",
    "self.{n} = requests.Session()",
    "{n}.get(u)",
    "await asyncio.sleep(0)",
    "await {n}()",
    "return await {n}(x)",
    "{n}()",
    "x = {n}(lambda: time.sleep(1))",
    "pass",
    "return",
    "yield {n}",
    "global {n}",
    "# {w}",
    "time.sleep(2)  # noqa: LS101",
    "s = '{w}'",
    "s = f'{{{n}}} {w}'",
    "\"\"\"{w}\"\"\"",
    "x = [\n{n}(1),\n]",
    "",
];

/// Broken fragments.
const BROKEN: &[&str] = &["{n}(", ")", "x", "def", "'{w}", "\"\"\"", "\\", "lambda", "await", "else:", "  {n}()"];

const NAMES: &[&str] = &["f", "g", "route", "client", "Inner", "session", "helper", "é", "日本"];
const WORDS: &[&str] = &["u", "😀", "日本語", "e\u{301}", "𝔘𝔫𝔦", "tab\there", "x y", "\u{200d}", "ß"];

/// What edits insert: characters that open and close syntax, whole statements, line breaks of every
/// kind, wide characters.
const INSERTS: &[&str] = &[
    "",
    "x",
    " ",
    "\t",
    "(",
    ")",
    ":",
    "\n",
    "\r\n",
    "\r",
    "\n    ",
    "\r\n    ",
    "\n\t",
    "'",
    "\"\"\"",
    "#",
    "# noqa",
    "1",
    ".",
    ",",
    "\\",
    "time.sleep(1)",
    "requests.get(u)",
    "\n    requests.get(url)",
    "\n        s = requests.Session()\n        s.get(u)",
    "\n    self.client = requests.Session()",
    "\n    global client\n    client = requests.Session()",
    "lambda: time.sleep(1)",
    "await ",
    "async ",
    "\n    yield 1",
    "\n    def inner():\n        return open('f').read()\n    inner()",
    "\nasync def h():\n    time.sleep(1)\n",
    "\nclass C:\n    def m(self):\n        time.sleep(1)\n",
    "\nimport requests\n",
    // Module-level definitions typed or pasted (`Facts::splice_module_region`): a header without a body,
    // a decorated one, a class with a statement of its own.
    "\ndef g(x):",
    "def ",
    "\n@functools.cache\ndef g():\n    return open('f').read()\n",
    "\nclass K(Base):\n    x = time.sleep(1)\n",
    // Module-level imports through their broken states (`Facts::splice_module_statement`): an open `(`
    // over lines, an alias not yet typed, a relative import, a star import (whole file), half a keyword.
    "\nfrom concurrent.futures import (ThreadPoolExecutor,\n    wait",
    "\nimport time as",
    "\nfrom . import session\n",
    "\nfrom time import *\n",
    "\nfrom os imp",
    "\nimport session\n",
    "\nfrom requests import Session as session",
    "😀",
    "日本",
    "e\u{301}",
    "𝔘",
];

#[derive(Clone, Copy, Debug)]
enum Eol {
    Lf,
    Crlf,
    /// Each line its own: `\n`, `\r\n` or a lone `\r`.
    Mixed,
}

/// One line of a source: what it is (an index into its table) and a name, a word, a line ending.
#[derive(Clone, Copy, Debug)]
enum Line {
    Open(usize),
    Simple(usize),
    /// Leave this many blocks.
    Dedent(u8),
    /// A broken fragment, at the current indentation or at column 0.
    Broken(usize, bool),
}

/// A source, before it is written out (kept structured so that shrinking removes whole lines and what
/// remains stays indented as valid Python, bar the broken fragments).
#[derive(Clone)]
struct Source {
    lines: Vec<(Line, u8, u8, u8)>,
    /// Whether the broken fragments are written (else the source is valid Python).
    broken: bool,
    eol: Eol,
    indent: &'static str,
}

impl Source {
    fn text(&self) -> String {
        let mut out = String::new();
        let mut depth = 0usize;
        let mut needs_body = false;
        let mut k = 0usize;
        let mut push = |out: &mut String, depth: usize, template: &str, n: u8, w: u8, eol: u8| {
            let text = template
                .replace("{n}", NAMES[n as usize % NAMES.len()])
                .replace("{w}", WORDS[w as usize % WORDS.len()]);
            for line in text.split('\n') {
                for _ in 0..depth {
                    out.push_str(self.indent);
                }
                out.push_str(line);
                k += 1;
                out.push_str(match (self.eol, (eol as usize + k) % 7) {
                    (Eol::Lf, _) | (Eol::Mixed, 0..=3) => "\n",
                    (Eol::Crlf, _) | (Eol::Mixed, 4..=5) => "\r\n",
                    (Eol::Mixed, _) => "\r",
                });
            }
        };
        for &(line, n, w, eol) in &self.lines {
            match line {
                Line::Open(i) => {
                    push(&mut out, depth, OPENERS[i], n, w, eol);
                    depth += 1;
                    needs_body = true;
                }
                Line::Simple(i) => {
                    push(&mut out, depth, SIMPLE[i], n, w, eol);
                    needs_body = false;
                }
                Line::Dedent(d) if !needs_body => depth = depth.saturating_sub(d as usize),
                Line::Dedent(_) => {}
                Line::Broken(..) if !self.broken => {}
                Line::Broken(i, col0) => push(&mut out, if col0 { 0 } else { depth }, BROKEN[i], n, w, eol),
            }
        }
        if needs_body {
            push(&mut out, depth, "pass", 0, 0, 0);
        }
        out
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.text())
    }
}

/// One content change, in selectors that are resolved against the text it applies to (so that a
/// shrunk case still makes valid positions).
#[derive(Clone, Debug)]
enum Change {
    /// A range from (line, character) over `lines` more lines to a character there; characters past
    /// the end of a line stand for the end of the line, as the specification says.
    Range { line: u16, col: u16, lines: u8, end_col: u16, text: String },
    /// Typing on: an insertion where the previous change of the case ended.
    Continue(String),
    /// A statement (from `SIMPLE`, one line) inserted before the code of a line, at its indentation.
    Statement { line: u16, statement: u8, name: u8 },
    /// Letters typed after the `col`-th identifier character of a line (inside or after a name).
    Word { line: u16, col: u16, text: String },
    /// Words typed inside the comment of a line, if it has one.
    Comment { line: u16, text: String },
    /// The previous change of the case undone (as an editor's undo sends it: the inverse change).
    Undo,
    /// The whole document.
    Full(String),
}

#[derive(Clone, Debug)]
struct Case {
    source: Source,
    encoding: Encoding,
    /// One `didChange` each.
    notifications: Vec<Vec<Change>>,
}

fn source() -> impl Strategy<Value = Source> {
    let line = prop_oneof![
        // Functions (the first five openers) most.
        3 => (0..5usize).prop_map(Line::Open),
        1 => (0..OPENERS.len()).prop_map(Line::Open),
        8 => (0..SIMPLE.len()).prop_map(Line::Simple),
        1 => (1u8..3).prop_map(Line::Dedent),
        1 => (0..BROKEN.len(), prop::bool::weighted(0.3)).prop_map(|(i, col0)| Line::Broken(i, col0)),
    ];
    let line = (line, any::<u8>(), any::<u8>(), any::<u8>());
    let eol = prop_oneof![4 => Just(Eol::Lf), 2 => Just(Eol::Crlf), 1 => Just(Eol::Mixed)];
    let indent = prop_oneof![6 => Just("    "), 1 => Just("\t"), 1 => Just("  ")];
    (prop::collection::vec(line, 0..40), prop::bool::weighted(0.2), eol, indent)
        .prop_map(|(lines, broken, eol, indent)| Source { lines, broken, eol, indent })
}

fn inserted() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(INSERTS).prop_map(str::to_string),
        1 => "[a-z():\\n\\r\\t '\"#😀é\\\\]{0,6}",
    ]
}

fn change() -> impl Strategy<Value = Change> {
    let range = (any::<u16>(), any::<u16>(), prop_oneof![6 => Just(0u8), 2 => Just(1u8), 1 => 2u8..5], any::<u16>());
    prop_oneof![
        // Typing: an insertion.
        8 => (any::<u16>(), any::<u16>(), inserted())
            .prop_map(|(line, col, text)| Change::Range { line, col, lines: 0, end_col: col, text }),
        // Deleting or replacing a range.
        5 => (range, prop_oneof![Just(String::new()), inserted()]).prop_map(|((line, col, lines, end_col), text)| {
            Change::Range { line, col, lines, end_col, text }
        }),
        12 => inserted().prop_map(Change::Continue),
        8 => (any::<u16>(), any::<u8>(), any::<u8>())
            .prop_map(|(line, statement, name)| Change::Statement { line, statement, name }),
        8 => (any::<u16>(), any::<u16>(), "[a-z_0-9]{1,3}").prop_map(|(line, col, text)| Change::Word { line, col, text }),
        4 => (any::<u16>(), "[a-z 😀é:]{1,4}").prop_map(|(line, text)| Change::Comment { line, text }),
        8 => Just(Change::Undo),
        1 => source().prop_map(|s| Change::Full(s.text())),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    let notification =
        prop_oneof![6 => prop::collection::vec(change(), 1..=1), 1 => prop::collection::vec(change(), 2..5)];
    let encoding = prop_oneof![Just(Encoding::Utf16), Just(Encoding::Utf8), Just(Encoding::Utf32)];
    (source(), encoding, prop::collection::vec(notification, 1..10))
        .prop_map(|(source, encoding, notifications)| Case { source, encoding, notifications })
}

/// The byte offset where each line starts. Lines end at `\n`, `\r\n` or a lone `\r` (the
/// specification's line endings).
fn line_starts(text: &str) -> Vec<usize> {
    let b = text.as_bytes();
    let mut starts = vec![0];
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\n' => starts.push(i + 1),
            b'\r' if b.get(i + 1) == Some(&b'\n') => {
                starts.push(i + 2);
                i += 1;
            }
            b'\r' => starts.push(i + 1),
            _ => {}
        }
        i += 1;
    }
    starts
}

/// A line's content, without its line ending.
fn line_text<'a>(text: &'a str, starts: &[usize], line: usize) -> (usize, &'a str) {
    let end = starts.get(line + 1).copied().unwrap_or(text.len());
    let s = &text[starts[line]..end];
    (starts[line], s.trim_end_matches(['\n', '\r']))
}

fn units(c: char, enc: Encoding) -> u32 {
    match enc {
        Encoding::Utf8 => c.len_utf8() as u32,
        Encoding::Utf16 => c.len_utf16() as u32,
        Encoding::Utf32 => 1,
    }
}

/// A position on a character boundary of `line` (or past its end), chosen by `col`; and its byte
/// offset, computed here without the server's code.
fn resolve(text: &str, starts: &[usize], line: u16, col: u16, enc: Encoding) -> (Position, usize) {
    let line = line as usize % starts.len();
    let (start, content) = line_text(text, starts, line);
    let chars = content.chars().count();
    let k = col as usize % (chars + 3);
    let mut character = 0;
    let mut offset = start;
    for c in content.chars().take(k) {
        character += units(c, enc);
        offset += c.len_utf8();
    }
    // Past the end of the line: clamped to it.
    character += k.saturating_sub(chars) as u32;
    (Position::new(line as u32, character), offset)
}

/// The position of a byte offset, computed here without the server's code.
fn position_of(text: &str, offset: usize, enc: Encoding) -> Position {
    let starts = line_starts(text);
    let line = starts.partition_point(|&s| s <= offset) - 1;
    let character = text[starts[line]..offset].chars().map(|c| units(c, enc)).sum();
    Position::new(line as u32, character)
}

/// What the previous change did, to continue typing after it or undo it.
#[derive(Default)]
struct Last {
    /// Where the inserted text starts and ends.
    at: Option<(usize, usize)>,
    /// The text it replaced.
    removed: String,
}

/// The byte offset of the `k`-th character of `line` (clamped to its end), and its position.
fn at_char(text: &str, starts: &[usize], line: usize, k: usize, enc: Encoding) -> (Position, usize) {
    let (start, content) = line_text(text, starts, line);
    let mut character = 0;
    let mut offset = start;
    for c in content.chars().take(k) {
        character += units(c, enc);
        offset += c.len_utf8();
    }
    (Position::new(line as u32, character), offset)
}

/// Applies one change to the expected text and returns the LSP event for it, or `None` when the
/// change does not apply to this text (a comment on a line without one, an undo with nothing to undo).
fn apply_expected(
    text: &mut String,
    change: &Change,
    enc: Encoding,
    last: &mut Last,
) -> Option<TextDocumentContentChangeEvent> {
    let starts = line_starts(text);
    let line_of = |l: u16| l as usize % starts.len();
    let (start, s, end, e, new) = match change {
        Change::Full(new) => {
            *text = new.clone();
            *last = Last::default();
            return Some(TextDocumentContentChangeEvent { range: None, range_length: None, text: new.clone() });
        }
        Change::Continue(new) => {
            let at =
                last.at.map(|(_, end)| end).filter(|&at| at <= text.len() && text.is_char_boundary(at)).unwrap_or(0);
            // Never between the `\r` and the `\n` of a line break (no position names that point).
            let at = if text[..at].ends_with('\r') && text[at..].starts_with('\n') { at - 1 } else { at };
            let p = position_of(text, at, enc);
            (p, at, p, at, new.clone())
        }
        Change::Undo => {
            let (s, e) = last.at.take()?;
            // No position names the point between the `\r` and the `\n` of a line break.
            let splits = |at: usize| text[..at].ends_with('\r') && text[at..].starts_with('\n');
            if splits(s) || splits(e) {
                return None;
            }
            let new = std::mem::take(&mut last.removed);
            (position_of(text, s, enc), s, position_of(text, e, enc), e, new)
        }
        Change::Statement { line, statement, name } => {
            let line = line_of(*line);
            let (_, content) = line_text(text, &starts, line);
            let indent = &content[..content.len() - content.trim_start_matches([' ', '\t']).len()];
            let template = SIMPLE[*statement as usize % SIMPLE.len()];
            if template.contains('\n') {
                return None;
            }
            let eol = match text.as_bytes().get(starts.get(line + 1).copied().unwrap_or(0).wrapping_sub(2)) {
                Some(b'\r') => "\r\n",
                _ => "\n",
            };
            let stmt = template.replace("{n}", NAMES[*name as usize % NAMES.len()]).replace("{w}", "u");
            let (p, at) = at_char(text, &starts, line, indent.chars().count(), enc);
            (p, at, p, at, format!("{stmt}{eol}{indent}"))
        }
        Change::Word { line, col, text: new } => {
            let line = line_of(*line);
            let (_, content) = line_text(text, &starts, line);
            let word: Vec<usize> = content
                .chars()
                .enumerate()
                .filter(|(_, c)| c.is_alphanumeric() || *c == '_')
                .map(|(i, _)| i + 1)
                .collect();
            let k = if word.is_empty() { 0 } else { word[*col as usize % word.len()] };
            let (p, at) = at_char(text, &starts, line, k, enc);
            (p, at, p, at, new.clone())
        }
        Change::Comment { line, text: new } => {
            let line = line_of(*line);
            let (_, content) = line_text(text, &starts, line);
            let hash = content.char_indices().position(|(_, c)| c == '#')?;
            let (p, at) = at_char(text, &starts, line, hash + 1, enc);
            (p, at, p, at, new.clone())
        }
        Change::Range { line, col, lines, end_col, text: new } => {
            let (a, a_off) = resolve(text, &starts, *line, *col, enc);
            let end_line = (a.line as usize + *lines as usize).min(starts.len() - 1) as u16;
            let (b, b_off) = if *lines == 0 && end_col == col {
                (a, a_off)
            } else {
                resolve(text, &starts, end_line, *end_col, enc)
            };
            let ((start, s), (end, e)) =
                if b_off < a_off { ((b, b_off), (a, a_off)) } else { ((a, a_off), (b, b_off)) };
            (start, s, end, e, new.clone())
        }
    };
    last.removed = text[s..e].to_string();
    text.replace_range(s..e, &new);
    last.at = Some((s, s + new.len()));
    Some(TextDocumentContentChangeEvent { range: Some(Range { start, end }), range_length: None, text: new })
}

/// Every node of a tree, in order: kind, flags, bytes and points.
fn nodes(tree: &Tree) -> Vec<(String, bool, bool, std::ops::Range<usize>, Point, Point)> {
    let mut out = Vec::new();
    loopsafe::syntax::walk_preorder(tree.root_node(), |n| {
        out.push((
            n.kind().to_string(),
            n.is_error(),
            n.is_missing(),
            n.byte_range(),
            n.start_position(),
            n.end_position(),
        ));
        true
    });
    out
}

/// Which way each notification went through the pipeline.
#[derive(Default)]
struct Paths {
    cases: Cell<usize>,
    notifications: Cell<usize>,
    trivia: Cell<usize>,
    local: Cell<usize>,
    whole: Cell<usize>,
    /// One edit the one-edit path declined: outside a function body, or a syntax error there.
    outside: Cell<usize>,
    syntax: Cell<usize>,
    /// Notifications to a document whose last parse had no syntax error.
    clean: Cell<usize>,
    /// Notifications after which a function analysed alone had syntax errors (compared with
    /// `analyze_with_broken`).
    broken: Cell<usize>,
    /// The path of the last notification.
    last: Cell<&'static str>,
}

fn bump(c: &Cell<usize>) {
    c.set(c.get() + 1);
}

fn open(text: String, catalog: &Catalog, settings: &Settings) -> Document {
    let mut d = Document::new(text, 1);
    if let Some(tree) = &d.tree {
        let (facts, analysis) = analyze_tree(&d.text, tree, catalog, settings);
        d.facts = Some(facts);
        d.analysed_now(Arc::new(analysis));
    }
    d
}

/// What `did_change` does with a document (server/src/lsp/handlers/did_change.rs), without the index and the client.
fn did_change(
    d: &mut Document,
    changes: &[TextDocumentContentChangeEvent],
    enc: Encoding,
    catalog: &Catalog,
    settings: &Settings,
    paths: &Paths,
) {
    // As `lsp::did_change`: the changes apply to the analysed version, the version moves after.
    let applied = d.apply(changes, enc);
    d.version += 1;
    match applied {
        Applied::Edit(edit) => {
            if let Some(mut facts) = d.facts.take() {
                let result = reanalyze_edit(&mut facts, &d.analysis, &d.text, &edit, catalog, settings);
                d.facts = Some(facts);
                match result {
                    Ok(a) => {
                        d.analysed_now(Arc::new(a));
                        bump(&paths.local);
                        paths.last.set("analysed alone");
                        return;
                    }
                    Err(NotLocal::Outside) => bump(&paths.outside),
                    Err(NotLocal::Syntax) => bump(&paths.syntax),
                }
            }
            d.reparse();
        }
        Applied::Trivia(edits) => {
            d.moved_by(&edits);
            bump(&paths.trivia);
            paths.last.set("comment only");
            return;
        }
        Applied::Whole => {}
    }
    bump(&paths.whole);
    paths.last.set("whole file");
    d.reparse();
    match &d.tree {
        Some(tree) => {
            let (facts, analysis) = analyze_tree(&d.text, tree, catalog, settings);
            d.facts = Some(facts);
            d.analysed_now(Arc::new(analysis));
        }
        None => {
            d.facts = Some(Facts::default());
            d.analysed_now(Arc::default());
        }
    }
}

fn check(case: &Case, paths: &Paths) -> Result<(), TestCaseError> {
    let catalog = Catalog::bundled();
    let settings = Settings::default();
    let mut expected = case.source.text();
    let mut doc = open(expected.clone(), catalog, &settings);
    let mut last = Last::default();
    bump(&paths.cases);
    for (i, notification) in case.notifications.iter().enumerate() {
        let before = expected.clone();
        let clean_before = doc.clean;
        if clean_before {
            bump(&paths.clean);
        }
        let events: Vec<_> =
            notification.iter().filter_map(|c| apply_expected(&mut expected, c, case.encoding, &mut last)).collect();
        if events.is_empty() {
            continue;
        }
        did_change(&mut doc, &events, case.encoding, catalog, &settings, paths);
        bump(&paths.notifications);
        let fresh = loopsafe::syntax::parse(&expected, None).ok_or_else(|| TestCaseError::fail("no parse"))?;
        let at = || {
            format!(
                "notification {i} ({:?}, {}, syntax errors before: {}, after: {}) {events:?}\n--- before:\n{before:?}\n--- after:\n{expected:?}",
                case.encoding,
                paths.last.get(),
                !clean_before,
                fresh.root_node().has_error()
            )
        };
        prop_assert_eq!(&doc.text, &expected, "text, {}", at());
        prop_assert_eq!(doc.rope.to_string(), expected.clone(), "rope, {}", at());

        let tree = doc.current_tree().ok_or_else(|| TestCaseError::fail(format!("no tree, {}", at())))?;
        if nodes(&tree) != nodes(&fresh) {
            return Err(TestCaseError::fail(format!(
                "tree differs, {}\n--- document's tree:\n{}\n--- fresh parse:\n{}",
                at(),
                tree.root_node().to_sexp(),
                fresh.root_node().to_sexp()
            )));
        }
        // While a function analysed alone has syntax errors, the rest of the file keeps the facts of its
        // last parse without them: the reference is then `analyze_with_broken` (each such function from
        // its own parse, the rest as if those functions had bodies without errors), else a fresh analysis.
        let broken = doc.facts.as_ref().map(|f| f.broken.clone()).unwrap_or_default();
        let statement = doc.facts.as_ref().and_then(|f| f.broken_statement.clone());
        let (facts, analysis) = if broken.is_empty() && statement.is_none() {
            analyze_tree(&expected, &fresh, catalog, &settings)
        } else {
            bump(&paths.broken);
            analyze_with_broken(&expected, &broken, statement.clone(), catalog, &settings).ok_or_else(|| {
                TestCaseError::fail(format!(
                    "broken functions {broken:?}, statements {statement:?} cannot be placed, {}",
                    at()
                ))
            })?
        };
        prop_assert_eq!(&*doc.analysis, &analysis, "analysis, {}", at());
        let (got, want) =
            (doc.facts.as_ref().map(common::normalized_facts).unwrap_or_default(), common::normalized_facts(&facts));
        if got != want {
            let diff: Vec<String> = got
                .lines()
                .zip(want.lines())
                .filter(|(a, b)| a != b)
                .take(4)
                .map(|(a, b)| format!("document: {a}\nfresh:    {b}"))
                .collect();
            return Err(TestCaseError::fail(format!("facts differ, {}\n{}", at(), diff.join("\n"))));
        }
    }
    Ok(())
}

const SEED: u64 = 0x100b_5afe;
const CASES: u32 = 3000;

#[test]
fn random_edits_match_a_fresh_analysis() {
    let seed = std::env::var("PROPTEST_RNG_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(SEED);
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(CASES);
    let config = Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/proptest-regressions/proptest_edits.txt"
        )))),
        // Shrinking is bounded: a failure is reported within minutes, shrunk as far as it got.
        max_shrink_time: 120_000,
        ..Config::default()
    };
    eprintln!("proptest_edits: seed {seed} (PROPTEST_RNG_SEED), {cases} cases (PROPTEST_CASES)");
    let paths = Paths::default();
    let mut runner = TestRunner::new(config);
    let result = runner.run(&case(), |case| check(&case, &paths));
    eprintln!(
        "proptest_edits: {} cases run, {} notifications ({} to a document without syntax errors): {} comment-only, {} analysed alone ({} leaving a function with syntax errors), {} whole file ({} edits outside a function body, {} with a syntax error there)",
        paths.cases.get(),
        paths.notifications.get(),
        paths.clean.get(),
        paths.trivia.get(),
        paths.local.get(),
        paths.broken.get(),
        paths.whole.get(),
        paths.outside.get(),
        paths.syntax.get()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

fn range(line: u16, col: u16, lines: u8, end_col: u16, text: &str) -> Change {
    Change::Range { line, col, lines, end_col, text: text.into() }
}

fn regression(encoding: Encoding, notifications: Vec<Vec<Change>>) {
    let case = Case {
        source: Source { lines: Vec::new(), broken: false, eol: Eol::Lf, indent: "    " },
        encoding,
        notifications,
    };
    if let Err(e) = check(&case, &Paths::default()) {
        panic!("{e}");
    }
}

/// Found by this test: after a lone `\r` (a line break for LSP and the rope, not for tree-sitter), the
/// tree was edited with the rope's rows, so its points no longer matched the text's.
#[test]
fn an_edit_after_a_lone_carriage_return_keeps_the_tree_points() {
    regression(
        Encoding::Utf16,
        vec![vec![range(0, 0, 0, 0, "#😀"), range(0, 1, 0, 1, "\r")], vec![range(1, 0, 0, 0, "")]],
    );
}

/// Found by this test: a comment typed before the only statement of a nested class's body.
#[test]
fn a_comment_that_empties_a_nested_body() {
    let text = "import requests\r\nimport requests\r\n@app.get('/u')\r\nasync def f(q: str = Depends(dep)):\r\n    import requests\r\n    @app.get('/u')\r\n    async def f(q: str = Depends(dep)):\r\n        import requests\r\n        import requests\r\n        import requests\r\n        import requests\r\n        def f(x, *args, y=1, **kw):\r\n            def f(x, *args, y=1, **kw):\r\n                def f(x, *args, y=1, **kw):\r\n                    def f(x, *args, y=1, **kw):\r\n                        def f(x, *args, y=1, **kw):\r\n                            class f:\r\n                                import requests\r\n                                import requests\r\n                                import requests\r\n                                class f:\r\n                                    pass\r\n";
    regression(Encoding::Utf16, vec![vec![Change::Full(text.into())], vec![range(21, 4, 0, 4, "#")]]);
}

/// Found by this test: a document with a syntax error, reparsed incrementally from its previous tree
/// (which had errors too), got a tree that differs from a fresh parse's (tree-sitter's error recovery
/// reuses the old error nodes), so the editor's findings differed from `loopsafe check`'s.
#[test]
fn a_reparse_after_a_syntax_error_equals_a_fresh_parse() {
    let mut text = String::from("import requests\ndef é(x, *args, y=1, **kw):\n");
    for _ in 0..15 {
        text.push_str("import requests\n");
    }
    regression(
        Encoding::Utf16,
        vec![
            vec![Change::Full(text)],
            vec![range(38845, 39229, 0, 46630, "\"\"\""), range(0, 2418, 0, 2418, " ")],
            vec![range(2, 0, 0, 0, "\\")],
        ],
    );
}

/// Found by this test (seed 11): an edit from inside a statement to the end of the next line, which
/// removes a class header, was analysed as an edit of that one statement (`Facts::splice_statement`),
/// so the functions that were in the class kept its name in their qualified names (`f.f.f.f.f.日本.f`
/// where a fresh analysis says `f.f.f.f.f.f`): the statement's "old" extent was read from the previous
/// parse after `Tree::edit`, which stretches it over everything the edit replaced. It is now read
/// before the edit (`StatementBefore`) and must hold all the replaced bytes.
#[test]
fn an_edit_that_removes_a_class_header_renames_its_methods() {
    let mut text = "import requests\n".repeat(6);
    text.push_str("@app.get('/u')\nasync def f(q: str = Depends(dep)):\n");
    let lines = [
        (1, "def f(x, *args, y=1, **kw):"),
        (2, "def f(x, *args, y=1, **kw):"),
        (3, "import requests"),
        (2, "import requests"),
        (2, "def f(x, *args, y=1, **kw):"),
        (3, "import requests"),
        (3, "import requests"),
        (3, "import requests"),
        (3, "x = ["),
        (3, "f(1),"),
        (3, "]"),
        (3, "def f(x, *args, y=1, **kw):"),
        (4, "import requests"),
        (4, "def f(x, *args, y=1, **kw):"),
        (5, "class 日本(Base, metaclass=M):"),
        (6, "def f(x, *args, y=1, **kw):"),
        (7, "def f(x, *args, y=1, **kw):"),
        (8, "def f(x, *args, y=1, **kw):"),
        (9, "def f(x, *args, y=1, **kw):"),
        (10, "requests.get('u')"),
        (10, "import requests"),
        (10, "def f(x, *args, y=1, **kw):"),
        (11, "import requests"),
    ];
    for (depth, line) in lines {
        text.push_str(&"    ".repeat(depth));
        text.push_str(line);
        text.push('\n');
    }
    regression(
        Encoding::Utf16,
        vec![
            vec![Change::Full(text)],
            vec![Change::Continue("\n".into()), Change::Undo],
            vec![Change::Undo],
            vec![
                Change::Statement { line: 14246, statement: 237, name: 0 },
                Change::Statement { line: 18972, statement: 0, name: 0 },
                Change::Word { line: 6429, col: 0, text: "_a0".into() },
            ],
            vec![Change::Continue("#".into())],
            vec![range(65404, 58629, 1, 64206, "lambda: time.sleep(1)")],
        ],
    );
}

/// Found by this test: a `\` typed after an import in a function made its parse alone hold the import in
/// an error node right under the `def`, whose facts went to the module's scope (the module's exports
/// changed while the rest of the file was not analysed again). Such a function is analysed with the
/// whole file.
#[test]
fn a_backslash_after_an_import_in_a_function() {
    let text = "from os import path as f\nfrom os import path as f\ndef f(x, *args, y=1, **kw):\n    import time, asyncio\n    def f(x, *args, y=1, **kw):\n        \n        import requests\n        import requests\n        def f(x, *args, y=1, **kw):\n            class f:\n                import requests\n";
    regression(Encoding::Utf16, vec![vec![Change::Full(text.into())], vec![range(3, 24, 0, 24, "\\ ")]]);
}

const TYPING_TEXT: &str = "import requests\nimport time\n\n\nclass Bot:\n    async def fetch(self, url):\n        data = None\n        time.sleep(1)\n        return data\n\n    def helper(self):\n        return requests.get('u')\n\n\nasync def main():\n    await Bot().fetch('x')\n";

/// What a person types (issue 13), as notifications after `TYPING_TEXT` is opened: each keystroke
/// must stay on the one-edit path (only the opening is a whole-file analysis), pass through more than
/// ten states with a syntax error, and leave the analysis equal to the reference after each one
/// (`analyze_with_broken` while a function is broken, a fresh analysis otherwise).
fn assert_typing_stays_local(keystrokes: Vec<Vec<Change>>) {
    let broken = assert_typing_in_stays_local(TYPING_TEXT, keystrokes);
    assert!(broken > 10, "states with a syntax error: {broken}");
}

/// `assert_typing_stays_local` on `text`, without the syntax errors: returns the number of states with one.
fn assert_typing_in_stays_local(text: &str, keystrokes: Vec<Vec<Change>>) -> usize {
    let mut notifications = vec![vec![Change::Full(text.into())]];
    notifications.extend(keystrokes);
    let n = notifications.len();
    let case = Case {
        source: Source { lines: Vec::new(), broken: false, eol: Eol::Lf, indent: "    " },
        encoding: Encoding::Utf16,
        notifications,
    };
    let paths = Paths::default();
    if let Err(e) = check(&case, &paths) {
        panic!("{e}");
    }
    assert_eq!((paths.whole.get(), paths.local.get()), (1, n - 1), "whole-file analyses");
    paths.broken.get()
}

/// A new line after `line` (of `len` UTF-16 units), `resp = requests.get(url, timeout=5)` typed on it
/// one character at a time at `indent`, erased one at a time, and the line removed.
fn type_and_erase_a_statement(out: &mut Vec<Vec<Change>>, line: u16, len: u16, indent: u16) {
    let typed = "resp = requests.get(url, timeout=5)";
    out.push(vec![range(line, len, 0, len, &format!("\n{}", " ".repeat(indent as usize)))]);
    for (i, ch) in typed.chars().enumerate() {
        out.push(vec![range(line + 1, indent + i as u16, 0, indent + i as u16, &ch.to_string())]);
    }
    for i in (0..typed.len() as u16).rev() {
        out.push(vec![range(line + 1, indent + i, 0, indent + i + 1, "")]);
    }
    out.push(vec![range(line, len, 1, indent, "")]);
}

/// Inside a function: a statement typed after `data = None` through its broken states (`resp =`,
/// `requests.`, an open `(`) and erased, `x` at column 0 of a body line, a 7-line block pasted and
/// deleted, a line deleted.
#[test]
fn typing_in_a_function_stays_local_through_syntax_errors() {
    let mut keys = Vec::new();
    type_and_erase_a_statement(&mut keys, 6, 19, 8);
    keys.push(vec![range(7, 0, 0, 0, "x")]);
    keys.push(vec![range(7, 0, 0, 1, "")]);
    let block = "        a = 1\n        b = requests.get(a)\n        if b:\n            c = b.json()\n        else:\n            c = None\n        print(c)\n";
    keys.push(vec![range(7, 0, 0, 0, block)]);
    keys.push(vec![range(7, 0, 7, 0, "")]);
    keys.push(vec![range(7, 0, 1, 0, "")]);
    assert_typing_stays_local(keys);
}

/// After a function's last line: a statement typed at the end of a method, of the last method of a
/// class (the class grows with it) and of the last function of the file; blank lines typed and deleted
/// between two methods and between a class and a function. Each keystroke is analysed with the
/// function it follows.
#[test]
fn typing_after_a_functions_last_line_stays_local() {
    let mut keys = Vec::new();
    // (the function's last line, its length, the body's indentation)
    for (line, len, indent) in [(8, 19, 8), (11, 32, 8), (15, 26, 4)] {
        type_and_erase_a_statement(&mut keys, line, len, indent);
    }
    for line in [9u16, 12] {
        keys.extend((0..3).map(|_| vec![range(line, 0, 0, 0, "\n")]));
        keys.extend((0..3).map(|_| vec![range(line, 0, 1, 0, "")]));
    }
    assert_typing_stays_local(keys);
}

/// Found by this test: a statement pasted at the start of a `def` line that follows a class's last
/// method (`\n    self.client = ...` before `async def f`) was analysed as typed after that method's last
/// line, while the rest of the line (`async def f():`) was code of its own: the function after it kept
/// its old facts. An edit after a function's last line stays local only when nothing follows it on its
/// line.
#[test]
fn a_statement_pasted_before_the_next_def_after_a_method() {
    regression(
        Encoding::Utf16,
        vec![
            vec![Change::Full(
                "\nclass C:\n    def m(self):\n        time.sleep(1)\nasync def f():\n    pass\n".into(),
            )],
            vec![range(4, 0, 0, 0, "\n    self.client = requests.Session()")],
        ],
    );
}

/// Found by this test (seed 7): a `#` typed inside a decorator (`@a#pp.get(...)`) makes the rest of the
/// line a comment inside the decorated definition, whose facts keep a copy of the decorator's text;
/// typing in that comment was moved as a comment-only edit, and the copy kept the old text. A comment
/// edit is comment-only now between statements only.
#[test]
fn typing_in_a_comment_inside_a_decorator() {
    let text = "def f(x, *args, y=1, **kw):\n    def f(x, *args, y=1, **kw):\n        @a#pp.get('/\u{200d}')\n        async def f(q: str = Depends(dep)):\n            def f(x, *args, y=1, **kw):\n                class f:\n                    @app.get('/u')\n                    async def f(q: str = Depends(dep)):\n                        pass\n";
    regression(Encoding::Utf16, vec![vec![Change::Full(text.into())], vec![range(2, 11, 0, 11, "x")]]);
}

/// Whitespace typed exactly where a `with` body, a function and a class end (spaces after the last
/// line, a line break, spaces and a line break at once) is no part of them: `Shift` keeps a range end in
/// place when only whitespace is inserted at it, so each keystroke stays on the one-edit path and the
/// facts (the `with` body's range, the function's and the class's ends) equal a fresh analysis.
#[test]
fn whitespace_typed_at_the_end_of_a_with_body_stays_local() {
    let text = "import requests\n\nwith requests.Session() as s:\n    def g():\n        return s.get('u')\n\n\nclass C:\n    def h(self):\n        return 1\n";
    // Line 4 (`        return s.get('u')`, 25 characters) ends `g` and the module-level with body
    // around it, which the edit of `g` does not extract again; line 9 (`        return 1`, 16) ends `h`
    // and the class.
    let mut keys = Vec::new();
    for (line, len) in [(4u16, 25u16), (9, 16)] {
        for i in 0..3 {
            keys.push(vec![range(line, len + i, 0, len + i, " ")]);
        }
        keys.push(vec![range(line, len, 0, len + 3, "")]);
        keys.push(vec![range(line, len, 0, len, "\n")]);
        keys.push(vec![range(line, len, 1, 0, "")]);
        keys.push(vec![range(line, len, 0, len, "  \n ")]);
        keys.push(vec![range(line, len, 1, 1, "")]);
    }
    assert_typing_in_stays_local(text, keys);
}
