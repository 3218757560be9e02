//! Checking a fix before it is offered, locally and against the grammar CPython enforces.
//!
//! A fix's edits are checked on the *regions* they fall in, not on the whole file: each edit's region
//! is the statement around it (a child of the module or of a block), or for an edit between statements
//! (an added import) the lines around it. Each region is parsed on its own, before and after the edits,
//! wrapped so that it parses at its own indentation (`if 1:` above an indented statement). The cost of a
//! check is the size of the statements the fix touches, whatever the size of the file; the regions of the
//! original text are parsed once per file ([`Verifier`] keeps them).
//!
//! Near broken syntax a region parsed alone does not tell how the parser recovers around it in the file
//! (an ERROR sibling before or after the statement, or after the function holding it): a fix whose
//! region is or lies next to an ERROR is also checked on the whole file, by the file's error count.
//!
//! A fix is refused when the edited regions have more tree-sitter ERROR/MISSING nodes, or more
//! violations of the rules below, than the original regions had. tree-sitter's Python grammar is more
//! lenient than CPython's; these are the gaps a rewrite can fall into, checked here explicitly:
//!
//! - the operand of `await` must be a primary expression (`await await x`, `await -x` do not compile);
//! - `await`, `async with`, `async for` and async comprehensions only in an `async def` (not in a
//!   lambda, a class body, a sync function, or at module level; the defaults, annotations and
//!   decorators of a nested function belong to the enclosing scope, comprehensions to theirs; an async
//!   generator expression is allowed anywhere);
//! - in a call's (or class's) arguments: no positional argument after a keyword argument or after
//!   `**mapping`, no `*iterable` after `**mapping`, no keyword given twice;
//! - no parameter name given twice in a `def` or `lambda`.
//!
//! Edits in different statements are checked apart: a statement that parses in place of a statement
//! keeps its block valid, and the rules above only look inside one statement (the `async`-ness of the
//! enclosing function aside, which only make-sync changes; `fix_all` keeps the two apart).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::ops::Range;

use tree_sitter::{Node, Tree};

use super::{Edit, FileContext, KindName, error_count};

/// How far a climb from an edit to its statement may go (bounded work on any input).
const MAX_DEPTH: usize = 4096;
/// The largest edited region whose counts are kept for reuse.
const MAX_KEPT: usize = 4096;

/// What the original regions of a file hold, parsed once each; and the verdicts on whole fixes.
#[derive(Default)]
pub(super) struct Verifier {
    original: RefCell<HashMap<Range<usize>, Counts, RangeHasher>>,
    verdicts: RefCell<HashMap<Vec<Edit>, bool>>,
    /// The counts of edited regions (up to [`MAX_KEPT`] bytes), by what they depend on: whether the
    /// region is in a coroutine and the source parsed (indentation and edited text), its integer literals
    /// written `0` ([`canonical`]). Fixes of many findings edit one region alike (the import each adds,
    /// above the same statement), or statements that differ only where they stand or in a number (the
    /// same call offloaded in many functions): each is parsed once.
    edited: RefCell<HashMap<(bool, String), Counts>>,
    /// ERROR/MISSING nodes in the original file, counted on the first check near broken syntax.
    file_errors: std::cell::OnceCell<usize>,
    /// The regions between statements (the lines around an added import), by the edit's range: the
    /// import that the fixes of a file's many findings add lies at the same point in each.
    between: RefCell<HashMap<Range<usize>, BetweenRegion, RangeHasher>>,
}

/// Byte ranges hashed as two numbers ([`super::IdHasher`]): looked up for every edit checked.
type RangeHasher = std::hash::BuildHasherDefault<super::IdHasher>;

/// A region between statements: its range and whether it is in a coroutine.
type BetweenRegion = (Range<usize>, bool);

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    errors: usize,
    violations: usize,
}

/// A span of the original text that edits are checked in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Region<'t> {
    pub range: Range<usize>,
    /// Whether `await` is allowed at the region's own level (it is in the body of an `async def`).
    coroutine: bool,
    /// The statement it is, when it is one.
    statement: Option<Node<'t>>,
}

impl Verifier {
    /// Whether `edits` (sorted, of the original text) make the text invalid Python where they apply.
    pub(super) fn breaks(&self, ctx: &FileContext<'_>, edits: &[Edit]) -> bool {
        // The same fix is asked for by several findings when it edits a whole function (make-sync) or a
        // whole `with requests.Session()` block (httpx): its verdict is kept (one hash per lookup
        // instead of parsing the block again). Other fixes are not kept, nor looked for.
        let kept = (edits.len() == 1 && edits[0].text.is_empty()) || edits.len() > 2;
        if kept && let Some(v) = self.verdicts.borrow().get(edits) {
            return *v;
        }
        let v = !well_formed(ctx.text, edits) || {
            let regions = regions(ctx, edits);
            regions.iter().any(|r| self.breaks_region(ctx, r, edits))
                || (regions.iter().any(|r| touches_error(ctx, r)) && self.breaks_file(ctx, edits))
        };
        if kept {
            self.verdicts.borrow_mut().insert(edits.to_vec(), v);
        }
        v
    }

    /// Whether `edits` add ERROR/MISSING nodes to the whole file. Only for edits near broken syntax: there
    /// a region parsed alone does not tell how the parser recovers around it in the file.
    fn breaks_file(&self, ctx: &FileContext<'_>, edits: &[Edit]) -> bool {
        let before = *self.file_errors.get_or_init(|| error_count(ctx.tree));
        super::apply(ctx.text, edits).is_none_or(|new| super::introduces_syntax_error(before, &new))
    }

    /// Whether the edits inside `region` (all of them lie inside or outside it) break it.
    pub(super) fn breaks_region<'t>(&self, ctx: &FileContext<'t>, region: &Region<'t>, edits: &[Edit]) -> bool {
        let text = ctx.text;
        let inside: Vec<&Edit> =
            edits.iter().filter(|e| region.range.start <= e.range.start && e.range.end <= region.range.end).collect();
        if let [e] = inside[..]
            && let Some(stmt) = region.statement
            && let Some(def) = async_removed(ctx, stmt, e)
        {
            // `async ` taken off a `def` (make-sync): the statement parses as before but for that keyword,
            // so it is not parsed again; its violations are counted on the file's tree with the function
            // taken as a plain `def`.
            // Only `await`, `async for`, `async with` and async comprehensions count otherwise once the
            // function is sync (argument and parameter violations do not depend on it): with neither
            // word in the statement but the keyword taken off, it has no more violations than before.
            let source = &text[stmt.byte_range()];
            if !source.contains("await") && source.matches("async").count() <= 1 {
                return false;
            }
            let up = |n: Node<'t>| if n.id() == stmt.id() { None } else { ctx.up(n) };
            let scope = Scope { top: region.coroutine, up: &up, sync: Some(def.id()) };
            let known = self.original.borrow().get(&region.range).map(|c| c.violations);
            let (before, after) = match known {
                Some(before) => (before, subtree_violations(text, stmt, &scope)),
                None => {
                    // One walk of the statement for both counts: as it is (what `original_counts` finds
                    // for a statement without errors, kept for it) and with the function taken as sync.
                    let as_is = Scope { top: region.coroutine, up: &up, sync: None };
                    let (before, after) = subtree_violations_both(text, stmt, &as_is, &scope);
                    self.original.borrow_mut().insert(region.range.clone(), Counts { errors: 0, violations: before });
                    (before, after)
                }
            };
            return after > before;
        }
        let mut new = String::with_capacity(region.range.len() + inside.iter().map(|e| e.text.len()).sum::<usize>());
        let mut at = region.range.start;
        for e in inside {
            new.push_str(&text[at..e.range.start]);
            new.push_str(&e.text);
            at = e.range.end;
        }
        new.push_str(&text[at..region.range.end]);
        let after = if new.len() <= MAX_KEPT {
            let key = (region.coroutine, canonical(&wrapped(text, region, &new)));
            let known = self.edited.borrow().get(&key).copied();
            known.unwrap_or_else(|| {
                let c = counts(&key.1, key.0);
                self.edited.borrow_mut().insert(key, c);
                c
            })
        } else {
            counts(&wrapped(text, region, &new), region.coroutine)
        };
        if after == Counts::default() {
            // Nothing to compare: the original region cannot have had fewer (most fixes end here, and
            // the original statement is not walked).
            return false;
        }
        let before = self.original_counts(ctx, region);
        after.errors > before.errors || after.violations > before.violations
    }

    /// The counts of the original region, computed once.
    fn original_counts<'t>(&self, ctx: &FileContext<'t>, region: &Region<'t>) -> Counts {
        let text = ctx.text;
        *self.original.borrow_mut().entry(region.range.clone()).or_insert_with(|| match region.statement {
            // A statement without errors in the file: its violations, read from the file's tree.
            Some(stmt) if !stmt.has_error() => {
                let up = |n: Node<'t>| if n.id() == stmt.id() { None } else { ctx.up(n) };
                let scope = Scope { top: region.coroutine, up: &up, sync: None };
                Counts { errors: 0, violations: subtree_violations(text, stmt, &scope) }
            }
            _ => counts(&wrapped(text, region, &text[region.range.clone()]), region.coroutine),
        })
    }
}

/// The `def` that `e` turns from `async def` into a plain `def` in `stmt` (a statement without errors),
/// when that is all `e` does: it deletes exactly the `async` keyword of a function definition and the
/// blanks after it, up to `def`. The edited statement then has the same tree without that keyword.
fn async_removed<'t>(ctx: &FileContext<'t>, stmt: Node<'t>, e: &Edit) -> Option<Node<'t>> {
    if !e.text.is_empty() || stmt.has_error() || e.range.start >= e.range.end {
        return None;
    }
    let def = smallest_around(ctx, &e.range);
    let (keyword, def_token) = (def.child(0)?, def.child(1)?);
    let blanks = ctx.text.get(keyword.end_byte()..e.range.end)?;
    (def.kind_name() == "function_definition"
        && keyword.kind_name() == "async"
        && keyword.start_byte() == e.range.start
        && def_token.kind_name() == "def"
        && def_token.start_byte() == e.range.end
        && !blanks.is_empty()
        && blanks.bytes().all(|b| b == b' ' || b == b'\t')
        && stmt.start_byte() <= def.start_byte()
        && def.end_byte() <= stmt.end_byte())
    .then_some(def)
}

/// `src` with each decimal integer literal other than `0...` written `0` (a run of digits with no letter,
/// digit, `_`, `.` or non-ASCII byte on either side: not part of a name, a float, `1_000`, `0x1f` or
/// `1j`). Parsed, it has the same tree as `src` but for those literals' text, which no check reads (a
/// run inside a string changes only the string's content), so it has the same counts.
fn canonical(src: &str) -> String {
    let b = src.as_bytes();
    let part_of_token = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || !c.is_ascii();
    let mut out = String::with_capacity(src.len());
    let (mut i, mut copied) = (0, 0);
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let alone = (start == 0 || !part_of_token(b[start - 1])) && (i == b.len() || !part_of_token(b[i]));
        if alone && b[start] != b'0' {
            out.push_str(&src[copied..start]);
            out.push('0');
            copied = i;
        }
    }
    out.push_str(&src[copied..]);
    out
}

/// Whether `region` is or lies next to broken syntax: its statement, or the statement or block holding
/// it, has an error, follows one or precedes one (`color = ` left before an `if` is an ERROR sibling of
/// the `if`; a stray `)` after a function is one of the function), or (between statements) the block
/// around it has one. The parser's recovery there depends on the region's text.
fn touches_error(ctx: &FileContext<'_>, region: &Region<'_>) -> bool {
    let root = ctx.tree.root_node();
    if !root.has_error() {
        return false;
    }
    let Some(stmt) = region.statement else {
        return root.descendant_for_byte_range(region.range.start, region.range.end).is_none_or(|n| n.has_error());
    };
    if stmt.has_error() {
        return true;
    }
    let mut node = Some(stmt);
    for _ in 0..MAX_DEPTH {
        let Some(n) = node else { return false };
        if n.is_error()
            || n.prev_sibling().is_some_and(|s| s.has_error())
            || n.next_sibling().is_some_and(|s| s.has_error())
        {
            return true;
        }
        node = ctx.up(n);
    }
    true
}

/// Sorted, non-overlapping edits on character boundaries of the text.
pub(super) fn well_formed(text: &str, edits: &[Edit]) -> bool {
    let mut at = 0;
    edits.iter().all(|e| {
        let ok = e.range.start >= at
            && e.range.start <= e.range.end
            && e.range.end <= text.len()
            && text.is_char_boundary(e.range.start)
            && text.is_char_boundary(e.range.end);
        at = e.range.end;
        ok
    })
}

/// The regions of the original text that `edits` fall in, sorted and disjoint (nested ones merged).
pub(super) fn regions<'t>(ctx: &FileContext<'t>, edits: &[Edit]) -> Vec<Region<'t>> {
    let mut out: Vec<Region<'t>> = edits.iter().map(|e| region_of(ctx, &e.range)).collect();
    out.sort_by_key(|r| (r.range.start, std::cmp::Reverse(r.range.end)));
    let mut merged: Vec<Region<'t>> = Vec::with_capacity(out.len());
    for r in out {
        match merged.last_mut() {
            Some(last) if r.range.start < last.range.end || r.range == last.range => {
                if r.range.end > last.range.end {
                    // Overlapping line spans (between statements): one region over both.
                    last.range.end = r.range.end;
                    last.statement = None;
                }
            }
            _ => merged.push(r),
        }
    }
    merged
}

/// The statement around `range`, or the lines around it when it lies between statements.
fn region_of<'t>(ctx: &FileContext<'t>, range: &Range<usize>) -> Region<'t> {
    if let Some((r, coroutine)) = ctx.verifier.between.borrow().get(range) {
        return Region { range: r.clone(), coroutine: *coroutine, statement: None };
    }
    let text = ctx.text;
    let root = ctx.tree.root_node();
    let mut node = smallest_around(ctx, range);
    for _ in 0..MAX_DEPTH {
        // A point between two statements of a block (the end of a line, where `# noqa` goes) is in the
        // block itself: the region is its lines, not the statement that holds the block (a whole
        // function or `with` block, parsed again for each such edit: quadratic in the block).
        if matches!(node.kind_name(), "module" | "block") {
            break;
        }
        match ctx.up(node) {
            Some(p) if matches!(p.kind_name(), "module" | "block") => break,
            Some(p) => node = p,
            None => break,
        }
    }
    if matches!(node.kind_name(), "module" | "block") || node.id() == root.id() {
        // Between the statements of `node`: whole lines, widened over the statements they touch.
        let (mut start, mut end) = (crate::syntax::line_start(text, range.start), end_of_line(text, range.end));
        for _ in 0..8 {
            let (mut s, mut e) = (start, end);
            let mut c = node.walk();
            if c.goto_first_child_for_byte(start).is_some() {
                loop {
                    let ch = c.node();
                    if ch.start_byte() >= end {
                        break;
                    }
                    if ch.end_byte() > start {
                        s = s.min(ch.start_byte());
                        e = e.max(ch.end_byte());
                    }
                    if !c.goto_next_sibling() {
                        break;
                    }
                }
            }
            let (s, e) = (crate::syntax::line_start(text, s), end_of_line(text, e));
            if (s, e) == (start, end) {
                break;
            }
            (start, end) = (s, e);
        }
        let scope = Scope { top: false, up: &|n| ctx.up(n), sync: None };
        let coroutine = coroutine_at(node, &scope);
        ctx.verifier.between.borrow_mut().insert(range.clone(), (start..end, coroutine));
        return Region { range: start..end, coroutine, statement: None };
    }
    let scope = Scope { top: false, up: &|n| ctx.up(n), sync: None };
    Region { range: node.byte_range(), coroutine: coroutine_at(node, &scope), statement: Some(node) }
}

/// The smallest node around `range`, as the root's `descendant_for_byte_range` finds it, but searched from
/// the top-level statement around it (found by bisection): from the root, the search steps through every
/// top-level statement before it, a cost that grows with the file for each edit checked.
fn smallest_around<'t>(ctx: &FileContext<'t>, range: &Range<usize>) -> Node<'t> {
    descendant_around(ctx, range).unwrap_or_else(|| ctx.tree.root_node())
}

/// The root's `descendant_for_byte_range(range)`, searched from the top-level statement around the range
/// (see [`smallest_around`]).
pub(super) fn descendant_around<'t>(ctx: &FileContext<'t>, range: &Range<usize>) -> Option<Node<'t>> {
    let root = ctx.tree.root_node();
    let i = ctx.top_starts.partition_point(|&t| t <= range.start);
    // The root's search enters the first child that ends at or after the range's end and after its start.
    let top = i.checked_sub(1).map(|i| ctx.tops[i]).filter(|t| t.end_byte() >= range.end && t.end_byte() > range.start);
    match top {
        Some(t) => Some(t.descendant_for_byte_range(range.start, range.end).unwrap_or(t)),
        None => root.descendant_for_byte_range(range.start, range.end),
    }
}

/// The end of the line holding `offset` (just after its line break); `offset` itself at a line start.
fn end_of_line(text: &str, offset: usize) -> usize {
    if offset == 0 || text.as_bytes().get(offset - 1).is_some_and(|b| *b == b'\n') {
        offset
    } else {
        super::imports::line_end(text, offset)
    }
}

/// Where the nodes of a walk stand: whether the top of the tree (the module, or the wrapper of a region)
/// is in a coroutine, how to reach a node's parent (`None` above the walk's root), and a function taken
/// as a plain `def` although it is written `async def` (the one a make-sync fix edits).
struct Scope<'s, 't> {
    top: bool,
    up: &'s dyn Fn(Node<'t>) -> Option<Node<'t>>,
    sync: Option<usize>,
}

/// Whether `await` is allowed at `node` (in the body of an `async def`, in its scope). Reaching the top
/// answers `scope.top`.
fn coroutine_at<'t>(node: Node<'t>, scope: &Scope<'_, 't>) -> bool {
    let mut child = node;
    let mut cur = (scope.up)(node);
    for _ in 0..MAX_DEPTH {
        let Some(p) = cur else { return scope.top };
        let in_body = p.field("body").is_some_and(|b| b.id() == child.id());
        match p.kind_name() {
            "function_definition" if in_body => {
                return scope.sync != Some(p.id()) && p.child(0).is_some_and(|c| c.kind_name() == "async");
            }
            "lambda" | "class_definition" if in_body => return false,
            _ => {}
        }
        child = p;
        cur = (scope.up)(p);
    }
    scope.top
}

/// A region's text (the original or the edited one, `body`) wrapped to parse at its indentation.
fn wrapped(text: &str, region: &Region<'_>, body: &str) -> String {
    let line = crate::syntax::line_start(text, region.range.start);
    let indent_len = text[line..region.range.start].len() - text[line..region.range.start].trim_start().len();
    let indent = &text[line..line + indent_len];
    let mut src = String::with_capacity(body.len() + indent.len() + 8);
    if !indent.is_empty() {
        src.push_str("if 1:\n");
        src.push_str(indent);
    }
    src.push_str(body);
    src
}

/// Parses a wrapped region and counts its errors and CPython-only violations; `coroutine`: whether the
/// region's level is in a coroutine.
fn counts(src: &str, coroutine: bool) -> Counts {
    match crate::syntax::parse(src, None) {
        Some(tree) => Counts { errors: error_count(&tree), violations: violations(src, &tree, coroutine) },
        None => Counts { errors: usize::MAX, violations: 0 },
    }
}

/// The operands `await` takes in CPython (a primary expression).
const PRIMARY: &[&str] = &[
    "identifier",
    "keyword_identifier",
    "attribute",
    "subscript",
    "call",
    "parenthesized_expression",
    "tuple",
    "list",
    "set",
    "dictionary",
    "list_comprehension",
    "set_comprehension",
    "dictionary_comprehension",
    "generator_expression",
    "string",
    "concatenated_string",
    "integer",
    "float",
    "true",
    "false",
    "none",
    "ellipsis",
];

/// Counts the constructs tree-sitter accepts and CPython refuses (see the module documentation); `top`:
/// whether the text's top level is in a coroutine.
pub(super) fn violations(text: &str, tree: &Tree, top: bool) -> usize {
    subtree_violations(text, tree.root_node(), &Scope { top, up: &|n| n.parent(), sync: None })
}

/// [`violations`] in the subtree of `root`, where `scope.up` gives parents (and `None` above `root`).
fn subtree_violations<'t>(text: &str, root: Node<'t>, scope: &Scope<'_, 't>) -> usize {
    let mut count = 0;
    crate::syntax::walk_preorder(root, |n| {
        count += node_violations(text, n, scope);
        true
    });
    count
}

/// [`subtree_violations`] under two scopes, in one walk of the tree.
fn subtree_violations_both<'t>(text: &str, root: Node<'t>, a: &Scope<'_, 't>, b: &Scope<'_, 't>) -> (usize, usize) {
    let (mut in_a, mut in_b) = (0, 0);
    crate::syntax::walk_preorder(root, |n| {
        if checked(n) != Checked::Other {
            in_a += node_violations(text, n, a);
            in_b += node_violations(text, n, b);
        }
        true
    });
    (in_a, in_b)
}

/// The node kinds [`node_violations`] looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Checked {
    Other,
    Await,
    WithOrFor,
    ForIn,
    Arguments,
    Parameters,
}

/// What [`node_violations`] does with a node of this kind: a table by kind id, built once from the
/// grammar's kind names, so that walking a tree compares numbers, not each node's kind name (a string
/// looked up and checked as UTF-8 per node). A node's kind name is its kind id's name.
fn checked(n: Node<'_>) -> Checked {
    static TABLE: std::sync::OnceLock<Vec<Checked>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let language = crate::syntax::language();
        (0..language.node_kind_count())
            .map(|id| match u16::try_from(id).ok().and_then(|id| language.node_kind_for_id(id)) {
                Some("await") => Checked::Await,
                Some("with_statement" | "for_statement") => Checked::WithOrFor,
                Some("for_in_clause") => Checked::ForIn,
                Some("argument_list") => Checked::Arguments,
                Some("parameters" | "lambda_parameters") => Checked::Parameters,
                _ => Checked::Other,
            })
            .collect()
    });
    table.get(usize::from(n.kind_id())).copied().unwrap_or(Checked::Other)
}

fn node_violations<'t>(text: &str, n: Node<'t>, scope: &Scope<'_, 't>) -> usize {
    let is_async = |n: Node<'_>| n.child(0).is_some_and(|c| c.kind_name() == "async");
    match checked(n) {
        Checked::Other => 0,
        Checked::Await => {
            let operand_ok = n.named_child(0).is_none_or(|o| PRIMARY.contains(&o.kind_name()));
            usize::from(!operand_ok) + usize::from(!coroutine_at(n, scope))
        }
        Checked::WithOrFor if is_async(n) => usize::from(!coroutine_at(n, scope)),
        Checked::ForIn if is_async(n) || n.prev_sibling().is_some_and(|c| c.kind_name() == "async") => {
            // An async generator expression is allowed anywhere; an async comprehension where `await` is.
            let comprehension = (scope.up)(n);
            match comprehension {
                Some(c) if c.kind_name() == "generator_expression" => 0,
                Some(c) => usize::from(!coroutine_at(c, scope)),
                None => 0,
            }
        }
        Checked::WithOrFor | Checked::ForIn => 0,
        Checked::Arguments => argument_violations(text, n),
        Checked::Parameters => parameter_violations(text, n),
    }
}

/// Positional after keyword or `**`, `*` after `**`, a keyword given twice.
fn argument_violations(text: &str, args: Node<'_>) -> usize {
    let (mut keyword, mut double, mut count) = (false, false, 0);
    let mut names: HashSet<&str> = HashSet::new();
    let mut c = args.walk();
    for a in args.named_children(&mut c) {
        match a.kind_name() {
            "comment" => {}
            "keyword_argument" => {
                keyword = true;
                if let Some(name) = a.field("name")
                    && !names.insert(&text[name.byte_range()])
                {
                    count += 1;
                }
            }
            "dictionary_splat" => double = true,
            "list_splat" => count += usize::from(double),
            _ => count += usize::from(keyword || double),
        }
    }
    count
}

/// A parameter name given twice.
fn parameter_violations(text: &str, params: Node<'_>) -> usize {
    let mut names: HashSet<&str> = HashSet::new();
    let mut count = 0;
    let mut c = params.walk();
    for p in params.named_children(&mut c) {
        let name = match p.kind_name() {
            "identifier" => Some(p),
            "default_parameter" | "typed_default_parameter" => p.field("name"),
            "typed_parameter" | "list_splat_pattern" | "dictionary_splat_pattern" => {
                let mut c2 = p.walk();
                let found = p.named_children(&mut c2).find(|x| x.kind_name() == "identifier");
                found.or_else(|| {
                    p.named_child(0)
                        .filter(|x| matches!(x.kind_name(), "list_splat_pattern" | "dictionary_splat_pattern"))
                        .and_then(|x| x.named_child(0))
                })
            }
            _ => None,
        };
        if let Some(n) = name.filter(|n| n.kind_name() == "identifier")
            && !names.insert(&text[n.byte_range()])
        {
            count += 1;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad(src: &str) -> usize {
        let tree = crate::syntax::parse(src, None).unwrap();
        error_count(&tree) + violations(src, &tree, false)
    }

    #[test]
    fn what_cpython_refuses_and_tree_sitter_accepts() {
        for src in [
            "async def f():\n    return await await g()\n",
            "async def f():\n    await -x\n",
            "async def f():\n    class C:\n        x = await g()\n",
            "def f():\n    return [x for x in await y]\n",
            "def f():\n    return await g()\n",
            "def f():\n    h = lambda: await g()\n",
            "await g()\n",
            "def f():\n    async with g() as c:\n        pass\n",
            "def f():\n    async for x in g():\n        pass\n",
            "def f():\n    return [x async for x in y]\n",
            "f(**a, *b)\n",
            "f(**a, b)\n",
            "f(a=1, b)\n",
            "f(a=1, a=2)\n",
            "class C(a=1, b): pass\n",
            "def f(a, a): pass\n",
            "def f(a, *, a=1): pass\n",
            "def f(a: int, **a): pass\n",
            "g = lambda a, a: a\n",
        ] {
            assert!(bad(src) > 0, "not refused: {src}");
        }
    }

    #[test]
    fn what_cpython_accepts() {
        for src in [
            "async def f():\n    return await (await g())\n",
            "async def f():\n    def h(x=await g()):\n        pass\n",
            "async def f():\n    h = lambda x=await g(): x\n",
            "async def f():\n    return [await g(x) for x in y]\n",
            "async def f():\n    return (await g(x) for x in y)\n",
            "def f():\n    return (x async for x in y)\n",
            "async def f():\n    return [[x async for x in y] for z in w]\n",
            "async def f():\n    @await g()\n    def h(): pass\n",
            "async def f():\n    return (await g()).json(), await x.y, await x[0], 2 ** await g()\n",
            "async def f():\n    async with g() as c:\n        async for x in c:\n            pass\n",
            "f(a=1, *b)\n",
            "f(*a, b, *c, k=1, *d, **e, m=2, **f)\n",
            "f(a=1, **{'a': 2})\n",
            "def f(a, b=1, *c, d, e: int = 2, **g): pass\n",
            "g = lambda a, b=1, *c, **d: a\n",
            "f(x for x in y)\n",
        ] {
            assert_eq!(bad(src), 0, "refused: {src}");
        }
    }

    fn check(text: &str, edits: &[Edit]) -> bool {
        let tree = crate::syntax::parse(text, None).unwrap();
        let options = super::super::Options::default();
        let ctx = FileContext::new(text, &tree, crate::catalog::Catalog::bundled(), &options);
        Verifier::default().breaks(&ctx, edits)
    }

    #[test]
    fn edits_are_checked_in_their_statement_at_its_indentation() {
        let text = "import time\n\n\nasync def f(p):\n    if p:\n        return await serve()\n    time.sleep(1)\n";
        let at = text.find("serve()").unwrap();
        let e = |r: Range<usize>, t: &str| Edit { range: r, text: t.into() };
        let doubled = [e(at..at + 7, "await asyncio.to_thread(serve)")];
        assert!(check(text, &doubled), "`await await` is refused");
        let fine = [e(0..0, "import asyncio\n"), e(at..at + 7, "(await asyncio.to_thread(serve))")];
        assert!(!check(text, &fine));
        let sleep = text.find("time.sleep(1)").unwrap();
        assert!(!check(text, &[e(sleep..sleep + 13, "await asyncio.sleep(1)")]));
        assert!(check(text, &[e(sleep..sleep + 13, "await asyncio.sleep(1")]), "a parse error");
        // Outside the coroutine, in a nested sync def: refused.
        let text = "async def f():\n    def g():\n        time.sleep(1)\n    return g\n";
        let sleep = text.find("time.sleep(1)").unwrap();
        assert!(check(text, &[e(sleep..sleep + 13, "await asyncio.sleep(1)")]));
        // Arguments made invalid by a rewrite.
        let text = "async def f(k):\n    return g(x, **k)\n";
        let x = text.find("x, **k").unwrap();
        assert!(check(text, &[e(x..x + 6, "**k, x")]));
        assert!(check(text, &[e(x..x + 6, "a=1, a=2")]));
        // An import between statements, at the end of a file without a final newline.
        let text = "import time\nx = 1";
        assert!(!check(text, &[e(text.len()..text.len(), "\nimport asyncio\n")]));
        assert!(check(text, &[e(12..12, "import (\n")]));
        // An edit that overlaps another, or not on a character boundary.
        assert!(check("é = 1\n", &[e(1..1, "x")]));
        assert!(check("abc\n", &[e(0..2, "x"), e(1..3, "y")]));
    }

    #[test]
    fn the_node_around_a_range_is_the_one_the_root_finds() {
        let text = "import a\n\n@d\nasync def f(x):\n    return g(x)\n\nclass C:\n    y = 1\nz = [\n  1,\n]\n";
        let tree = crate::syntax::parse(text, None).unwrap();
        let options = super::super::Options::default();
        let ctx = FileContext::new(text, &tree, crate::catalog::Catalog::bundled(), &options);
        let root = tree.root_node();
        for start in 0..=text.len() {
            for end in start..=text.len() {
                let want = root.descendant_for_byte_range(start, end).unwrap_or(root);
                assert_eq!(smallest_around(&ctx, &(start..end)).id(), want.id(), "{start}..{end}");
                assert_eq!(
                    descendant_around(&ctx, &(start..end)).map(|n| n.id()),
                    root.descendant_for_byte_range(start, end).map(|n| n.id()),
                    "{start}..{end}"
                );
            }
        }
    }

    #[test]
    fn integer_literals_are_written_zero_and_nothing_else() {
        assert_eq!(canonical("if 1:\n    time.sleep(12)\n"), "if 0:\n    time.sleep(0)\n");
        for kept in ["r12", "x_1", "1.5", ".5", "1e5", "1_000", "0x1f", "1j", "007", "é1", "a.1"] {
            assert_eq!(canonical(kept), kept);
        }
        assert_eq!(canonical("f(a1=1, a2=22, *x[3])"), "f(a1=0, a2=0, *x[0])");
        // Statements that differ only in a number are parsed once; names are kept apart.
        let text = "async def f():\n    time.sleep(1)\n    time.sleep(2)\n    g(a1=1, a2=2)\n";
        let tree = crate::syntax::parse(text, None).unwrap();
        let options = super::super::Options::default();
        let ctx = FileContext::new(text, &tree, crate::catalog::Catalog::bundled(), &options);
        let v = Verifier::default();
        let e = |r: Range<usize>, t: &str| Edit { range: r, text: t.into() };
        for n in ["1", "2"] {
            let at = text.find(&format!("time.sleep({n})")).unwrap();
            assert!(!v.breaks(&ctx, &[e(at..at + 13, &format!("await asyncio.sleep({n})"))]));
            assert!(v.breaks(&ctx, &[e(at..at + 13, &format!("await await asyncio.sleep({n})"))]));
        }
        assert_eq!(v.edited.borrow().len(), 2, "one parse per shape");
        let at = text.find("a1=1").unwrap();
        assert!(!v.breaks(&ctx, &[e(at..at + 4, "a3=3")]));
        assert!(v.breaks(&ctx, &[e(at..at + 4, "a2=3")]), "a keyword given twice");
    }

    /// A make-sync edit (`async ` taken off a `def`) is checked on the file's tree, without a parse; its
    /// verdict is the one a parse of the edited text gives.
    #[test]
    fn async_removed_is_checked_as_a_parse_would() {
        for (src, breaks) in [
            ("async def f():\n    time.sleep(1)\n", false),
            ("@app.get('/')\nasync def f():\n    time.sleep(1)\n", false),
            ("async def f():\n    await g()\n", true),
            ("async def f():\n    async with g() as c:\n        pass\n", true),
            ("async def f():\n    async for x in g():\n        pass\n", true),
            ("async def f():\n    return [x async for x in g()]\n", true),
            ("async def f():\n    return (x async for x in g())\n", false),
            ("async def f():\n    async def h():\n        await g()\n    return h\n", false),
            ("async def f():\n    def h(x=await g()):\n        pass\n", true),
            ("async def f():\n    h = lambda: 1\n    return [await g() for _ in h()]\n", true),
            ("class C:\n    async def f(self):\n        return 1\n", false),
            ("class C:\n    async def f(self):\n        return await self.g()\n", true),
            ("async  def f():\n    pass\n", false),
        ] {
            let at = src.find("async").unwrap();
            let end = at + src[at..].find("def").unwrap();
            let edits = [Edit { range: at..end, text: String::new() }];
            let tree = crate::syntax::parse(src, None).unwrap();
            let options = super::super::Options::default();
            let ctx = FileContext::new(src, &tree, crate::catalog::Catalog::bundled(), &options);
            let region = regions(&ctx, &edits).remove(0);
            assert!(async_removed(&ctx, region.statement.unwrap(), &edits[0]).is_some(), "{src}");
            let new = super::super::apply(src, &edits).unwrap();
            let parsed = crate::syntax::parse(&new, None).unwrap();
            let by_parse = error_count(&parsed) + violations(&new, &parsed, false) > bad(src);
            assert_eq!(by_parse, breaks, "{src}");
            assert_eq!(Verifier::default().breaks(&ctx, &edits), breaks, "{src}");
        }
        // Anything else is parsed: a deletion that is not exactly the keyword and its blanks.
        let src = "async def f():\n    pass\n";
        let tree = crate::syntax::parse(src, None).unwrap();
        let options = super::super::Options::default();
        let ctx = FileContext::new(src, &tree, crate::catalog::Catalog::bundled(), &options);
        let stmt = tree.root_node().child(0).unwrap();
        for r in [0..5, 0..7, 1..6, 0..9] {
            assert!(async_removed(&ctx, stmt, &Edit { range: r, text: String::new() }).is_none());
        }
    }
}
