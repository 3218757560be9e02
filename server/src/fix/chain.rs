//! Make the chain async, within one module: for a chain finding (a coroutine calls a sync function of
//! the file that blocks further down), every sync function on the chain becomes `async def`, every call
//! to one of them is awaited, and the blocking call at the end becomes its async counterpart (the async
//! sleep, httpx or async file fix, written as if the function were already a coroutine).
//!
//! Refused, with the reason naming the place, where a converted function is used by code that cannot
//! await it: a sync function that is not on the chain, module-level code, a lambda, a generator
//! expression, or a reference that is not a call (a callback, `map(f, ...)`, `Depends(f)`); and where a
//! function on the chain is decorated, a method, or a generator. Only the file is looked at: this is the
//! fix's single-module form (the tests' before/after pairs, and what the editor falls back to for a
//! document that is not a workspace file); the editor and `check --unsafe-fixes` use
//! `workspace::make_async_everywhere`, which follows the chain into other modules and awaits every call
//! site in the workspace, with `rewrite_ends` shared. Always unsafe: the blocking library is replaced
//! by another one, with its own errors.

use std::collections::{HashMap, HashSet, VecDeque};

use tree_sitter::Node;

use super::kinds::{self, MAX_NODES, await_allowed, awaited};
use super::{Applicability, Edit, FileContext, Fix, FixId, Fixes, Refusal, Target, httpx};
use crate::catalog::FixKind;

/// How many functions the search for the chain visits.
const MAX_FUNCTIONS: usize = 256;

/// The fixes for the blocking call at the end of the chain, in the order they are preferred.
const COUNTERPARTS: &[FixId] = &[FixId::AsyncSleep, FixId::Httpx, FixId::AsyncFile, FixId::AsyncDriver];

pub(super) fn make_async(ctx: &FileContext<'_>, t: &Target, call: Node<'_>, out: &mut Fixes) {
    let Some(func) = call.child_by_field_name("function").filter(|f| f.kind() == "identifier") else { return };
    let Some(callee) = t.callee.as_deref() else { return };
    let first = ctx.node_text(func);
    let title = format!("Make `{first}` and the functions it calls down to `{callee}` async");
    let refuse = |out: &mut Fixes, reason: String| {
        out.refused.push(Refusal { id: FixId::MakeAsync, title: title.clone(), reason })
    };
    let defs = module_functions(ctx);
    // Breadth first from the called function to the first one that makes the blocking call.
    let mut parent: HashMap<&str, &str> = HashMap::new();
    let mut queue = VecDeque::from([first]);
    let mut seen = HashSet::from([first]);
    let mut end: Option<(&str, Vec<Node<'_>>)> = None;
    while let Some(name) = queue.pop_front() {
        if seen.len() > MAX_FUNCTIONS {
            break;
        }
        let Some(def) = defs.get(name) else { continue };
        let Some(body) = def.child_by_field_name("body") else { continue };
        let calls = calls_in(ctx, body);
        let ends = ends_among(ctx, &calls, callee);
        if !ends.is_empty() {
            end = Some((name, ends));
            break;
        }
        for c in calls {
            if let Some(f) = c.child_by_field_name("function").filter(|f| f.kind() == "identifier") {
                let next = ctx.node_text(f);
                if defs.contains_key(next) && seen.insert(next) {
                    parent.insert(next, name);
                    queue.push_back(next);
                }
            }
        }
    }
    let Some((last, ends)) = end else {
        return refuse(
            out,
            format!(
                "the chain from `{first}` to `{callee}` does not stay in this module (or calls it by another name)"
            ),
        );
    };
    let mut chain = vec![last];
    while let Some(p) = parent.get(chain[chain.len() - 1]) {
        chain.push(p);
    }
    chain.reverse();
    // The other sync functions using a module-level client the end's commands go through (`cache.get`):
    // the client becomes the async one, so they become coroutines too, awaited where they are called.
    let chain_len = chain.len();
    for end in &ends {
        for d in super::db::sync_users(ctx, *end, callee) {
            let Some(name) = d.child_by_field_name("name").map(|n| ctx.node_text(n)) else { continue };
            if !chain.contains(&name) && defs.get(name).is_some_and(|x| x.id() == d.id()) {
                chain.push(name);
            }
        }
    }
    let on_chain: HashSet<&str> = chain.iter().copied().collect();
    let mut edits = Vec::new();
    let mut sites: Vec<Node<'_>> = Vec::new();
    for (k, name) in chain.iter().enumerate() {
        let def = defs[name];
        let user_route = k >= chain_len && ctx.is_endpoint(def);
        if ctx.up(def).is_some_and(|p| p.kind() == "decorated_definition") && !user_route {
            return refuse(
                out,
                format!("`{name}` is decorated: whatever the decorator does with it expects a sync function"),
            );
        }
        if let Some(body) = def.child_by_field_name("body")
            && let Some(why) = kinds::needs_the_loop_in(ctx.text, ctx.catalog, body, true)
            && why.contains("generator")
        {
            return refuse(out, format!("`{name}` is a generator"));
        }
        match uses(ctx, name, def, &on_chain) {
            Ok(calls) => sites.extend(calls),
            Err(why) => return refuse(out, why),
        }
        edits.push(Edit { range: def.start_byte()..def.start_byte(), text: "async ".into() });
    }
    // Nested calls (`hits(seen(u))`) compose: each is awaited by insertions around it.
    sites.sort_by_key(|c| (c.start_byte(), std::cmp::Reverse(c.end_byte())));
    sites.dedup_by_key(|c| c.id());
    for c in &sites {
        edits.extend(await_insertions(ctx, *c));
    }
    edits.sort_by_key(|e| (e.range.start, e.range.end));
    let counterpart = match rewrite_ends(ctx, t, callee, &ends, &mut edits) {
        Ok((c, _, _)) => c,
        Err(why) => return refuse(out, why),
    };
    let names: Vec<String> = chain.iter().map(|n| format!("`{n}`")).collect();
    let title = format!(
        "Make {} async, await {} call site{}, and {}",
        names.join(", "),
        sites.len(),
        if sites.len() == 1 { "" } else { "s" },
        lowercase_first(&counterpart)
    );
    out.fixes.push(Fix { id: FixId::MakeAsync, title, applicability: Applicability::Unsafe, edits });
}

/// Rewrites the blocking calls `ends` (of `ctx`'s file) to their async counterpart, as if their function
/// were already a coroutine: `edits` (the file's other edits of the fix, sorted) are applied, the
/// counterpart fix is built on that text and mapped back, and its edits join `edits`. The counterpart
/// fix's title, kind and the package it brings in (`httpx`, `aiosqlite`), or why it cannot be written.
pub(super) fn rewrite_ends(
    ctx: &FileContext<'_>,
    t: &Target,
    callee: &str,
    ends: &[Node<'_>],
    edits: &mut Vec<Edit>,
) -> Result<(String, FixId, Option<String>), String> {
    edits.sort_by_key(|e| (e.range.start, e.range.end));
    let new_text = super::apply(ctx.text, edits).ok_or("the rewrites of the chain overlap")?;
    let tree = super::reparse(ctx.text, ctx.tree, edits, &new_text).ok_or("the rewritten file does not parse")?;
    let ctx2 = FileContext::new(&new_text, &tree, ctx.catalog, ctx.options);
    let mut counterpart = None;
    let mut end_edits = Vec::new();
    let mut dropped = Vec::new();
    let mut sessions = Vec::new();
    for end in ends {
        let line = end.start_position().row + 1;
        let range = forward(edits, end.byte_range())
            .ok_or_else(|| format!("the call at line {line} shares its statement with a call to the chain"))?;
        // An operation on a client made in the function whose async counterpart is entered
        // (`boto3.client` → `aioboto3`): the client's uses go into `async with`, every operation awaited.
        if let Some(c) = ctx2.call_node(&range).and_then(|c| super::db::local_client(&ctx2, c, callee)) {
            if !sessions.contains(&c.stmt.id()) {
                sessions.push(c.stmt.id());
                let fix =
                    super::db::local_client_fix(&ctx2, &c).map_err(|why| format!("the call at line {line}: {why}"))?;
                carry_back(edits, &fix.edits, line, &mut end_edits, &mut dropped)?;
                let package = ctx.catalog.counterparts.get(callee.rsplit_once('.').map_or(callee, |p| p.0));
                counterpart.get_or_insert_with(|| (fix.title.clone(), fix.id, package.map(|p| p.package.clone())));
            }
            continue;
        }
        // A class the catalog says has no exact async rewrite (boto3 resources): refused with its reason.
        if let Some(why) = callee
            .rsplit_once('.')
            .and_then(|(class, _)| ctx.catalog.counterparts.get(class).filter(|c| c.class == class))
            .and_then(|c| c.refused.as_ref())
        {
            return Err(format!("the call at line {line}: {why}"));
        }
        // A call on a connection a driver with an async counterpart opened at module level
        // (`conn = sqlite3.connect(...)`): the async one is opened in an event loop, not at import.
        if let Some(s) = ctx2.call_node(&range).and_then(|c| httpx::session_call(&ctx2, c, callee))
            && let Some((_, _, _, q)) = ctx2.module_constructed(&s.name)
            && let Some(cp) = ctx.catalog.counterparts.get(&q).filter(|c| c.connect == q)
        {
            let why = cp.refused.as_ref().or(cp.module_level.as_ref()).cloned().unwrap_or_else(|| {
                format!("`{}` opens its connection with `await`, in an event loop: convert it by hand", cp.to)
            });
            return Err(format!(
                "the call at line {line}: `{}` is a connection `{q}` opens at module level: {why}",
                s.name
            ));
        }
        // A command on a module-level client with an async counterpart (`redis.Redis`): the client itself
        // becomes the async one, with every command on it awaited.
        if let Some(c) = ctx2.call_node(&range).and_then(|c| super::db::module_client(&ctx2, c, callee)) {
            if !sessions.contains(&c.stmt.id()) {
                sessions.push(c.stmt.id());
                let fix =
                    super::db::module_client_fix(&ctx2, &c).map_err(|why| format!("the call at line {line}: {why}"))?;
                carry_back(edits, &fix.edits, line, &mut end_edits, &mut dropped)?;
                let package = ctx.catalog.counterparts.get(callee.rsplit_once('.').map_or(callee, |p| p.0));
                counterpart.get_or_insert_with(|| (fix.title.clone(), fix.id, package.map(|p| p.package.clone())));
            }
            continue;
        }
        // A request on a module-level session: the session itself is rewritten, with every request on it.
        if let Some(s) = ctx2.call_node(&range).and_then(|c| httpx::session_call(&ctx2, c, callee)) {
            if !sessions.contains(&s.stmt.id()) {
                sessions.push(s.stmt.id());
                let fix =
                    httpx::module_session_fix(&ctx2, &s).map_err(|why| format!("the call at line {line}: {why}"))?;
                carry_back(edits, &fix.edits, line, &mut end_edits, &mut dropped)?;
                counterpart.get_or_insert_with(|| (fix.title.clone(), fix.id, Some(httpx::client_module(&ctx2))));
            }
            continue;
        }
        // `open(p).read()`: the fixes asked are those of the inner call, which rewrite the pair.
        let (range, end_callee) = match made_by(ctx, *end, callee) {
            Some((inner, c)) => (
                forward(edits, inner.byte_range())
                    .ok_or_else(|| format!("the call at line {line} shares its statement with a call to the chain"))?,
                c,
            ),
            None => (range, callee.to_string()),
        };
        // A chain finding carries the fixes of the call to the helper: the end's are the catalog's.
        let entry =
            ctx.catalog.blocking(&end_callee).or_else(|| ctx.catalog.blocking(&format!("builtins.{end_callee}")));
        let mut kinds = entry.map(|e| e.fixes.clone()).unwrap_or_default();
        // A connection opened there becomes its async driver's, where the catalog knows one.
        if ctx.catalog.counterparts.contains_key(&end_callee) {
            kinds.push(FixKind::AsyncDriver);
        }
        let t2 = Target { range, chain: false, kinds, callee: Some(end_callee), ..t.clone() };
        let fixes = ctx2.fixes(&t2);
        let Some(fix) = COUNTERPARTS.iter().find_map(|id| fixes.fixes.iter().find(|f| f.id == *id)) else {
            let why = fixes.refused.iter().find(|r| COUNTERPARTS.contains(&r.id)).map_or_else(
                || format!("`{callee}` has no async counterpart loopsafe can write"),
                |r| r.reason.clone(),
            );
            return Err(format!("the call at line {line}: {why}"));
        };
        let mut fix_edits = fix.edits.clone();
        // The library's import, used by this call only, goes (the async sleep fix does it itself).
        if let [_] = ends
            && let Some(root) = ctx2
                .call_node(&t2.range)
                .and_then(|c| c.child_by_field_name("function"))
                .and_then(kinds::root_identifier)
            && !fix_edits.iter().any(|e| e.text.is_empty())
            // Not where the counterpart lives in the same package (`psycopg.AsyncConnection`).
            && !fix_edits.iter().any(|e| e.text.contains(&format!("{}.", ctx2.node_text(root))))
            && let Some(stmt) = kinds::unused_import(&ctx2, ctx2.node_text(root), Some(root))
        {
            kinds::remove_statement(&ctx2, stmt, &mut fix_edits);
            super::normalize(&mut fix_edits);
        }
        carry_back(edits, &fix_edits, line, &mut end_edits, &mut dropped)?;
        // A database driver's package is the catalog's.
        let package = match fix.id {
            FixId::AsyncDriver => {
                t2.callee.as_deref().and_then(|c| ctx.catalog.counterparts.get(c)).map(|c| c.package.clone())
            }
            // The httpx rewrite's package is the module it wrote (`httpx2` in a project using it).
            FixId::Httpx => Some(httpx::client_module(&ctx2)),
            id => id.package().map(String::from),
        };
        counterpart.get_or_insert_with(|| (fix.title.clone(), fix.id, package));
    }
    dropped.sort_unstable();
    dropped.dedup();
    for i in dropped.into_iter().rev() {
        edits.remove(i);
    }
    edits.extend(end_edits);
    super::normalize(edits);
    if !super::verify::well_formed(ctx.text, edits) {
        return Err("the rewrites of the chain overlap".into());
    }
    counterpart.ok_or_else(|| format!("no call to `{callee}` to rewrite"))
}

/// The names bound alone by top-level imports (`import boto3`, `from time import sleep`) that the
/// edits of a chain made async replace a use of (`boto3` of `boto3.client(...)`): after every fix of a
/// round, an import of one of them that nothing uses any more goes (`drop_unused_imports`). Each fix,
/// alone, leaves the import to the other chains of its file that still use it; two chains converted in
/// one round each saw the other's use.
pub(super) fn replaced_import_names(ctx: &FileContext<'_>, edits: &[Edit]) -> Vec<String> {
    let root = ctx.tree.root_node();
    let mut c = root.walk();
    let mut names: Vec<&str> = Vec::new();
    for s in root.named_children(&mut c) {
        if !matches!(s.kind(), "import_statement" | "import_from_statement") {
            continue;
        }
        let mut c = s.walk();
        let bound: Vec<Node<'_>> = s.children_by_field_name("name", &mut c).collect();
        if let [n] = bound.as_slice()
            && n.kind() == "dotted_name"
            && n.named_child_count() == 1
        {
            names.push(ctx.node_text(*n));
        }
    }
    let mut out: Vec<String> = Vec::new();
    if names.is_empty() {
        return out;
    }
    for e in edits {
        let Some(top) = root.descendant_for_byte_range(e.range.start, e.range.end) else { continue };
        let mut cursor = top.walk();
        let mut seen = 0;
        'walk: loop {
            let n = cursor.node();
            seen += 1;
            if seen > MAX_NODES {
                break;
            }
            let inside = e.range.start <= n.start_byte() && n.end_byte() <= e.range.end;
            if inside && n.kind() == "identifier" {
                let t = ctx.node_text(n);
                if names.contains(&t) && !out.iter().any(|o| o == t) {
                    out.push(t.to_string());
                }
            }
            let overlaps = n.start_byte() < e.range.end && e.range.start < n.end_byte();
            if overlaps && cursor.goto_first_child() {
                continue;
            }
            while !cursor.goto_next_sibling() {
                if !cursor.goto_parent() || cursor.node().id() == top.id() {
                    break 'walk;
                }
            }
        }
    }
    out
}

pub(super) fn lowercase_first(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_lowercase().chain(c).collect()).unwrap_or_default()
}

/// The module's top-level sync functions (decorated ones too), by name.
pub(super) fn module_functions<'t>(ctx: &FileContext<'t>) -> HashMap<&'t str, Node<'t>> {
    let root = ctx.tree.root_node();
    let mut out = HashMap::new();
    let mut c = root.walk();
    for n in root.named_children(&mut c) {
        let def = if n.kind() == "decorated_definition" { n.child_by_field_name("definition") } else { Some(n) };
        let Some(def) = def.filter(|d| d.kind() == "function_definition") else { continue };
        if def.child(0).is_some_and(|c| c.kind() == "async") {
            continue;
        }
        if let Some(name) = def.child_by_field_name("name") {
            out.insert(ctx.node_text(name), def);
        }
    }
    out
}

/// The calls among `calls` (of `ctx`'s file) that make the blocking call `callee` at the end of a
/// chain: by its imported name (`requests.get(...)`), or as a request on a module-level session of the
/// callee's class (`_session.request(...)` for `requests.Session.request`, after
/// `_session = requests.Session()` at the top of the module).
pub(super) fn ends_among<'t>(ctx: &FileContext<'t>, calls: &[Node<'t>], callee: &str) -> Vec<Node<'t>> {
    let spelling = ctx.imports.spelling(callee);
    calls
        .iter()
        .filter(|c| {
            c.child_by_field_name("function").is_some_and(|f| spelling.as_deref() == Some(ctx.node_text(f)))
                || httpx::session_call(ctx, **c, callee).is_some()
                || super::db::local_client(ctx, **c, callee).is_some()
                || made_by(ctx, **c, callee).is_some()
        })
        .copied()
        .collect()
}

/// For an end that is a method on what a call returns (`open(p).read()` for `io.TextIOWrapper.read`,
/// the catalog's `[returns]` typing `open`'s result): that inner call, and its callee as findings name it
/// (`open`). Its fixes are the ones that rewrite the pair (`await anyio.Path(p).read_text()`).
fn made_by<'t>(ctx: &FileContext<'t>, call: Node<'t>, callee: &str) -> Option<(Node<'t>, String)> {
    let func = call.child_by_field_name("function").filter(|f| f.kind() == "attribute")?;
    let inner = func.child_by_field_name("object").filter(|o| o.kind() == "call")?;
    let (class, method) = callee.rsplit_once('.')?;
    if ctx.node_text(func.child_by_field_name("attribute")?) != method {
        return None;
    }
    let spelled = ctx.node_text(inner.child_by_field_name("function")?);
    let q = ctx.catalog.canonical(&ctx.imports.qualified(spelled).unwrap_or_else(|| format!("builtins.{spelled}")));
    (ctx.catalog.returns(&q) == Some(class)).then(|| (inner, q.strip_prefix("builtins.").unwrap_or(&q).to_string()))
}

/// The calls in a function body, not in nested functions or classes.
pub(super) fn calls_in<'t>(_ctx: &FileContext<'t>, body: Node<'t>) -> Vec<Node<'t>> {
    let mut out = Vec::new();
    let mut stack = vec![body];
    let mut seen = 0;
    while let Some(n) = stack.pop() {
        seen += 1;
        if seen > MAX_NODES {
            break;
        }
        if matches!(n.kind(), "function_definition" | "class_definition") {
            continue;
        }
        if n.kind() == "call" {
            out.push(n);
        }
        let mut c = n.walk();
        stack.extend(n.children(&mut c));
    }
    out.sort_by_key(|c| c.start_byte());
    out
}

/// The calls of `name` in the file, each of which can be awaited once the chain is async; or why not.
fn uses<'t>(
    ctx: &FileContext<'t>,
    name: &str,
    def: Node<'t>,
    on_chain: &HashSet<&str>,
) -> Result<Vec<Node<'t>>, String> {
    let mut calls = Vec::new();
    let mut stack = vec![ctx.tree.root_node()];
    let mut seen = 0;
    let def_name = def.child_by_field_name("name").map(|n| n.id());
    while let Some(n) = stack.pop() {
        seen += 1;
        if seen > MAX_NODES {
            return Err("the file is too large to check".into());
        }
        if n.kind() == "identifier" && ctx.node_text(n) == name && Some(n.id()) != def_name {
            let line = n.start_position().row + 1;
            let parent = ctx.up(n);
            let is_name_of =
                |field: &str| parent.is_some_and(|p| p.child_by_field_name(field).is_some_and(|c| c.id() == n.id()));
            let kind = parent.map(|p| p.kind()).unwrap_or_default();
            if (kind == "attribute" && is_name_of("attribute")) || (kind == "keyword_argument" && is_name_of("name")) {
                continue;
            }
            let Some(call) = parent.filter(|p| p.kind() == "call" && is_name_of("function")) else {
                return Err(format!(
                    "`{name}` is used without being called at line {line} (a callback cannot await it)"
                ));
            };
            if kinds::already_awaited(ctx, call) {
                return Err(format!("`{name}(...)` is already awaited at line {line}"));
            }
            match kinds::enclosing_def(ctx, call) {
                None => return Err(format!("`{name}` is called at module level, line {line}")),
                Some(d) if d.child(0).is_some_and(|c| c.kind() == "async") => {
                    await_allowed(ctx, call).map_err(|why| format!("`{name}` at line {line}: {why}"))?;
                    if let Some(kind) = deferred_between(ctx, call, d) {
                        return Err(format!("`{name}` is called in a {kind} at line {line}"));
                    }
                }
                Some(d) => {
                    let caller = d.child_by_field_name("name").map_or("", |x| ctx.node_text(x));
                    if !on_chain.contains(caller)
                        || ctx.up(d).is_none_or(|p| !matches!(p.kind(), "module" | "decorated_definition"))
                    {
                        return Err(format!(
                            "`{name}` is called at line {line} by the sync function `{caller}`, which is not on the chain"
                        ));
                    }
                    // In a function made async: only a lambda or generator expression in between stops it.
                    if let Some(kind) = deferred_between(ctx, call, d) {
                        return Err(format!("`{name}` is called in a {kind} at line {line}"));
                    }
                }
            }
            calls.push(call);
        }
        let mut c = n.walk();
        stack.extend(n.children(&mut c));
    }
    Ok(calls)
}

/// What, between a call and the function `def` holding it, runs the call outside that function's own
/// frame (a lambda or a generator expression, or `def`'s parameters and annotations, evaluated where
/// it is defined: `def f(x=seen(1))`), where an `await` cannot go: its kind in words.
pub(super) fn deferred_between(ctx: &FileContext<'_>, call: Node<'_>, def: Node<'_>) -> Option<String> {
    let mut prev = call;
    let mut m = ctx.up(call);
    while let Some(cur) = m {
        if cur.id() == def.id() {
            let in_body = def.child_by_field_name("body").is_some_and(|b| b.id() == prev.id());
            return (!in_body).then(|| "default value or annotation, evaluated where the function is defined".into());
        }
        if matches!(cur.kind(), "lambda" | "generator_expression") {
            return Some(cur.kind().replace('_', " "));
        }
        prev = cur;
        m = ctx.up(cur);
    }
    None
}

/// The edits awaiting `node`, inserted around it rather than replacing it: `await ` before it (`(await `
/// and `)` where the expression continues, `(await f()).x`), so that the edits of nested nodes compose
/// (`await seen(await cache.get(k))`) at any depth. Of nested nodes starting at one point, the outer's
/// edits must come first (`edits` keep their order at one point).
pub(super) fn await_insertions(ctx: &FileContext<'_>, node: Node<'_>) -> Vec<Edit> {
    let wrapped = awaited(ctx, node, "");
    let (open, close) = if wrapped.starts_with('(') { ("(await ", ")") } else { ("await ", "") };
    let mut out = vec![Edit { range: node.start_byte()..node.start_byte(), text: open.into() }];
    if !close.is_empty() {
        out.push(Edit { range: node.end_byte()..node.end_byte(), text: close.into() });
    }
    out
}

/// A range of the original text in the edited text: it holds what the edits inside it wrote (the
/// `await ` before `label(user)` in `cache.set(k, label(user))`; an insertion at either end stays out);
/// `None` when an edit straddles its ends.
fn forward(edits: &[Edit], range: std::ops::Range<usize>) -> Option<std::ops::Range<usize>> {
    let mut delta: isize = 0;
    let mut start = None;
    for e in edits {
        if e.range.end <= range.start {
            delta += e.text.len() as isize - e.range.len() as isize;
        } else if e.range.start >= range.end {
            break;
        } else if e.range.start >= range.start && e.range.end <= range.end {
            start.get_or_insert(delta);
            delta += e.text.len() as isize - e.range.len() as isize;
        } else {
            return None;
        }
    }
    Some((range.start as isize + start.unwrap_or(delta)) as usize..(range.end as isize + delta) as usize)
}

/// A range of the edited text back in the original text, with the indices of the `edits` whose text it
/// covers whole (a fix's edit of `cache.set(k, await seen(u))` already holds the chain's `await `); `None`
/// when it starts or ends inside what one of `edits` wrote.
fn backward(edits: &[Edit], range: std::ops::Range<usize>) -> Option<(std::ops::Range<usize>, Vec<usize>)> {
    let mut delta: isize = 0;
    let mut start_delta = None;
    let mut covered = Vec::new();
    for (i, e) in edits.iter().enumerate() {
        let start = (e.range.start as isize + delta) as usize;
        let end = start + e.text.len();
        if end <= range.start {
            delta += e.text.len() as isize - e.range.len() as isize;
        } else if start >= range.end {
            break;
        } else if start >= range.start && end <= range.end {
            start_delta.get_or_insert(delta);
            covered.push(i);
            delta += e.text.len() as isize - e.range.len() as isize;
        } else {
            return None;
        }
    }
    let back = |x: usize, d: isize| (x as isize - d) as usize;
    Some((back(range.start, start_delta.unwrap_or(delta))..back(range.end, delta), covered))
}

/// The edits of a fix computed on the file with the chain's rewrites applied, carried back to the
/// original file's offsets (added to `out`; the chain's edits a fix's edit holds whole go to `dropped`);
/// refused where one starts or ends inside a rewrite.
fn carry_back(
    edits: &[Edit],
    fix_edits: &[Edit],
    line: usize,
    out: &mut Vec<Edit>,
    dropped: &mut Vec<usize>,
) -> Result<(), String> {
    for e in fix_edits {
        let (range, covered) = backward(edits, e.range.clone())
            .ok_or_else(|| format!("the call at line {line} shares its statement with a call to the chain"))?;
        dropped.extend(covered);
        out.push(Edit { range, text: e.text.clone() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::FixKind;
    use crate::fix::tests::fixes_at;
    use crate::rules::Rule;

    /// The make-async fix for the chain call `at` (the last one in `text`) whose end is `callee`.
    pub(crate) fn make_async_for(text: &str, at: &str, callee: &str) -> Result<String, String> {
        let fixes = fixes_at(text, at, Rule::BlockingSleep, callee, vec![FixKind::Offload], true);
        match fixes.fixes.iter().find(|f| f.id == FixId::MakeAsync) {
            Some(f) => Ok(crate::fix::apply(text, &f.edits).unwrap()),
            None => Err(fixes.refused.iter().filter(|r| r.id == FixId::MakeAsync).map(|r| r.reason.clone()).collect()),
        }
    }

    #[test]
    fn a_sleep_chain_becomes_async() {
        let text = "import time\n\n\ndef pause():\n    time.sleep(1)\n\n\ndef step():\n    pause()\n    return 1\n\n\nasync def main():\n    return step()\n";
        assert_eq!(
            make_async_for(text, "step()", "time.sleep").unwrap(),
            "import asyncio\n\n\nasync def pause():\n    await asyncio.sleep(1)\n\n\nasync def step():\n    await pause()\n    return 1\n\n\nasync def main():\n    return await step()\n"
        );
    }

    #[test]
    fn a_whole_file_read_chain_becomes_async_with_anyio() {
        let text =
            "import anyio\n\n\ndef load(p):\n    return open(p).read()\n\n\nasync def main(p):\n    return load(p)\n";
        assert_eq!(
            make_async_for(text, "load(p)\n", "io.TextIOWrapper.read").unwrap(),
            "import anyio\n\n\nasync def load(p):\n    return await anyio.Path(p).read_text()\n\n\nasync def main(p):\n    return await load(p)\n"
        );
    }

    #[test]
    fn a_sqlite_chain_ends_in_aiosqlite_or_refuses_naming_the_shape() {
        let text = "import sqlite3\n\n\ndef load(p):\n    conn = sqlite3.connect(p)\n    rows = conn.execute(\"select 1\").fetchall()\n    conn.close()\n    return rows\n\n\nasync def main(p):\n    return load(p)\n";
        assert_eq!(
            make_async_for(text, "load(p)\n", "sqlite3.connect").unwrap(),
            "import aiosqlite\n\n\nasync def load(p):\n    conn = await aiosqlite.connect(p)\n    rows = await (await conn.execute(\"select 1\")).fetchall()\n    await conn.close()\n    return rows\n\n\nasync def main(p):\n    return await load(p)\n"
        );
        let cases = [
            (
                "def use(conn):\n    return 1\n\n\ndef load(p):\n    conn = sqlite3.connect(p)\n    n = use(conn)\n    conn.close()\n    return n\n",
                "the call at line 9: the connection `conn` is used as a value at line 10",
            ),
            (
                "def load(p):\n    conn = sqlite3.connect(p)\n    cur = conn.execute(\"x\")\n    n = [r for r in cur]\n    conn.close()\n    return n\n",
                "the cursor `cur` is used as a value at line 7",
            ),
            (
                "def load(p):\n    conn = sqlite3.connect(p)\n    return conn.execute(\"x\").fetchall()\n",
                "never closed in `load`",
            ),
        ];
        for (helper, why) in cases {
            let text = format!("import sqlite3\n\n\n{helper}\n\nasync def main(p):\n    return load(p)\n");
            let got = make_async_for(&text, "load(p)\n", "sqlite3.connect");
            assert!(matches!(&got, Err(r) if r.contains(why)), "{text}\n{got:?}, expected {why:?}");
        }
        let pg = "import psycopg2\n\n\ndef load(dsn):\n    conn = psycopg2.connect(dsn)\n    with conn:\n        pass\n    conn.close()\n\n\nasync def main(dsn):\n    return load(dsn)\n";
        let got = make_async_for(pg, "load(dsn)\n", "psycopg2.connect");
        assert!(
            matches!(&got, Err(r) if r.contains("`with conn` at line 6: psycopg2's `with conn:` commits")),
            "{got:?}"
        );
    }

    #[test]
    fn a_module_level_redis_client_becomes_redis_asyncio_or_refuses_naming_the_line() {
        let text = "import redis\n\nr = redis.StrictRedis(decode_responses=True)\n\n\ndef hits(k):\n    return r.incr(k) + 1\n\n\nasync def main(k):\n    return hits(k)\n";
        assert_eq!(
            make_async_for(text, "hits(k)\n", "redis.Redis.incr").unwrap(),
            "import redis\nimport redis.asyncio\n\nr = redis.asyncio.Redis(decode_responses=True)\n\n\nasync def hits(k):\n    return await r.incr(k) + 1\n\n\nasync def main(k):\n    return await hits(k)\n"
        );
        let cases = [
            ("def warm():\n    r.ping()\n\n\nwarm()\n", "`warm` is called at module level, line 18"),
            ("def warm():\n    r.ping()\n\n\ndef cli():\n    warm()\n", "called at line 19 by the sync function `cli`"),
            ("class Warm:\n    def run(self):\n        r.ping()\n", "used by the sync function `run` at line 16"),
            // Its own `r` may not be the client: not made async for it, and refused.
            ("def other(r):\n    return r.get(\"x\")\n", "used by the sync function `other` at line 15"),
            ("def other():\n    for r in []:\n        r.get(\"x\")\n", "used by the sync function `other` at line 16"),
            ("def keep():\n    return r\n", "used as a value at line 15"),
            (
                "async def done():\n    r.close()\n",
                "`r.close` at line 15: a `redis.asyncio` client is closed with `await r.aclose()`",
            ),
            ("print(r.get(\"x\"))\n", "called at module level, line 14"),
        ];
        for (extra, why) in cases {
            let text = format!("{text}\n\n{extra}");
            let got = make_async_for(&text, "hits(k)\n", "redis.Redis.incr");
            assert!(matches!(&got, Err(r) if r.contains(why)), "{text}\n{got:?}, expected {why:?}");
        }
    }

    #[test]
    fn a_boto3_client_made_in_the_helper_becomes_aioboto3_in_async_with_or_refuses_naming_the_line() {
        let text = "import boto3\n\n\ndef save(k, v):\n    s3 = boto3.client(\"s3\")\n    s3.put_object(Bucket=\"b\", Key=k, Body=v)\n    return s3.head_object(Bucket=\"b\", Key=k)[\"ETag\"]\n\n\nasync def main(k, v):\n    return save(k, v)\n";
        assert_eq!(
            make_async_for(text, "save(k, v)\n", "botocore.client.BaseClient.put_object").unwrap(),
            "import aioboto3\n\n\nasync def save(k, v):\n    async with aioboto3.Session().client(\"s3\") as s3:\n        await s3.put_object(Bucket=\"b\", Key=k, Body=v)\n        return (await s3.head_object(Bucket=\"b\", Key=k))[\"ETag\"]\n\n\nasync def main(k, v):\n    return await save(k, v)\n"
        );
        // A module-level client: one per event loop.
        let text = "import boto3\n\ns3 = boto3.client(\"s3\", region_name=\"eu-west-1\")\n\n\ndef save(k, v):\n    s3.put_object(Bucket=\"b\", Key=k, Body=v)\n    if s3.can_paginate(\"list_objects_v2\"):\n        return s3.head_object(Bucket=\"b\", Key=k)[\"ETag\"]\n\n\nasync def main(k, v):\n    return save(k, v)\n";
        let got = make_async_for(text, "save(k, v)\n", "botocore.client.BaseClient.put_object").unwrap();
        assert!(got.contains("s3_session = aioboto3.Session()\ns3_clients: dict[asyncio.AbstractEventLoop, tuple] = {}\n\n\nasync def _s3_entered():\n"), "{got}");
        assert!(got.contains("    async with s3_session.client(\"s3\", region_name=\"eu-west-1\") as client:\n        yield client\n\n\nasync def s3():\n"), "{got}");
        assert!(got.ends_with("\n\n\nasync def save(k, v):\n    await (await s3()).put_object(Bucket=\"b\", Key=k, Body=v)\n    if (await s3()).can_paginate(\"list_objects_v2\"):\n        return (await (await s3()).head_object(Bucket=\"b\", Key=k))[\"ETag\"]\n\n\nasync def main(k, v):\n    return await save(k, v)\n"), "{got}");
        let cases = [
            (
                "def save(k, v):\n    s3 = boto3.client(\"s3\")\n    s3.get_paginator(\"list_objects_v2\")\n    s3.put_object(Key=k, Body=v)\n",
                "`s3.get_paginator` at line 6: an aioboto3 paginator is iterated with `async for page in",
            ),
            (
                "def save(k, v):\n    s3 = boto3.client(\"s3\")\n    s3.put_object(Key=k, Body=v)\n    return s3.get_object(Key=k)[\"Body\"].read()\n",
                "`s3.get_object` at line 7: the response's `Body` is an aiobotocore stream",
            ),
            (
                "def save(k, v):\n    s3 = boto3.client(\"s3\")\n    s3.put_object(Key=k, Body=v)\n    keep(s3)\n",
                "the client `s3` is used as a value at line 7",
            ),
            (
                "def save(k, v):\n    s3 = boto3.client(\"s3\")\n    if k:\n        s3.put_object(Key=k, Body=v)\n    else:\n        s3 = None\n",
                "used as a value at line 9",
            ),
            (
                "s3 = boto3.client(\"s3\", region_name=REGION)\n\n\ndef save(k, v):\n    s3.put_object(Key=k, Body=v)\n",
                "`s3` is made at import with `region_name=REGION`, which is not a constant",
            ),
            (
                "s3 = boto3.client(\"s3\")\n\n\ndef save(k, v):\n    s3.put_object(Key=k, Body=v)\n\n\ndef other(k):\n    def inner():\n        s3.delete_object(Key=k)\n    inner()\n",
                "`s3` is also used by the sync function `inner` at line 13",
            ),
            (
                "s3 = boto3.client(\"s3\")\ns3_clients = {}\n\n\ndef save(k, v):\n    s3.put_object(Key=k, Body=v)\n",
                "`s3_clients`, the name the per-loop client needs, is taken",
            ),
            (
                "def save(k, v):\n    s3 = boto3.resource(\"s3\")\n    s3.create_bucket(Bucket=k)\n",
                "no exact rewrite of a boto3 resource",
            ),
        ];
        for (helper, why) in cases {
            let text = format!("import boto3\n\n\n{helper}\n\nasync def main(k, v):\n    return save(k, v)\n");
            let callee = if helper.contains("resource") {
                "boto3.resources.base.ServiceResource.create_bucket"
            } else {
                "botocore.client.BaseClient.put_object"
            };
            let got = make_async_for(&text, "save(k, v)\n", callee);
            assert!(matches!(&got, Err(r) if r.contains(why)), "{text}\n{got:?}, expected {why:?}");
        }
    }

    #[test]
    fn a_module_level_client_shared_by_two_chains_converts_both_from_either() {
        let text = "import redis\n\ncache = redis.Redis()\n\n\ndef hits(k):\n    return cache.incr(k)\n\n\ndef seen(u):\n    return cache.get(u)\n\n\ndef profile(u):\n    return {\"seen\": seen(u)}\n\n\nasync def a(k):\n    return hits(k)\n\n\nasync def b(u):\n    return profile(u)\n";
        // From `b`'s chain: `hits` uses the client too, and becomes a coroutine awaited by `a`.
        let want = "import redis\nimport redis.asyncio\n\ncache = redis.asyncio.Redis()\n\n\nasync def hits(k):\n    return await cache.incr(k)\n\n\nasync def seen(u):\n    return await cache.get(u)\n\n\nasync def profile(u):\n    return {\"seen\": await seen(u)}\n\n\nasync def a(k):\n    return await hits(k)\n\n\nasync def b(u):\n    return await profile(u)\n";
        assert_eq!(make_async_for(text, "profile(u)\n", "redis.Redis.get").unwrap(), want);
        // From `a`'s: `seen` is called by `profile`, a sync function off the chain, which cannot await.
        let got = make_async_for(text, "hits(k)\n", "redis.Redis.incr");
        assert!(
            matches!(&got, Err(r) if r.contains("`seen` is called at line 15 by the sync function `profile`, which is not on the chain")),
            "{got:?}"
        );
        // Without `profile`, either chain gives the same text.
        let direct = text
            .replace("def profile(u):\n    return {\"seen\": seen(u)}\n\n\n", "")
            .replace("return profile(u)", "return seen(u)");
        let a = make_async_for(&direct, "hits(k)\n", "redis.Redis.incr").unwrap();
        assert_eq!(a, make_async_for(&direct, "seen(u)\n", "redis.Redis.get").unwrap());
        assert!(
            a.contains("async def seen(u):\n    return await cache.get(u)\n") && a.contains("return await seen(u)\n"),
            "{a}"
        );
    }

    #[test]
    fn a_module_level_sqlite3_connection_refuses_with_the_reason() {
        let text = "import sqlite3\n\nconn = sqlite3.connect(\"notes.db\")\n\n\ndef count():\n    return conn.execute(\"select count(*) from notes\").fetchone()[0]\n\n\nasync def main():\n    return count()\n";
        let got = make_async_for(text, "count()\n", "sqlite3.Connection.execute");
        assert!(
            matches!(&got, Err(r) if r.contains("the call at line 7: `conn` is a connection `sqlite3.connect` opens at module level: an aiosqlite connection")),
            "{got:?}"
        );
    }

    #[test]
    fn a_use_that_cannot_await_refuses_with_its_place() {
        let base = "import time\n\n\ndef pause():\n    time.sleep(1)\n\n\nasync def main():\n    pause()\n";
        let cases = [
            ("def cli():\n    pause()\n", "called at line 13 by the sync function `cli`"),
            ("callbacks = [pause]\n", "used without being called at line 12"),
            ("pause()\n", "called at module level, line 12"),
            ("async def gen():\n    return list(pause() for _ in range(2))\n", "generator expression"),
        ];
        for (extra, why) in cases {
            let text = format!("{base}\n\n{extra}");
            let got = make_async_for(&text, "pause()\n", "time.sleep");
            assert!(matches!(&got, Err(r) if r.contains(why)), "{text}\n{got:?}, expected {why:?}");
        }
    }
}
