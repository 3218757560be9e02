//! Parsing and the compiled syntax query. The `.scm` files in `queries/python/` are compiled into one
//! query, once per process; each capture the analysis reads is looked up here by name.

use std::cell::RefCell;
use std::sync::OnceLock;

use tree_sitter::{Language, Node, Parser, Query, Tree};

/// The query files, in the order they are concatenated.
pub const QUERY_FILES: &[(&str, &str)] = &[
    ("definitions.scm", include_str!(concat!(env!("LOOPSAFE_QUERIES"), "/python/definitions.scm"))),
    ("calls.scm", include_str!(concat!(env!("LOOPSAFE_QUERIES"), "/python/calls.scm"))),
    ("imports.scm", include_str!(concat!(env!("LOOPSAFE_QUERIES"), "/python/imports.scm"))),
    ("bindings.scm", include_str!(concat!(env!("LOOPSAFE_QUERIES"), "/python/bindings.scm"))),
];

pub fn language() -> Language {
    tree_sitter_python::LANGUAGE.into()
}

/// Capture indices of the syntax query, by role.
#[derive(Debug)]
pub struct Captures {
    pub def: u32,
    pub def_async: u32,
    pub def_name: u32,
    pub def_params: u32,
    pub def_returns: u32,
    pub def_body: u32,
    pub lambda: u32,
    pub lambda_body: u32,
    pub class: u32,
    pub class_name: u32,
    pub class_bases: u32,
    pub class_body: u32,
    pub decorator: u32,
    pub decorated: u32,
    pub await_: u32,
    pub yield_: u32,
    pub call: u32,
    pub attribute: u32,
    pub import: u32,
    pub import_name: u32,
    pub import_alias: u32,
    pub from: u32,
    pub from_module: u32,
    pub from_name: u32,
    pub from_alias: u32,
    pub from_star: u32,
    pub assign: u32,
    pub assign_target: u32,
    pub assign_type: u32,
    pub assign_value: u32,
    pub with: u32,
    pub with_value: u32,
    pub with_target: u32,
    pub enter: u32,
    pub enter_async: u32,
    pub enter_value: u32,
    pub unknown_target: u32,
    pub global_name: u32,
    pub param_list: u32,
    pub param_name: u32,
    pub param_type: u32,
}

pub struct Queries {
    pub facts: Query,
    pub captures: Captures,
}

/// Compiles the bundled queries. An error names the file and position; the test suite makes sure the
/// bundled files compile, so the binary treats an error here as a build defect.
pub fn compile(files: &[(&str, &str)]) -> Result<Queries, String> {
    let lang = language();
    let mut source = String::new();
    for (name, text) in files {
        // Compile each file alone first so that an error points at the right file.
        Query::new(&lang, text)
            .map_err(|e| format!("queries/python/{name}:{}:{}: {}", e.row + 1, e.column + 1, e.message))?;
        source.push_str(text);
        source.push('\n');
    }
    let facts = Query::new(&lang, &source).map_err(|e| format!("combined query: {e}"))?;
    let idx = |name: &str| {
        facts.capture_index_for_name(name).ok_or_else(|| format!("the syntax queries have no capture `@{name}`"))
    };
    let captures = Captures {
        def: idx("def")?,
        def_async: idx("def.async")?,
        def_name: idx("def.name")?,
        def_params: idx("def.params")?,
        def_returns: idx("def.returns")?,
        def_body: idx("def.body")?,
        lambda: idx("lambda")?,
        lambda_body: idx("lambda.body")?,
        class: idx("class")?,
        class_name: idx("class.name")?,
        class_bases: idx("class.bases")?,
        class_body: idx("class.body")?,
        decorator: idx("decorator")?,
        decorated: idx("decorated")?,
        await_: idx("await")?,
        yield_: idx("yield")?,
        call: idx("call")?,
        attribute: idx("attribute")?,
        import: idx("import")?,
        import_name: idx("import.name")?,
        import_alias: idx("import.alias")?,
        from: idx("from")?,
        from_module: idx("from.module")?,
        from_name: idx("from.name")?,
        from_alias: idx("from.alias")?,
        from_star: idx("from.star")?,
        assign: idx("assign")?,
        assign_target: idx("assign.target")?,
        assign_type: idx("assign.type")?,
        assign_value: idx("assign.value")?,
        with: idx("with")?,
        with_value: idx("with.value")?,
        with_target: idx("with.target")?,
        enter: idx("enter")?,
        enter_async: idx("enter.async")?,
        enter_value: idx("enter.value")?,
        unknown_target: idx("unknown.target")?,
        global_name: idx("global.name")?,
        param_list: idx("param.list")?,
        param_name: idx("param.name")?,
        param_type: idx("param.type")?,
    };
    Ok(Queries { facts, captures })
}

pub fn queries() -> &'static Queries {
    static QUERIES: OnceLock<Queries> = OnceLock::new();
    QUERIES.get_or_init(|| compile(QUERY_FILES).unwrap_or_else(|e| panic!("the bundled queries are invalid: {e}")))
}

fn parser() -> Parser {
    let mut p = Parser::new();
    p.set_language(&language()).expect("tree-sitter-python is compatible with tree-sitter");
    p
}

thread_local! {
    static PARSER: RefCell<Parser> = RefCell::new(parser());
    /// For parsing part of a text (`parse_range`); kept apart so that `PARSER` never has ranges set.
    static RANGE_PARSER: RefCell<Parser> = RefCell::new(parser());
}

/// What tree-sitter reads in place of `text`: the text itself, or a copy with every NUL byte replaced by
/// a space. tree-sitter takes a NUL for the end of the input, so one NUL (in a string, say) would leave
/// the rest of the file unparsed and unanalysed. The copy has the same length, so every byte offset (and
/// every point) of the tree is an offset into `text`; a space is one byte and valid UTF-8 wherever it
/// lands. (CPython refuses source with NUL bytes outside strings; the analysis reads on.)
fn without_nul(text: &str) -> std::borrow::Cow<'_, [u8]> {
    let bytes = text.as_bytes();
    if bytes.contains(&0) {
        std::borrow::Cow::Owned(bytes.iter().map(|&b| if b == 0 { b' ' } else { b }).collect())
    } else {
        std::borrow::Cow::Borrowed(bytes)
    }
}

/// Parses Python source, reusing `old` (already edited) for an incremental parse. Tree-sitter never
/// fails on bad syntax (it yields ERROR nodes); `None` is only possible if parsing was cancelled.
/// NUL bytes do not end the parse (see `without_nul`).
pub fn parse(text: &str, old: Option<&Tree>) -> Option<Tree> {
    PARSER.with(|p| p.borrow_mut().parse(without_nul(text), old))
}

/// Parses only `range` of `text` (which must start at the start of a line): the tree's nodes have their
/// offsets in the whole text. `None` if the range is not within the text or parsing was cancelled.
/// `old`, a tree of the same range edited like the text, makes the parse incremental.
pub fn parse_range(text: &str, range: std::ops::Range<usize>, old: Option<&Tree>) -> Option<Tree> {
    text.get(range.clone())?;
    // Rows are counted from the range's start: the analysis reads offsets only, and columns (which the
    // indentation rules read) are right because the range starts a line.
    let end = crate::line_index::LineIndex::from_line(text, range.start, 0, range.end).line_col(
        text,
        range.end,
        crate::line_index::ColumnUnit::Utf8,
    );
    let r = tree_sitter::Range {
        start_byte: range.start,
        end_byte: range.end,
        start_point: tree_sitter::Point::new(0, 0),
        end_point: tree_sitter::Point::new(end.line, end.col),
    };
    RANGE_PARSER.with(|p| {
        let mut p = p.borrow_mut();
        p.set_included_ranges(&[r]).ok()?;
        // Only the range is read: a NUL elsewhere does not matter, and the check costs one pass over
        // the range, not over the whole file, on every keystroke.
        let bytes = text.as_bytes();
        let input =
            if bytes[range.clone()].contains(&0) { without_nul(text) } else { std::borrow::Cow::Borrowed(bytes) };
        p.parse(input, old)
    })
}

/// Visits `root` and its descendants in document order with a cursor (no recursion, so any depth is
/// fine); `visit` returns whether to go into the node's children.
pub fn walk_preorder<'t>(root: Node<'t>, mut visit: impl FnMut(Node<'t>) -> bool) {
    let mut cursor = root.walk();
    'walk: loop {
        if visit(cursor.node()) && cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                continue 'walk;
            }
            if !cursor.goto_parent() {
                break 'walk;
            }
        }
    }
}

/// Where the line holding byte `at` starts: after the last line break before it (`\n`, `\r\n` or a lone
/// `\r`, as Python reads them; `at` on the `\n` of a `\r\n` is on that line). `at` is clamped to the
/// text's length.
pub fn line_start(text: &str, at: usize) -> usize {
    let bytes = text.as_bytes();
    let mut i = at.min(bytes.len());
    while i > 0 {
        match bytes[i - 1] {
            b'\n' => return i,
            b'\r' if bytes.get(i) != Some(&b'\n') => return i,
            _ => i -= 1,
        }
    }
    0
}

/// Whether a tree tree-sitter parsed without errors still breaks Python's indentation rule: a
/// statement that starts its line at another column than the statements of its block (a line dedented
/// to a column no enclosing block uses, which CPython rejects with `IndentationError`), or a module-level
/// statement not at column 0. tree-sitter accepts such text, and how it then reads the lines after it
/// depends on its indentation state there, so a statement parsed alone may read otherwise than in the
/// whole file: incremental splices must not trust it (the random edits of `tests/incremental.rs` found
/// `lambd,` then `a: x` read as one statement alone and as two in the file). Walks statements only.
///
/// A lone `\r` (not followed by `\n`) in the node's text counts too: Python ends a line there, but
/// tree-sitter-python's scanner reads it as blank space, so the line after it continues the statement
/// before it in the tree (`import requests\r_` imports `_`) while [`line_start`] and Python start a new
/// one. Old Mac line endings are rare enough that such files simply take the whole-file paths.
pub fn misaligned(text: &str, root: Node<'_>) -> bool {
    // The root of a parse spans the whole text (trailing blank space included); another node its own.
    let span = match root.parent() {
        None => 0..text.len(),
        Some(_) => root.start_byte()..root.end_byte(),
    };
    misaligned_in(text, root, span)
}

/// [`misaligned`] for the root of a parse of `span` of `text` alone ([`parse_range`]): the lone `\r`
/// are looked for in `span` only (that parse read nothing else), not in the whole text, which cost a
/// pass over the whole file on every keystroke of a module-level edit (latency13c).
pub fn misaligned_in(text: &str, root: Node<'_>, span: std::ops::Range<usize>) -> bool {
    let bytes = text.as_bytes();
    let (base, end) = (span.start.min(bytes.len()), span.end.min(bytes.len()));
    let span = &bytes[base..end.max(base)];
    let lone_cr = |at: usize| bytes.get(at + 1) != Some(&b'\n');
    if span.iter().enumerate().any(|(i, &b)| b == b'\r' && lone_cr(base + i)) {
        return true;
    }
    let starts_line = |n: Node<'_>| {
        let at = n.start_byte().min(bytes.len());
        bytes[line_start(text, at)..at].iter().all(|&b| b == b' ' || b == b'\t' || b == b'\x0c')
    };
    let mut bad = false;
    walk_preorder(root, |n| {
        if bad {
            return false;
        }
        match n.kind() {
            "module" | "block" => {
                let mut column = (n.kind() == "module").then_some(0);
                for c in n.named_children(&mut n.walk()) {
                    if c.kind() == "comment" || !starts_line(c) {
                        continue;
                    }
                    let col = c.start_position().column;
                    if *column.get_or_insert(col) != col {
                        bad = true;
                        return false;
                    }
                }
                true
            }
            "if_statement"
            | "for_statement"
            | "while_statement"
            | "try_statement"
            | "with_statement"
            | "function_definition"
            | "class_definition"
            | "decorated_definition"
            | "match_statement"
            | "elif_clause"
            | "else_clause"
            | "except_clause"
            | "except_group_clause"
            | "finally_clause"
            | "case_clause" => true,
            _ => false,
        }
    });
    bad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_starts_after_any_of_python_s_line_breaks() {
        let text = "ab\ncd\r\nef\rgh";
        let starts: Vec<usize> = (0..=text.len() + 2).map(|at| line_start(text, at)).collect();
        // a b \n c d \r \n e f \r g h (end), then past the end (clamped)
        assert_eq!(starts, [0, 0, 0, 3, 3, 3, 3, 7, 7, 7, 10, 10, 10, 10, 10]);
    }

    #[test]
    fn a_nul_byte_does_not_end_the_parse() {
        let text = "x = 'a\0b'\n\ndef after():\n    pass\n";
        let tree = parse(text, None).unwrap();
        let root = tree.root_node();
        assert_eq!(root.end_byte(), text.len());
        assert!(!root.has_error(), "{}", root.to_sexp());
        assert_eq!(root.named_child_count(), 2, "{}", root.to_sexp());
        let part = parse_range(text, 0..text.len(), None).unwrap();
        assert_eq!(part.root_node().end_byte(), text.len());
    }

    #[test]
    fn a_line_dedented_to_a_column_no_block_uses_is_misaligned() {
        let ok = "import x\n\nif x: a; b\n\ndef f():\n    if x:\n        y = 1\n    # c\n    return y\n";
        assert!(!misaligned(ok, parse(ok, None).unwrap().root_node()));
        for bad in ["def f():\n        a = 1\n    b = 2\n", "def f():\n    a = 1\n b = 2\n"] {
            let tree = parse(bad, None).unwrap();
            assert!(!tree.root_node().has_error(), "tree-sitter accepts {bad:?}: {}", tree.root_node().to_sexp());
            assert!(misaligned(bad, tree.root_node()), "{bad:?}: {}", tree.root_node().to_sexp());
        }
    }

    #[test]
    fn a_lone_carriage_return_is_misaligned() {
        // tree-sitter reads a lone `\r` as blank space: `_` continues the import in its tree.
        for bad in ["import requests\r", "import requests\r_", "a = 1\rb = 2\n", "def f():\r    pass\n"] {
            let tree = parse(bad, None).unwrap();
            assert!(misaligned(bad, tree.root_node()), "{bad:?}: {}", tree.root_node().to_sexp());
        }
        let ok = "import requests\r\ndef f():\r\n    pass\r\n";
        assert!(!misaligned(ok, parse(ok, None).unwrap().root_node()));
    }
}
