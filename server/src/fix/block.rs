//! A whole `with` block to a thread: `with open(p) as fh: return fh.read()` in a coroutine becomes a
//! nested sync function holding the block, run with the file's offloader:
//!
//! ```python
//! async def read(p):
//!     def _in_thread():
//!         with open(p) as fh:
//!             return fh.read()
//!
//!     return await asyncio.to_thread(_in_thread)
//! ```
//!
//! Offloading the blocking call alone is wrong for a context manager: entering and leaving it (`open`,
//! `urlopen`, `sqlite3.connect`, `closing(...)`) block too, and a sqlite3 connection refuses to be used
//! from another thread than the one that made it. Moving the whole statement keeps the resource in one
//! thread. Names the block assigns and the function reads after it come back as the nested function's
//! return value; a `return` in the block returns its result (only where nothing follows the block).
//! Refused, with the reason, where the block cannot leave the coroutine: it awaits, yields, uses `async
//! for`/`async with`, jumps out (`break`/`continue` of a loop around it), declares `global`/`nonlocal`,
//! assigns a name the function declares so, calls `super()` without arguments, or reads a name it also
//! assigns that already had a value before it (in the nested function it would be a new local).
//!
//! Always unsafe: the block then runs in a worker thread (thread-bound state, context variables it sets,
//! the pool's size).

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use tree_sitter::Node;

use super::kinds::{self, MAX_NODES, short, walk_bounded};
use super::{Applicability, Edit, FileContext, Fix, FixId, Fixes, KindName, Refusal, imports};

/// How many ancestors the search for a `with` around a call climbs.
const MAX_CLIMB: usize = 256;

/// Nodes between a binding and its block that make the binding conditional.
const CONDITIONAL: &[&str] = &[
    "if_statement",
    "elif_clause",
    "else_clause",
    "for_statement",
    "while_statement",
    "try_statement",
    "except_clause",
    "except_group_clause",
    "finally_clause",
    "match_statement",
    "case_clause",
    "boolean_operator",
    "conditional_expression",
    "list_comprehension",
    "set_comprehension",
    "dictionary_comprehension",
    "generator_expression",
    "lambda",
];

/// The sync `with` statement a blocking call belongs to: the call is evaluated by the statement's items
/// (`with open(p) as fh:`, `with closing(sqlite3.connect(p)) as c:`), or it goes through a name the
/// items bind to a call's result (`fh.read()`, `json.load(fh)`, `c.execute(...)` in its block). The
/// innermost such statement in the call's own function.
pub(super) fn tied_with<'t>(ctx: &FileContext<'t>, call: Node<'t>) -> Option<Node<'t>> {
    let mut n = ctx.up(call);
    for _ in 0..MAX_CLIMB {
        let cur = n?;
        match cur.kind_name() {
            "function_definition" | "lambda" | "class_definition" | "module" => return None,
            "with_statement" if cur.child(0).is_some_and(|c| c.kind_name() == "with") => {
                let clause = clause_of(cur)?;
                if clause.start_byte() <= call.start_byte() && call.end_byte() <= clause.end_byte() {
                    return Some(cur);
                }
                let aliases = call_aliases(ctx, clause);
                if !aliases.is_empty() && uses_any(ctx, call, &aliases) {
                    return Some(cur);
                }
            }
            _ => {}
        }
        n = ctx.up(cur);
    }
    None
}

fn clause_of(with: Node<'_>) -> Option<Node<'_>> {
    let mut c = with.walk();
    with.children(&mut c).find(|n| n.kind_name() == "with_clause")
}

/// The names a `with` clause binds to the result of a call (`as fh` of `open(p) as fh`).
fn call_aliases(ctx: &FileContext<'_>, clause: Node<'_>) -> HashSet<String> {
    let mut out = HashSet::new();
    let mut c = clause.walk();
    for item in clause.named_children(&mut c) {
        let Some(value) = item.field("value").filter(|v| v.kind_name() == "as_pattern") else { continue };
        if value.named_child(0).is_none_or(|v| v.kind_name() != "call") {
            continue;
        }
        if let Some(alias) = value.field("alias") {
            let mut c = alias.walk();
            for id in alias.named_children(&mut c).filter(|n| n.kind_name() == "identifier") {
                out.insert(ctx.node_text(id).to_string());
            }
        }
    }
    out
}

/// Whether the call's callee is reached through one of `names`, or passes one as a direct argument.
fn uses_any(ctx: &FileContext<'_>, call: Node<'_>, names: &HashSet<String>) -> bool {
    let through =
        call.field("function").and_then(kinds::root_identifier).is_some_and(|r| names.contains(ctx.node_text(r)));
    through
        || call.field("arguments").is_some_and(|args| {
            let mut c = args.walk();
            args.named_children(&mut c).any(|a| {
                let v = if a.kind_name() == "keyword_argument" { a.field("value") } else { Some(a) };
                v.is_some_and(|v| v.kind_name() == "identifier" && names.contains(ctx.node_text(v)))
            })
        })
}

/// What a walk over statements found: names bound (with whether the binding is a statement of the
/// block itself, not nested in a branch or loop), names read, and why the code cannot move.
#[derive(Default)]
struct Scan {
    bound: HashMap<String, bool>,
    /// The names of `bound`, in the order of their first binding.
    order: Vec<String>,
    read: HashSet<String>,
    has_return: bool,
    declared: HashSet<String>,
    /// Names `del` unbinds, with the line of the first `del` of each.
    deleted: Vec<(String, usize)>,
    refusal: Option<String>,
}

/// Walks `roots` (statements, or a function body without `exclude`), skipping nested scopes' bodies.
/// `top`: the block whose direct statements count as unconditional bindings.
fn scan(ctx: &FileContext<'_>, roots: &[Node<'_>], exclude: Option<Range<usize>>, top: Option<Node<'_>>) -> Scan {
    let mut s = Scan::default();
    let mut binding: HashSet<usize> = HashSet::new();
    let mut ignored: HashSet<usize> = HashSet::new();
    // (node, inside a loop of the scanned code)
    let mut stack: Vec<(Node<'_>, bool)> = roots.iter().rev().map(|r| (*r, false)).collect();
    let mut kids: Vec<Node<'_>> = Vec::new();
    let mut seen = 0;
    // Whether a binding at `n` happens whenever the block runs: no branch, loop, `try` or short-circuit
    // between it and the block (or the statement's own clause; a root that is itself a branch or a
    // loop binds conditionally).
    let top_level = |n: Node<'_>| {
        let Some(b) = top else { return false };
        let mut m = n;
        for _ in 0..MAX_CLIMB {
            let Some(p) = ctx.up(m) else { return false };
            if CONDITIONAL.contains(&p.kind_name()) {
                return false;
            }
            if p.id() == b.id() || roots.iter().any(|r| r.id() == p.id()) {
                return true;
            }
            m = p;
        }
        false
    };
    while let Some((n, in_loop)) = stack.pop() {
        seen += 1;
        if seen > MAX_NODES {
            s.refusal.get_or_insert_with(|| "the function is too large to check".into());
            break;
        }
        if exclude.as_ref().is_some_and(|r| r.start <= n.start_byte() && n.end_byte() <= r.end) {
            continue;
        }
        let mut bind = |s: &mut Scan, id: Node<'_>| {
            binding.insert(id.id());
            let unconditional = top_level(id);
            let name = ctx.node_text(id);
            if !s.bound.contains_key(name) {
                s.order.push(name.to_string());
            }
            let e = s.bound.entry(name.to_string()).or_insert(false);
            *e |= unconditional;
        };
        match n.kind_name() {
            "function_definition" | "class_definition" => {
                if let Some(name) = n.field("name") {
                    bind(&mut s, name);
                }
                continue;
            }
            "lambda" => continue,
            "await" => {
                s.refusal.get_or_insert_with(|| "the block awaits: `await` must stay in the coroutine".into());
            }
            "yield" => {
                s.refusal.get_or_insert_with(|| "the block yields: it is part of a generator".into());
            }
            "for_statement" | "with_statement" if n.child(0).is_some_and(|c| c.kind_name() == "async") => {
                s.refusal.get_or_insert_with(|| "the block uses `async for` or `async with`".into());
            }
            "for_in_clause" => {
                if n.prev_sibling().is_some_and(|c| c.kind_name() == "async")
                    || n.child(0).is_some_and(|c| c.kind_name() == "async")
                {
                    s.refusal.get_or_insert_with(|| "the block has an async comprehension".into());
                }
                if let Some(left) = n.field("left") {
                    targets(left, &mut |id| {
                        ignored.insert(id.id());
                    });
                }
            }
            "break_statement" | "continue_statement" if !in_loop => {
                let what = if n.kind_name() == "break_statement" { "break" } else { "continue" };
                s.refusal.get_or_insert_with(|| {
                    format!("`{what}` at line {} leaves the block for a loop around it", n.start_position().row + 1)
                });
            }
            "return_statement" => s.has_return = true,
            "delete_statement" => {
                let line = n.start_position().row + 1;
                let mut c = n.walk();
                for target in n.named_children(&mut c) {
                    let mut names = Vec::new();
                    if target.kind_name() == "expression_list" {
                        let mut c2 = target.walk();
                        for t in target.named_children(&mut c2) {
                            targets(t, &mut |id| names.push(ctx.node_text(id).to_string()));
                        }
                    } else {
                        targets(target, &mut |id| names.push(ctx.node_text(id).to_string()));
                    }
                    for name in names {
                        if !s.deleted.iter().any(|(d, _)| *d == name) {
                            s.deleted.push((name, line));
                        }
                    }
                }
            }
            "global_statement" | "nonlocal_statement" => {
                let mut c = n.walk();
                for id in n.named_children(&mut c).filter(|c| c.kind_name() == "identifier") {
                    s.declared.insert(ctx.node_text(id).to_string());
                    ignored.insert(id.id());
                }
            }
            "assignment" | "for_statement" => {
                if let Some(left) = n.field("left") {
                    targets(left, &mut |id| bind(&mut s, id));
                }
            }
            "augmented_assignment" => {
                if let Some(left) = n.field("left").filter(|l| l.kind_name() == "identifier") {
                    bind(&mut s, left);
                    s.read.insert(ctx.node_text(left).to_string());
                }
            }
            "as_pattern" => {
                if let Some(alias) = n.field("alias") {
                    targets(alias, &mut |id| bind(&mut s, id));
                }
            }
            "named_expression" => {
                if let Some(name) = n.field("name") {
                    bind(&mut s, name);
                }
            }
            "import_statement" | "import_from_statement" => {
                let mut c = n.walk();
                let names: Vec<Node<'_>> = n.children_by_field_name("name", &mut c).collect();
                for name in names {
                    let id = match name.kind_name() {
                        "aliased_import" => name.field("alias"),
                        "dotted_name" => name.named_child(0),
                        _ => None,
                    };
                    if let Some(id) = id.filter(|i| i.kind_name() == "identifier") {
                        bind(&mut s, id);
                    }
                }
                continue;
            }
            "attribute" => {
                if let Some(a) = n.field("attribute") {
                    ignored.insert(a.id());
                }
            }
            "keyword_argument" => {
                if let Some(a) = n.field("name") {
                    ignored.insert(a.id());
                }
            }
            "call" => {
                let zero_arg_super = n.field("function").is_some_and(|f| ctx.node_text(f) == "super")
                    && n.field("arguments").is_some_and(|a| a.named_child_count() == 0);
                if zero_arg_super {
                    s.refusal.get_or_insert_with(|| {
                        "the block calls `super()` without arguments, which needs the method's own frame".into()
                    });
                }
            }
            "identifier" if !binding.contains(&n.id()) && !ignored.contains(&n.id()) => {
                s.read.insert(ctx.node_text(n).to_string());
            }
            _ => {}
        }
        // Only a loop's body is in it: a `break` in its `else:` leaves the loop around it.
        let body = matches!(n.kind_name(), "for_statement" | "while_statement")
            .then(|| n.field("body").map(|b| b.id()))
            .flatten();
        kids.clear();
        kids.extend(super::children(n, false));
        stack.extend(kids.iter().rev().map(|&ch| (ch, in_loop || Some(ch.id()) == body)));
    }
    s
}

/// The identifiers an assignment target binds (`a`, `a, (b, *c)`); attributes and subscripts bind none.
fn targets<'t>(target: Node<'t>, f: &mut dyn FnMut(Node<'t>)) {
    let mut stack = vec![target];
    let mut seen = 0;
    while let Some(n) = stack.pop() {
        seen += 1;
        if seen > MAX_NODES {
            return;
        }
        match n.kind_name() {
            "identifier" => f(n),
            "pattern_list"
            | "tuple_pattern"
            | "list_pattern"
            | "tuple"
            | "list"
            | "expression_list"
            | "parenthesized_expression"
            | "list_splat_pattern"
            | "list_splat"
            | "as_pattern_target" => {
                let mut c = n.walk();
                stack.extend(n.named_children(&mut c));
            }
            _ => {}
        }
    }
}

/// The names of a function's parameters.
fn parameters(ctx: &FileContext<'_>, def: Node<'_>) -> HashSet<String> {
    let mut out = HashSet::new();
    let Some(params) = def.field("parameters") else { return out };
    let mut c = params.walk();
    for p in params.named_children(&mut c) {
        let id = match p.kind_name() {
            "identifier" => Some(p),
            "default_parameter" | "typed_default_parameter" => p.field("name"),
            _ => {
                let mut c = p.walk();
                let first = p.named_children(&mut c).find(|x| {
                    matches!(x.kind_name(), "identifier" | "list_splat_pattern" | "dictionary_splat_pattern")
                });
                first.and_then(|x| if x.kind_name() == "identifier" { Some(x) } else { x.named_child(0) })
            }
        };
        if let Some(id) = id.filter(|i| i.kind_name() == "identifier") {
            out.insert(ctx.node_text(id).to_string());
        }
    }
    out
}

/// Why `stmts` cannot move to a thread because they use an object bound to the thread that opened it
/// (the catalog's `thread_bound`: a sqlite3 connection or its cursor) that was opened outside them: in
/// the coroutine before them (`conn = sqlite3.connect(p)`, `cur = conn.cursor()`), by the caller (a
/// parameter annotated with the class) or at import (a module-level name the function does not bind).
/// A connection opened with `check_same_thread=...` is left alone (the caller chose).
fn thread_bound_use(
    ctx: &FileContext<'_>,
    stmts: &[Node<'_>],
    def: Node<'_>,
    span: Range<usize>,
    inner: &Scan,
    outside_bound: &HashSet<String>,
) -> Option<String> {
    let why_of = |class: &str| ctx.catalog.counterparts.values().find_map(|c| c.thread_bound.get(class)).cloned();
    if !ctx.catalog.counterparts.values().any(|c| !c.thread_bound.is_empty()) {
        return None;
    }
    // The class of what a call returns: a catalogued function (`sqlite3.connect`), or a method of a name
    // already typed (`conn.cursor()`).
    let returned = |typed: &HashMap<String, String>, call: Node<'_>| -> Option<String> {
        if call.kind_name() != "call" {
            return None;
        }
        let f = call.field("function")?;
        let args = call.field("arguments");
        let mut c = args?.walk();
        let chosen = args?.named_children(&mut c).any(|a| {
            a.kind_name() == "keyword_argument"
                && a.field("name").is_some_and(|n| ctx.node_text(n) == "check_same_thread")
        });
        if chosen {
            return None;
        }
        // `conn.cursor()` on a typed name, `sqlite3.connect(p).cursor()` on a typed call.
        if f.kind_name() == "attribute"
            && let Some(obj) = f.field("object")
        {
            let class = match obj.kind_name() {
                "identifier" => typed.get(ctx.node_text(obj)).cloned(),
                "call" => obj
                    .field("function")
                    .and_then(|g| ctx.imports.qualified(ctx.node_text(g)))
                    .and_then(|q| ctx.catalog.returns(&ctx.catalog.canonical(&q)).map(str::to_string)),
                _ => None,
            };
            if let Some(class) = class {
                let m = ctx.node_text(f.field("attribute")?);
                return ctx.catalog.returns(&format!("{class}.{m}")).map(str::to_string);
            }
        }
        let q = ctx.catalog.canonical(&ctx.imports.qualified(ctx.node_text(f))?);
        ctx.catalog.returns(&q).map(str::to_string)
    };
    // Names bound by `name = call(...)` or `with call(...) as name` among `roots` (not in nested scopes,
    // nor in `skip`), typed by what the call returns, in two passes (a cursor of a connection).
    let bindings = |roots: &[Node<'_>], skip: Option<&Range<usize>>, typed: &mut HashMap<String, String>| {
        for _ in 0..2 {
            // A second pass types what the first typed a use of (a cursor of a connection): a pass that
            // changed nothing would only be repeated.
            let mut changed = false;
            for root in roots {
                walk_bounded(*root, |n| {
                    if skip.is_some_and(|r| r.start <= n.start_byte() && n.end_byte() <= r.end) {
                        return false;
                    }
                    if n.id() != root.id()
                        && matches!(n.kind_name(), "function_definition" | "class_definition" | "lambda")
                    {
                        return false;
                    }
                    let (left, right) = match n.kind_name() {
                        "assignment" => (n.field("left"), n.field("right")),
                        "as_pattern" => (n.field("alias"), n.named_child(0)),
                        _ => (None, None),
                    };
                    let left = left
                        .map(|l| if l.kind_name() == "as_pattern_target" { l.named_child(0).unwrap_or(l) } else { l });
                    if let (Some(l), Some(r)) = (left.filter(|l| l.kind_name() == "identifier"), right) {
                        // `closing(x)` gives back `x`.
                        let r = if r.kind_name() == "call"
                            && r.field("function").is_some_and(|f| {
                                ctx.imports.qualified(ctx.node_text(f)).as_deref() == Some("contextlib.closing")
                            }) {
                            r.field("arguments").and_then(|a| a.named_child(0)).unwrap_or(r)
                        } else {
                            r
                        };
                        if let Some(class) = returned(typed, r).filter(|c| why_of(c).is_some()) {
                            let old = typed.insert(ctx.node_text(l).to_string(), class.clone());
                            changed |= old.as_ref() != Some(&class);
                        }
                    }
                    true
                });
            }
            if !changed {
                break;
            }
        }
    };
    // At import: module-level names the function does not bind. They are the file's, found once per
    // context (every block of the file asks: a walk of the module's statements each time was quadratic,
    // 11.7 G instructions of the 10,000-finding file's JSON run).
    let mut typed: HashMap<String, String> = ctx
        .memo
        .module_bound
        .get_or_init(|| {
            let tops: Vec<Node<'_>> = ctx
                .tops
                .iter()
                .copied()
                .filter(|n| matches!(n.kind_name(), "expression_statement" | "with_statement"))
                .collect();
            let mut typed = HashMap::new();
            bindings(&tops, None, &mut typed);
            typed
        })
        .clone();
    typed.retain(|name, _| !outside_bound.contains(name));
    // By the caller: parameters annotated with the class.
    if let Some(params) = def.field("parameters") {
        let mut c = params.walk();
        for p in params.named_children(&mut c) {
            if let (Some(name), Some(ty)) =
                (p.named_child(0).filter(|n| n.kind_name() == "identifier"), p.field("type"))
            {
                let spelled = ctx.node_text(ty).trim_matches(['"', '\'']);
                if let Some(q) = ctx.imports.qualified(spelled).map(|q| ctx.catalog.canonical(&q))
                    && why_of(&q).is_some()
                {
                    typed.insert(ctx.node_text(name).to_string(), q);
                }
            }
        }
    }
    // In the coroutine, outside the statements.
    if let Some(body) = def.field("body") {
        bindings(&[body], Some(&span), &mut typed);
    }
    if typed.is_empty() {
        return None;
    }
    let mut found: Option<(String, String, usize)> = None;
    for stmt in stmts {
        walk_bounded(*stmt, |n| {
            if found.is_some() {
                return false;
            }
            if n.kind_name() == "identifier"
                && let Some(class) = typed.get(ctx.node_text(n))
                && !inner.bound.contains_key(ctx.node_text(n))
            {
                let named = ctx.up(n).is_some_and(|p| {
                    let is = |f: &str| p.field(f).is_some_and(|x| x.id() == n.id());
                    (p.kind_name() == "attribute" && is("attribute"))
                        || (p.kind_name() == "keyword_argument" && is("name"))
                });
                if !named {
                    found = Some((ctx.node_text(n).to_string(), class.clone(), n.start_position().row + 1));
                }
            }
            true
        });
    }
    let (name, class, line) = found?;
    Some(format!("the block uses `{name}` (line {line}): {}", why_of(&class)?))
}

/// Every identifier text read or written in `range` of `root` (nested scopes included), bounded.
fn names_in(ctx: &FileContext<'_>, root: Node<'_>, range: Range<usize>) -> Option<HashSet<String>> {
    let mut out = HashSet::new();
    walk_bounded(root, |n| {
        if n.end_byte() <= range.start || n.start_byte() >= range.end {
            return false;
        }
        if n.kind_name() == "identifier" && range.start <= n.start_byte() && n.end_byte() <= range.end {
            let is_attr = ctx.up(n).is_some_and(|p| {
                p.kind_name() == "attribute" && p.field("attribute").is_some_and(|a| a.id() == n.id())
            });
            if !is_attr {
                out.insert(ctx.node_text(n).to_string());
            }
        }
        true
    })?;
    Some(out)
}

/// The file's indentation unit: what `inner`'s line is indented by past the line of `header`, the
/// statement that opens its block; where that says nothing, a tab if `indent` has one, else 4 spaces.
pub(super) fn indent_unit(text: &str, header: Node<'_>, inner: Node<'_>, indent: &str) -> String {
    let h = crate::syntax::line_start(text, header.start_byte());
    let header_indent = &text[h..h + text[h..].len() - text[h..].trim_start_matches([' ', '\t']).len()];
    let b = crate::syntax::line_start(text, inner.start_byte());
    let inner_indent = &text[b..inner.start_byte()];
    match inner_indent.strip_prefix(header_indent) {
        Some(u) if b > h && !u.is_empty() && u.chars().all(|c| c == ' ' || c == '\t') => u.to_string(),
        _ if indent.contains('\t') => "\t".to_string(),
        _ => "    ".to_string(),
    }
}

/// The strings of `root` that span lines (bounded; `None` when too large to look through).
pub(super) fn multiline_strings(ctx: &FileContext<'_>, root: Node<'_>) -> Option<Vec<Range<usize>>> {
    let mut out = Vec::new();
    // Every string opens with a quote: without one there is none (the walk below would visit every
    // node, as many as `descendant_count` says, and find nothing).
    if !ctx.node_text(root).contains(['"', '\'']) && root.descendant_count() <= MAX_NODES {
        return Some(out);
    }
    walk_bounded(root, |n| {
        if n.kind_name() != "string" {
            return true;
        }
        if ctx.node_text(n).contains('\n') {
            out.push(n.byte_range());
        }
        false
    })?;
    Some(out)
}

/// The whole-block fix for the `with` statement `with`, into `out` (a fix or a refusal); whether a fix
/// was offered. Memoized per statement and checked once: every finding of the block asks for it, and
/// it fixes them all, so it is a [`Shared`] fix (in a sharing context only the first finding asking
/// gets its edits, which hold the whole block: once per finding would be quadratic in the block).
pub(super) fn offload_block(ctx: &FileContext<'_>, with: Node<'_>, out: &mut Fixes) -> bool {
    super::shared_fix(ctx, &ctx.memo.blocks, with.id(), with.start_byte(), |f| build(ctx, with, f), out)
}

fn build(ctx: &FileContext<'_>, with: Node<'_>, out: &mut Fixes) {
    let (Some(clause), Some(block)) = (clause_of(with), with.field("body")) else { return };
    let title = format!(
        "Run the whole `with {}` block in a thread with `{}`",
        short(ctx.node_text(clause)),
        kinds::offloader_name(&kinds::offloader(ctx))
    );
    to_thread(ctx, &[with], block, with, title, "the block", out);
}

/// Moves `stmts` (consecutive statements of one block) into a nested sync function run with the file's
/// offloader, into `out` (a fix or a refusal titled `title`; `what` names the code in the reasons).
/// `top`: the block whose direct statements bind unconditionally; `header`: the statement whose
/// indentation, with `top`'s, gives the file's indentation unit.
fn to_thread(
    ctx: &FileContext<'_>,
    stmts: &[Node<'_>],
    top: Node<'_>,
    header: Node<'_>,
    title: String,
    what: &str,
    out: &mut Fixes,
) {
    let (Some(&first), Some(&last)) = (stmts.first(), stmts.last()) else { return };
    let span = first.start_byte()..last.end_byte();
    let how = kinds::offloader(ctx);
    let refuse = |out: &mut Fixes, reason: String| {
        out.refused.push(Refusal { id: FixId::OffloadBlock, title: title.clone(), reason })
    };
    if let Err(why) = kinds::await_allowed(ctx, first) {
        return refuse(out, why.replace("the call is", &format!("{what} is")));
    }
    let Some(def) = kinds::enclosing_def(ctx, first) else { return };
    let Some(body) = def.field("body") else { return };
    let fname = def.field("name").map_or("", |n| ctx.node_text(n));
    let inner = scan(ctx, stmts, None, Some(top));
    if let Some(why) = inner.refusal {
        return refuse(out, why.replace("the block", what));
    }
    if !inner.declared.is_empty() {
        return refuse(out, format!("{what} declares names `global` or `nonlocal`"));
    }
    let outer = scan(ctx, &[body], Some(span.clone()), None);
    let mut outside_bound: HashSet<String> = outer.bound.keys().cloned().collect();
    outside_bound.extend(parameters(ctx, def));
    // `del name` in a nested function unbinds a local of its own: a variable of the coroutine (or a
    // global it reads) would stay bound, or the nested function fail with `UnboundLocalError`.
    for (name, line) in &inner.deleted {
        let place = if outside_bound.contains(name) {
            Some("defined")
        } else if outer.read.contains(name) {
            Some("used")
        } else {
            None
        };
        if let Some(place) = place {
            return refuse(
                out,
                format!(
                    "`del {name}` at line {line} unbinds a name {place} outside {what} in `{fname}`: in a nested function it would unbind a local of its own"
                ),
            );
        }
    }
    if let Some(why) = thread_bound_use(ctx, stmts, def, span.clone(), &inner, &outside_bound) {
        return refuse(out, why.replace("the block", what));
    }
    for name in inner.bound.keys() {
        if outer.declared.contains(name) {
            return refuse(
                out,
                format!(
                    "`{name}` is declared `global` or `nonlocal` in `{fname}`: in a nested function {what} would assign a local"
                ),
            );
        }
        if inner.read.contains(name) && outside_bound.contains(name) {
            return refuse(
                out,
                format!(
                    "{what} reads `{name}` and assigns it: in a nested function it could not see the value `{name}` had before"
                ),
            );
        }
    }
    // Names read after the code (anywhere outside it when a loop runs it again).
    let mut in_loop = false;
    let mut n = ctx.up(first);
    for _ in 0..MAX_CLIMB {
        let Some(cur) = n.filter(|c| c.id() != def.id()) else { break };
        in_loop |= matches!(cur.kind_name(), "for_statement" | "while_statement");
        n = ctx.up(cur);
    }
    // The last statement leaves for good (`return`, `raise`): nothing after it runs.
    let jumps = matches!(last.kind_name(), "return_statement" | "raise_statement");
    let mut used = HashSet::new();
    if !jumps {
        let Some(after) = names_in(ctx, body, span.end..body.end_byte()) else { return };
        used = after;
        if in_loop {
            let Some(before) = names_in(ctx, body, body.start_byte()..span.start) else { return };
            used.extend(before);
        }
    }
    // In the order the code first binds them.
    let returned: Vec<&String> = inner.order.iter().filter(|k| used.contains(*k)).collect();
    for name in &returned {
        if !inner.bound[*name] {
            return refuse(out, format!("`{name}` is used after {what} but not assigned on every path through it"));
        }
    }
    // A `return` on some paths only: the coroutine would return there, or go on after the code; the
    // nested function's result cannot say which, unless nothing follows (falling off the end returns
    // `None` in both functions).
    let at_end = ctx.up(last).is_some_and(|p| p.id() == body.id()) && {
        let mut c = body.walk();
        body.named_children(&mut c).filter(|s| s.kind_name() != "comment").last().is_some_and(|s| s.id() == last.id())
    };
    if inner.has_return && !at_end && !jumps {
        return refuse(out, format!("{what} may return or go on, and code of `{fname}` follows it"));
    }
    // Layout: the statements' own indentation, and one level more inside the nested function.
    let text = ctx.text;
    let line = crate::syntax::line_start(text, first.start_byte());
    let indent = &text[line..first.start_byte()];
    if !indent.chars().all(|c| c == ' ' || c == '\t') {
        return;
    }
    let unit = indent_unit(text, header, top, indent);
    let nl = imports::newline(text);
    // Every `_in_thread…` identifier is in the function's text: without that text, no walk (it would
    // visit every node, as many as `descendant_count` says, and find none).
    let all_names = if !ctx.node_text(def).contains("_in_thread") && def.descendant_count() <= MAX_NODES {
        HashSet::new()
    } else {
        let Some(all) = names_in(ctx, def, def.start_byte()..def.end_byte()) else { return };
        all
    };
    let name = (1..)
        .map(|i| if i == 1 { "_in_thread".to_string() } else { format!("_in_thread_{i}") })
        .find(|n| !all_names.contains(n))
        .unwrap_or_default();
    // Re-indented one level, but for the lines inside a multi-line string (their text is the string's).
    let mut strings = Vec::new();
    for s in stmts {
        let Some(found) = multiline_strings(ctx, *s) else { return };
        strings.extend(found);
    }
    let mut moved = String::new();
    let mut at = span.start;
    for piece in text[span.clone()].split_inclusive('\n') {
        let first_line = at == span.start;
        let in_string = strings.iter().any(|r| r.start < at && at < r.end);
        if first_line || in_string {
            moved.push_str(piece);
        } else if piece.trim().is_empty() {
            moved.push_str(piece.trim_start_matches([' ', '\t']));
        } else {
            moved.push_str(&unit);
            moved.push_str(piece);
        }
        at += piece.len();
    }
    let mut edits = Vec::new();
    let scoped = ctx.imports_at(first);
    let call = kinds::offloader_call(&how, &scoped, &name, &mut edits, text);
    if let Some(why) = scoped.conflict() {
        return refuse(out, why);
    }
    let names: Vec<&str> = returned.iter().map(|s| s.as_str()).collect();
    let mut new = format!("def {name}():{nl}{indent}{unit}{moved}");
    if !names.is_empty() {
        new.push_str(&format!("{nl}{indent}{unit}return {}", names.join(", ")));
    }
    new.push_str(&format!("{nl}{nl}{indent}"));
    if inner.has_return {
        new.push_str(&format!("return await {call}"));
    } else if names.is_empty() {
        new.push_str(&format!("await {call}"));
    } else {
        new.push_str(&format!("{} = await {call}", names.join(", ")));
    }
    edits.push(Edit { range: span, text: new });
    out.fixes.push(Fix { id: FixId::OffloadBlock, title, applicability: Applicability::Unsafe, edits });
}

/// Whether `offset` lies in a `block` nested in `stmt` (the body of an `if`, a loop, a `with`...), not
/// in its header.
fn in_nested_block(ctx: &FileContext<'_>, stmt: Node<'_>, offset: usize) -> bool {
    let Some(mut n) = stmt.descendant_for_byte_range(offset, offset) else { return false };
    for _ in 0..MAX_CLIMB {
        if n.id() == stmt.id() {
            return false;
        }
        if n.kind_name() == "block" {
            return true;
        }
        match ctx.up(n) {
            Some(p) => n = p,
            None => return false,
        }
    }
    false
}

impl<'a> FileContext<'a> {
    /// A selection of statements to a thread (the editor's `refactor.extract` action on a selection):
    /// `range` snapped to the whole statements it touches in one block, and the fix moving them into a
    /// nested sync function run with the file's offloader, or its refusal with the reason (a selection
    /// that starts or ends inside a nested block and reaches past it, or code that cannot leave the
    /// coroutine). `None` when the range holds no statement. The snapped range comes with the fixes.
    pub fn offload_selection(&self, range: Range<usize>) -> Option<(Range<usize>, Fixes)> {
        let text = self.text;
        if range.start > range.end
            || range.end > text.len()
            || !text.is_char_boundary(range.start)
            || !text.is_char_boundary(range.end)
        {
            return None;
        }
        // Without the whitespace around it.
        let picked = &text[range.clone()];
        let start = range.start + (picked.len() - picked.trim_start().len());
        let end = range.start + picked.trim_end().len();
        if start >= end {
            return None;
        }
        let mut n = self.tree.root_node().descendant_for_byte_range(start, end)?;
        for _ in 0..MAX_CLIMB {
            if matches!(n.kind_name(), "block" | "module") && n.start_byte() <= start && end <= n.end_byte() {
                break;
            }
            n = self.up(n)?;
        }
        if !matches!(n.kind_name(), "block" | "module") {
            return None;
        }
        let block = n;
        let mut c = block.walk();
        let stmts: Vec<Node<'a>> = block
            .named_children(&mut c)
            .filter(|s| s.kind_name() != "comment" && s.end_byte() > start && s.start_byte() < end)
            .collect();
        let (&first, &last) = (stmts.first()?, stmts.last()?);
        let snapped = first.start_byte()..last.end_byte();
        let (l1, l2) = (first.start_position().row + 1, last.end_position().row + 1);
        let lines = if l1 == l2 { format!("line {l1}") } else { format!("lines {l1}-{l2}") };
        let title = format!(
            "Extract {lines} into a function run in a thread with `{}`",
            kinds::offloader_name(&kinds::offloader(self))
        );
        let mut out = Fixes::default();
        let across = stmts.len() > 1 && (in_nested_block(self, first, start) || in_nested_block(self, last, end - 1));
        if across {
            out.refused.push(Refusal {
                id: FixId::OffloadBlock,
                title,
                reason: "the selection starts or ends inside a nested block and reaches past it: select statements of one block".into(),
            });
            return Some((snapped, out));
        }
        // The block's own indentation unit comes from the statement that opens it.
        let header = if block.kind_name() == "block" { self.up(block).unwrap_or(first) } else { first };
        to_thread(self, &stmts, block, header, title, "the selection", &mut out);
        self.keep_sound(&mut out);
        Some((snapped, out))
    }

    /// The whole-block fix for the sync `with` statement the target's call enters or goes through.
    pub fn offload_block_for(&self, target: &super::Target) -> Fixes {
        let mut out = Fixes::default();
        if target.range.end > self.text.len() || target.range.start > target.range.end || !target.rule.is_blocking() {
            return out;
        }
        if let Some(w) = self.call_node(&target.range).and_then(|call| tied_with(self, call)) {
            offload_block(self, w, &mut out);
            self.keep_sound(&mut out);
        }
        out
    }

    fn keep_sound(&self, out: &mut Fixes) {
        out.fixes.retain_mut(|f| {
            super::normalize(&mut f.edits);
            !f.edits.is_empty() && !self.breaks_syntax(&f.edits)
        });
    }

    /// The whole-block fix for the sync `with` statement whose header holds `offset` (the editor's
    /// `refactor.extract` action): a fix, a refusal with its reason, or nothing when no `with` statement
    /// in a coroutine is there.
    pub fn offload_block_at(&self, offset: usize) -> Fixes {
        let mut out = Fixes::default();
        if offset > self.text.len() {
            return out;
        }
        let Some(mut n) = self.tree.root_node().descendant_for_byte_range(offset, offset) else { return out };
        for _ in 0..MAX_CLIMB {
            if n.kind_name() == "with_statement" {
                let header_end = n.field("body").map_or(n.end_byte(), |b| b.start_byte());
                if n.child(0).is_some_and(|c| c.kind_name() == "with") && offset < header_end {
                    offload_block(self, n, &mut out);
                    self.keep_sound(&mut out);
                }
                return out;
            }
            if matches!(n.kind_name(), "function_definition" | "class_definition" | "module") {
                return out;
            }
            match self.up(n) {
                Some(p) => n = p,
                None => return out,
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Catalog, FixKind};
    use crate::fix::{Options, Target};
    use crate::rules::Rule;

    /// The whole-block fix for the `fh.read()` of the function `f` in `text`: its text, or the reason.
    fn block_for(text: &str, at: &str) -> Result<String, String> {
        let tree = crate::syntax::parse(text, None).unwrap();
        let options = Options::default();
        let ctx = FileContext::new(text, &tree, Catalog::bundled(), &options);
        let start = text.find(at).unwrap();
        let target = Target {
            rule: Rule::BlockingFile,
            callee: Some("io.TextIOWrapper.read".into()),
            kinds: vec![FixKind::Offload],
            range: start..start + at.len(),
            chain: false,
        };
        let fixes = ctx.offload_block_for(&target);
        match (fixes.fixes.first(), fixes.refused.first()) {
            (Some(f), _) => Ok(crate::fix::apply(text, &f.edits).unwrap()),
            (None, Some(r)) => Err(r.reason.clone()),
            (None, None) => Err(String::new()),
        }
    }

    #[test]
    fn each_refusal_says_why() {
        let cases = [
            ("async def f(p):\n    with open(p) as fh:\n        await g()\n        fh.read()\n", "awaits"),
            ("async def f(p):\n    with open(p) as fh:\n        yield fh.read()\n", "yields"),
            (
                "async def f(ps):\n    for p in ps:\n        with open(p) as fh:\n            if fh.read():\n                break\n",
                "`break` at line 5",
            ),
            (
                "async def f(ps):\n    while ps:\n        with open(ps.pop()) as fh:\n            fh.read()\n            continue\n",
                "`continue` at line 5",
            ),
            (
                "n = 0\n\n\nasync def f(p):\n    global n\n    with open(p) as fh:\n        n = fh.read()\n",
                "`n` is declared `global`",
            ),
            (
                "async def f(p):\n    with open(p) as fh:\n        nonlocal_thing = 1\n        global q\n        fh.read()\n",
                "declares names",
            ),
            (
                "async def f(p):\n    with open(p) as fh:\n        return fh.read()\n    return 1\n",
                "code of `f` follows it",
            ),
            (
                "async def f(p):\n    t = ''\n    with open(p) as fh:\n        t += fh.read()\n    return t\n",
                "reads `t` and assigns it",
            ),
            (
                "async def f(p):\n    with open(p) as fh:\n        if p:\n            t = fh.read()\n    return t\n",
                "`t` is used after the block but not assigned on every path",
            ),
            (
                "class C(B):\n    async def f(self, p):\n        with open(p) as fh:\n            super().g(fh.read())\n",
                "`super()`",
            ),
            ("def f(p):\n    with open(p) as fh:\n        fh.read()\n", "not in an `async def`"),
        ];
        for (text, why) in cases {
            let got = block_for(text, "fh.read");
            assert!(matches!(&got, Err(r) if r.contains(why)), "{text}\n{got:?}, expected a refusal with {why:?}");
        }
    }

    #[test]
    fn a_sqlite3_connection_opened_outside_the_code_keeps_it_on_the_event_loop() {
        let why = "the sqlite3 connection was opened in another thread";
        let cursor = "the sqlite3 cursor's connection was opened in another thread";
        let cases = [
            // In the coroutine before the block, by the caller (annotated), at import; and its cursor.
            (
                "import sqlite3\nfrom contextlib import closing\n\n\nasync def f(p):\n    conn = sqlite3.connect(p)\n    with closing(conn.cursor()) as cur:\n        cur.execute('SELECT 1')\n        return cur.fetchall()\n",
                "cur.execute",
                "the block uses `conn` (line 7)",
            ),
            (
                "import sqlite3\nfrom contextlib import closing\n\n\nasync def f(conn: sqlite3.Connection):\n    with closing(conn.cursor()) as cur:\n        cur.execute('SELECT 1')\n",
                "cur.execute",
                why,
            ),
            (
                "import sqlite3\nfrom contextlib import closing\n\nDB = sqlite3.connect('a.db')\n\n\nasync def f():\n    with closing(DB.cursor()) as cur:\n        cur.execute('SELECT 1')\n",
                "cur.execute",
                "the block uses `DB` (line 8)",
            ),
            (
                "import sqlite3\n\n\nasync def f(p, path):\n    cur = sqlite3.connect(p).cursor()\n    with open(path) as fh:\n        cur.execute(fh.read())\n",
                "fh.read",
                cursor,
            ),
        ];
        for (text, at, reason) in cases {
            let got = block_for(text, at);
            assert!(
                matches!(&got, Err(r) if r.contains(reason)),
                "{text}\n{got:?}, expected a refusal with {reason:?}"
            );
        }
        // Opened in the block, shadowed by the coroutine, or opened with `check_same_thread`: it moves.
        let moves = [
            "import sqlite3\nfrom contextlib import closing\n\nconn = sqlite3.connect('a.db')\n\n\nasync def f(p):\n    with closing(sqlite3.connect(p)) as conn:\n        conn.execute('SELECT 1')\n",
            "import sqlite3\nfrom contextlib import closing\n\nconn = sqlite3.connect('a.db')\n\n\nasync def f(p, conn):\n    with open(p) as fh:\n        conn.execute(fh.read())\n",
            "import sqlite3\n\n\nasync def f(p, path):\n    conn = sqlite3.connect(p, check_same_thread=False)\n    with open(path) as fh:\n        conn.execute(fh.read())\n",
        ];
        for text in moves {
            let at = if text.contains("fh.read") { "fh.read" } else { "conn.execute" };
            assert!(block_for(text, at).is_ok_and(|t| t.contains("to_thread(_in_thread)")), "{text}");
        }
        // A selection too.
        let got = select(
            "import sqlite3\n\n\nasync def f(p):\n    conn = sqlite3.connect(p)\n    |rows = conn.execute('SELECT 1').fetchall()|\n    return rows\n",
        );
        assert!(matches!(&got, Some(Err(r)) if r.contains("the selection uses `conn`") && r.contains(why)), "{got:?}");
    }

    #[test]
    fn a_loop_body_and_nested_scopes_stay_inside() {
        // `break` of a loop inside the block, a comprehension variable and a nested function are the
        // block's own; `x` used before the block in a loop around it comes back.
        let text = "async def f(ps):\n    x = None\n    for p in ps:\n        print(x)\n        with open(p) as fh:\n            for line in fh:\n                break\n            x = [c for c in fh.read()]\n\n            def g():\n                return c\n";
        let fixed = block_for(text, "fh.read").unwrap();
        assert_eq!(
            fixed,
            "import asyncio\nasync def f(ps):\n    x = None\n    for p in ps:\n        print(x)\n        def _in_thread():\n            with open(p) as fh:\n                for line in fh:\n                    break\n                x = [c for c in fh.read()]\n\n                def g():\n                    return c\n            return x\n\n        x = await asyncio.to_thread(_in_thread)\n"
        );
        // The nested function's name is not taken.
        let text = "async def f(p, _in_thread):\n    with open(p) as fh:\n        fh.read()\n";
        assert!(block_for(text, "fh.read").unwrap().contains("def _in_thread_2():"));
    }

    #[test]
    fn a_with_in_a_coroutine_is_offered_at_its_header_only() {
        let text = "import asyncio\n\n\nasync def f(p):\n    with open(p) as fh:\n        fh.read()\n";
        let tree = crate::syntax::parse(text, None).unwrap();
        let options = Options::default();
        let ctx = FileContext::new(text, &tree, Catalog::bundled(), &options);
        assert_eq!(ctx.offload_block_at(text.find("open").unwrap()).fixes.len(), 1);
        assert!(ctx.offload_block_at(text.find("fh.read").unwrap()).fixes.is_empty(), "the body is not the header");
        assert!(ctx.offload_block_at(0).fixes.is_empty());
    }
    /// The selection fix for the text between the two `|` marks of `marked` (removed): the fixed text,
    /// or the reason of its refusal; `None` when the selection holds no statement.
    fn select(marked: &str) -> Option<Result<String, String>> {
        let start = marked.find('|').unwrap();
        let end = marked[start + 1..].find('|').unwrap() + start;
        let text = marked.replacen('|', "", 2);
        let tree = crate::syntax::parse(&text, None).unwrap();
        let options = Options::default();
        let ctx = FileContext::new(&text, &tree, Catalog::bundled(), &options);
        let (_, fixes) = ctx.offload_selection(start..end)?;
        Some(match (fixes.fixes.first(), fixes.refused.first()) {
            (Some(f), _) => Ok(crate::fix::apply(&text, &f.edits).unwrap()),
            (None, Some(r)) => Err(r.reason.clone()),
            (None, None) => Err(String::new()),
        })
    }

    #[test]
    fn a_selection_snaps_to_whole_statements_and_returns_what_is_used_after() {
        // From the middle of one line to the middle of another: both statements; two names come back.
        let got = select(
            "import asyncio\n\n\nasync def f(p, n):\n    with op|en(p) as fh:\n        a = fh.read()\n    b = len(|a)\n    return a, b\n",
        );
        assert_eq!(
            got,
            Some(Ok("import asyncio\n\n\nasync def f(p, n):\n    def _in_thread():\n        with open(p) as fh:\n            a = fh.read()\n        b = len(a)\n        return a, b\n\n    a, b = await asyncio.to_thread(_in_thread)\n    return a, b\n".into()))
        );
        // Ending in `return`: the coroutine returns the function's result, even with dead code after.
        let got = select("async def f(p):\n    |x = open(p).read()\n    return x|\n    print(x)\n");
        assert_eq!(
            got,
            Some(Ok("import asyncio\nasync def f(p):\n    def _in_thread():\n        x = open(p).read()\n        return x\n\n    return await asyncio.to_thread(_in_thread)\n    print(x)\n".into()))
        );
        // A `return` on some paths, at the end of the coroutine: falling off either function returns None.
        let got = select("async def f(p):\n    |if p:\n        return open(p).read()\n    print(p)|\n");
        assert!(got.unwrap().unwrap().contains("    return await asyncio.to_thread(_in_thread)\n"));
        // Inside a nested block, with the file's own indentation (two spaces).
        let got = select("async def f(ps):\n  for p in ps:\n    |t = open(p).read()|\n    print(t)\n");
        assert_eq!(
            got,
            Some(Ok("import asyncio\nasync def f(ps):\n  for p in ps:\n    def _in_thread():\n      t = open(p).read()\n      return t\n\n    t = await asyncio.to_thread(_in_thread)\n    print(t)\n".into()))
        );
        // `del` of a name the selection alone binds and uses: it moves with it.
        let got = select("async def f(p):\n    |t = open(p).read()\n    del t|\n    print(p)\n");
        assert!(got.unwrap().unwrap().contains("        del t\n"));
        // Only blank lines and comments: nothing.
        assert_eq!(select("async def f(p):\n    print(p)\n|\n    # note\n|    print(p)\n"), None);
    }

    #[test]
    fn each_selection_refusal_says_why() {
        let cases = [
            ("async def f(p):\n    |x = open(p).read()\n    await g(x)|\n", "the selection awaits"),
            ("async def f(p):\n    |x = open(p).read()\n    yield x|\n", "the selection yields"),
            ("async def f(ps):\n    for p in ps:\n        |open(p).read()\n        break|\n", "`break` at line 4"),
            (
                "async def f(p):\n    |if p:\n        return 1\n    open(p).read()|\n    return 2\n",
                "may return or go on",
            ),
            ("async def f(p):\n    if p:\n        |open(p).read()\n    print(p)|\n", "inside a nested block"),
            ("async def f(p):\n    |x = 1\n    nonlocal y\n    open(p).read()|\n", "declares names"),
            (
                "async def f(ps):\n    for p in ps:\n        |for q in p:\n            open(q).read()\n        else:\n            break|\n",
                "`break` at line 6",
            ),
            ("async def f(p):\n    global n\n    |n = open(p).read()|\n", "`n` is declared `global`"),
            (
                "async def f(p):\n    x = 1\n    |open(p).read()\n    del x|\n",
                "`del x` at line 4 unbinds a name defined outside",
            ),
            ("async def f(p):\n    |open(p).read()\n    del p|\n", "`del p` at line 3 unbinds a name defined outside"),
            (
                "async def f(p):\n    |open(p).read()\n    del (a, b)|\n    print(b)\n",
                "`del b` at line 3 unbinds a name used outside",
            ),
            (
                "async def f(p):\n    |open(p).read()\n    del cache|\n    return cache\n",
                "`del cache` at line 3 unbinds a name used outside",
            ),
            ("def f(p):\n    |open(p).read()|\n", "not in an `async def`"),
            ("|import os\nos.getcwd()|\n", "not in an `async def`"),
        ];
        for (marked, why) in cases {
            let got = select(marked);
            assert!(
                matches!(&got, Some(Err(r)) if r.contains(why)),
                "{marked}\n{got:?}, expected a refusal with {why:?}"
            );
        }
    }
    #[test]
    fn any_range_of_broken_code_gets_an_answer() {
        let text = "async def f(p):\n    with open(p) as fh:\n        é = fh.read(\n    if p:\n  return é\n\tx = (\nasync def g(: \n";
        let tree = crate::syntax::parse(text, None).unwrap();
        let options = Options::default();
        let ctx = FileContext::new(text, &tree, Catalog::bundled(), &options);
        for start in 0..=text.len() + 1 {
            for end in start.saturating_sub(1)..=text.len() + 1 {
                if let Some((span, fixes)) = ctx.offload_selection(start..end) {
                    assert!(span.start <= span.end && span.end <= text.len());
                    for f in fixes.fixes {
                        assert!(crate::fix::apply(text, &f.edits).is_some());
                    }
                }
            }
        }
    }
}
