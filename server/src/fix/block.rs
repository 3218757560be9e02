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

use super::kinds::{self, MAX_NODES, short};
use super::{Applicability, Edit, FileContext, Fix, FixId, Fixes, Refusal, imports};

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
        match cur.kind() {
            "function_definition" | "lambda" | "class_definition" | "module" => return None,
            "with_statement" if cur.child(0).is_some_and(|c| c.kind() == "with") => {
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
    with.children(&mut c).find(|n| n.kind() == "with_clause")
}

/// The names a `with` clause binds to the result of a call (`as fh` of `open(p) as fh`).
fn call_aliases(ctx: &FileContext<'_>, clause: Node<'_>) -> HashSet<String> {
    let mut out = HashSet::new();
    let mut c = clause.walk();
    for item in clause.named_children(&mut c) {
        let Some(value) = item.child_by_field_name("value").filter(|v| v.kind() == "as_pattern") else { continue };
        if value.named_child(0).is_none_or(|v| v.kind() != "call") {
            continue;
        }
        if let Some(alias) = value.child_by_field_name("alias") {
            let mut c = alias.walk();
            for id in alias.named_children(&mut c).filter(|n| n.kind() == "identifier") {
                out.insert(ctx.node_text(id).to_string());
            }
        }
    }
    out
}

/// Whether the call's callee is reached through one of `names`, or passes one as a direct argument.
fn uses_any(ctx: &FileContext<'_>, call: Node<'_>, names: &HashSet<String>) -> bool {
    let through = call
        .child_by_field_name("function")
        .and_then(kinds::root_identifier)
        .is_some_and(|r| names.contains(ctx.node_text(r)));
    through
        || call.child_by_field_name("arguments").is_some_and(|args| {
            let mut c = args.walk();
            args.named_children(&mut c).any(|a| {
                let v = if a.kind() == "keyword_argument" { a.child_by_field_name("value") } else { Some(a) };
                v.is_some_and(|v| v.kind() == "identifier" && names.contains(ctx.node_text(v)))
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
    refusal: Option<String>,
}

/// Walks `root` (a statement, or a function body without `exclude`), skipping nested scopes' bodies.
/// `top`: the block whose direct statements count as unconditional bindings.
fn scan(ctx: &FileContext<'_>, root: Node<'_>, exclude: Option<Range<usize>>, top: Option<Node<'_>>) -> Scan {
    let mut s = Scan::default();
    let mut binding: HashSet<usize> = HashSet::new();
    let mut ignored: HashSet<usize> = HashSet::new();
    // (node, inside a loop of the scanned code)
    let mut stack = vec![(root, false)];
    let mut seen = 0;
    // Whether a binding at `n` happens whenever the block runs: no branch, loop, `try` or short-circuit
    // between it and the block (or the statement's own clause).
    let top_level = |n: Node<'_>| {
        let Some(b) = top else { return false };
        let mut m = n;
        for _ in 0..MAX_CLIMB {
            let Some(p) = ctx.up(m) else { return false };
            if p.id() == b.id() || p.id() == root.id() {
                return true;
            }
            if CONDITIONAL.contains(&p.kind()) {
                return false;
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
        match n.kind() {
            "function_definition" | "class_definition" if n.id() != root.id() => {
                if let Some(name) = n.child_by_field_name("name") {
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
            "for_statement" | "with_statement" if n.child(0).is_some_and(|c| c.kind() == "async") => {
                s.refusal.get_or_insert_with(|| "the block uses `async for` or `async with`".into());
            }
            "for_in_clause" => {
                if n.prev_sibling().is_some_and(|c| c.kind() == "async")
                    || n.child(0).is_some_and(|c| c.kind() == "async")
                {
                    s.refusal.get_or_insert_with(|| "the block has an async comprehension".into());
                }
                if let Some(left) = n.child_by_field_name("left") {
                    targets(left, &mut |id| {
                        ignored.insert(id.id());
                    });
                }
            }
            "break_statement" | "continue_statement" if !in_loop => {
                let what = if n.kind() == "break_statement" { "break" } else { "continue" };
                s.refusal.get_or_insert_with(|| {
                    format!("`{what}` at line {} leaves the block for a loop around it", n.start_position().row + 1)
                });
            }
            "return_statement" => s.has_return = true,
            "global_statement" | "nonlocal_statement" => {
                let mut c = n.walk();
                for id in n.named_children(&mut c).filter(|c| c.kind() == "identifier") {
                    s.declared.insert(ctx.node_text(id).to_string());
                    ignored.insert(id.id());
                }
            }
            "assignment" | "for_statement" => {
                if let Some(left) = n.child_by_field_name("left") {
                    targets(left, &mut |id| bind(&mut s, id));
                }
            }
            "augmented_assignment" => {
                if let Some(left) = n.child_by_field_name("left").filter(|l| l.kind() == "identifier") {
                    bind(&mut s, left);
                    s.read.insert(ctx.node_text(left).to_string());
                }
            }
            "as_pattern" => {
                if let Some(alias) = n.child_by_field_name("alias") {
                    targets(alias, &mut |id| bind(&mut s, id));
                }
            }
            "named_expression" => {
                if let Some(name) = n.child_by_field_name("name") {
                    bind(&mut s, name);
                }
            }
            "import_statement" | "import_from_statement" => {
                let mut c = n.walk();
                let names: Vec<Node<'_>> = n.children_by_field_name("name", &mut c).collect();
                for name in names {
                    let id = match name.kind() {
                        "aliased_import" => name.child_by_field_name("alias"),
                        "dotted_name" => name.named_child(0),
                        _ => None,
                    };
                    if let Some(id) = id.filter(|i| i.kind() == "identifier") {
                        bind(&mut s, id);
                    }
                }
                continue;
            }
            "attribute" => {
                if let Some(a) = n.child_by_field_name("attribute") {
                    ignored.insert(a.id());
                }
            }
            "keyword_argument" => {
                if let Some(a) = n.child_by_field_name("name") {
                    ignored.insert(a.id());
                }
            }
            "call" => {
                let zero_arg_super = n.child_by_field_name("function").is_some_and(|f| ctx.node_text(f) == "super")
                    && n.child_by_field_name("arguments").is_some_and(|a| a.named_child_count() == 0);
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
        let loop_body = in_loop || matches!(n.kind(), "for_statement" | "while_statement");
        let mut c = n.walk();
        let children: Vec<Node<'_>> = n.children(&mut c).collect();
        stack.extend(children.into_iter().rev().map(|ch| (ch, loop_body)));
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
        match n.kind() {
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
    let Some(params) = def.child_by_field_name("parameters") else { return out };
    let mut c = params.walk();
    for p in params.named_children(&mut c) {
        let id = match p.kind() {
            "identifier" => Some(p),
            "default_parameter" | "typed_default_parameter" => p.child_by_field_name("name"),
            _ => {
                let mut c = p.walk();
                let first = p
                    .named_children(&mut c)
                    .find(|x| matches!(x.kind(), "identifier" | "list_splat_pattern" | "dictionary_splat_pattern"));
                first.and_then(|x| if x.kind() == "identifier" { Some(x) } else { x.named_child(0) })
            }
        };
        if let Some(id) = id.filter(|i| i.kind() == "identifier") {
            out.insert(ctx.node_text(id).to_string());
        }
    }
    out
}

/// Visits `root` and its descendants depth first (a node's children only where `visit` returns true),
/// at most `MAX_NODES` of them: `None` when the tree is too large to look through.
fn walk_bounded<'t>(root: Node<'t>, mut visit: impl FnMut(Node<'t>) -> bool) -> Option<()> {
    let mut stack = vec![root];
    let mut seen = 0;
    while let Some(n) = stack.pop() {
        seen += 1;
        if seen > MAX_NODES {
            return None;
        }
        if visit(n) {
            let mut c = n.walk();
            stack.extend(n.children(&mut c));
        }
    }
    Some(())
}

/// Every identifier text read or written in `range` of `root` (nested scopes included), bounded.
fn names_in(ctx: &FileContext<'_>, root: Node<'_>, range: Range<usize>) -> Option<HashSet<String>> {
    let mut out = HashSet::new();
    walk_bounded(root, |n| {
        if n.end_byte() <= range.start || n.start_byte() >= range.end {
            return false;
        }
        if n.kind() == "identifier" && range.start <= n.start_byte() && n.end_byte() <= range.end {
            let is_attr = ctx.up(n).is_some_and(|p| {
                p.kind() == "attribute" && p.child_by_field_name("attribute").is_some_and(|a| a.id() == n.id())
            });
            if !is_attr {
                out.insert(ctx.node_text(n).to_string());
            }
        }
        true
    })?;
    Some(out)
}

/// The strings of `root` that span lines (bounded; `None` when too large to look through).
fn multiline_strings(ctx: &FileContext<'_>, root: Node<'_>) -> Option<Vec<Range<usize>>> {
    let mut out = Vec::new();
    walk_bounded(root, |n| {
        if n.kind() != "string" {
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
    let Some(clause) = clause_of(with) else { return };
    let how = kinds::offloader(ctx);
    let title = format!(
        "Run the whole `with {}` block in a thread with `{}`",
        short(ctx.node_text(clause)),
        kinds::offloader_name(&how)
    );
    let refuse = |out: &mut Fixes, reason: String| {
        out.refused.push(Refusal { id: FixId::OffloadBlock, title: title.clone(), reason })
    };
    if let Err(why) = kinds::await_allowed(ctx, with) {
        return refuse(out, why.replace("the call is", "the block is"));
    }
    let Some(def) = kinds::enclosing_def(ctx, with) else { return };
    let (Some(body), Some(block)) = (def.child_by_field_name("body"), with.child_by_field_name("body")) else {
        return;
    };
    let fname = def.child_by_field_name("name").map_or("", |n| ctx.node_text(n));
    let inner = scan(ctx, with, None, Some(block));
    if let Some(why) = inner.refusal {
        return refuse(out, why);
    }
    if !inner.declared.is_empty() {
        return refuse(out, "the block declares names `global` or `nonlocal`".into());
    }
    let outer = scan(ctx, body, Some(with.byte_range()), None);
    let mut outside_bound: HashSet<String> = outer.bound.keys().cloned().collect();
    outside_bound.extend(parameters(ctx, def));
    for name in inner.bound.keys() {
        if outer.declared.contains(name) {
            return refuse(
                out,
                format!(
                    "`{name}` is declared `global` or `nonlocal` in `{fname}`: in a nested function the block would assign a local"
                ),
            );
        }
        if inner.read.contains(name) && outside_bound.contains(name) {
            return refuse(
                out,
                format!(
                    "the block reads `{name}` and assigns it: in a nested function it could not see the value `{name}` had before"
                ),
            );
        }
    }
    // Names read after the block (anywhere outside it when a loop runs it again).
    let mut in_loop = false;
    let mut n = ctx.up(with);
    for _ in 0..MAX_CLIMB {
        let Some(cur) = n.filter(|c| c.id() != def.id()) else { break };
        in_loop |= matches!(cur.kind(), "for_statement" | "while_statement");
        n = ctx.up(cur);
    }
    let Some(mut used) = names_in(ctx, body, with.end_byte()..body.end_byte()) else { return };
    if in_loop {
        let Some(before) = names_in(ctx, body, body.start_byte()..with.start_byte()) else { return };
        used.extend(before);
    }
    // In the order the block first binds them.
    let returned: Vec<&String> = inner.order.iter().filter(|k| used.contains(*k)).collect();
    for name in &returned {
        if !inner.bound[*name] {
            return refuse(out, format!("`{name}` is used after the block but not assigned on every path through it"));
        }
    }
    let last = {
        let mut c = body.walk();
        body.named_children(&mut c).filter(|s| s.kind() != "comment").last().is_some_and(|s| s.id() == with.id())
    };
    if inner.has_return && !last {
        return refuse(out, format!("the block returns, and code of `{fname}` follows it"));
    }
    // Layout: the statement's own indentation, and one level more inside the nested function.
    let text = ctx.text;
    let line = imports::line_start(text, with.start_byte());
    let indent = &text[line..with.start_byte()];
    if !indent.chars().all(|c| c == ' ' || c == '\t') {
        return;
    }
    let unit = {
        let b = imports::line_start(text, block.start_byte());
        let inner_indent = &text[b..block.start_byte()];
        match inner_indent.strip_prefix(indent) {
            Some(u) if b > line && !u.is_empty() && u.chars().all(|c| c == ' ' || c == '\t') => u.to_string(),
            _ if indent.contains('\t') => "\t".to_string(),
            _ => "    ".to_string(),
        }
    };
    let nl = imports::newline(text);
    let Some(all_names) = names_in(ctx, def, def.start_byte()..def.end_byte()) else { return };
    let name = (1..)
        .map(|i| if i == 1 { "_in_thread".to_string() } else { format!("_in_thread_{i}") })
        .find(|n| !all_names.contains(n))
        .unwrap_or_default();
    // Re-indented one level, but for the lines inside a multi-line string (their text is the string's).
    let Some(strings) = multiline_strings(ctx, with) else { return };
    let mut moved = String::new();
    let mut at = with.start_byte();
    for piece in text[with.byte_range()].split_inclusive('\n') {
        let first = at == with.start_byte();
        let in_string = strings.iter().any(|r| r.start < at && at < r.end);
        if first || in_string {
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
    let scoped = ctx.imports_at(with);
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
    edits.push(Edit { range: with.byte_range(), text: new });
    out.fixes.push(Fix { id: FixId::OffloadBlock, title, applicability: Applicability::Unsafe, edits });
}

impl<'a> FileContext<'a> {
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
            if n.kind() == "with_statement" {
                let header_end = n.child_by_field_name("body").map_or(n.end_byte(), |b| b.start_byte());
                if n.child(0).is_some_and(|c| c.kind() == "with") && offset < header_end {
                    offload_block(self, n, &mut out);
                    self.keep_sound(&mut out);
                }
                return out;
            }
            if matches!(n.kind(), "function_definition" | "class_definition" | "module") {
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
}
