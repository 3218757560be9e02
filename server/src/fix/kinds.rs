//! The fixes themselves: offload, async sleep, async files, make-sync, `# noqa` (httpx is in its own
//! module). Each works on the syntax tree around the target's call and refuses where its rewrite would
//! change what the code means.
//!
//! An awaited call is never offloaded (`await helper()`, a sync `helper` that blocks and then returns an
//! awaitable, reached by a chain): the awaitable would be made in the worker thread, where a future or
//! task has no running loop, and would still have to be awaited on the loop (`await (await
//! to_thread(helper))`). The refusal says to offload the blocking work inside `helper` instead.

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;

use tree_sitter::Node;

use super::{
    Applicability, Edit, FileContext, Fix, FixId, Fixes, KindName, Refusal, Target, block, chain, httpx, imports,
};
use crate::catalog::FixKind;
use crate::rules::Rule;
use crate::settings::OffloadFlavor;

/// How many ancestors or nodes a fix looks at before it gives up (bounded work on any input).
const MAX_ANCESTORS: usize = 256;
pub(super) const MAX_NODES: usize = 200_000;

/// Visits `root` and its descendants depth first (a node's children only where `visit` returns true),
/// at most `MAX_NODES` of them: `None` when the tree is too large to look through.
pub(super) fn walk_bounded<'t>(root: Node<'t>, mut visit: impl FnMut(Node<'t>) -> bool) -> Option<()> {
    let mut stack = vec![root];
    let mut seen = 0;
    while let Some(n) = stack.pop() {
        seen += 1;
        if seen > MAX_NODES {
            return None;
        }
        if visit(n) {
            stack.extend(super::children(n, false));
        }
    }
    Some(())
}

/// Whether `hit` holds for a node under `root`, not looking into the nodes `skip` holds for; also when
/// the tree is too large to look through (`walk_bounded`), so that a caller refuses rather than guesses.
pub(super) fn any_node_bounded<'t>(
    root: Node<'t>,
    skip: impl Fn(Node<'t>) -> bool,
    mut hit: impl FnMut(Node<'t>) -> bool,
) -> bool {
    let mut found = false;
    let walked = walk_bounded(root, |n| {
        if found || skip(n) {
            return false;
        }
        found = hit(n);
        !found
    });
    walked.is_none() || found
}

/// What the fixes of many findings in one file share, computed once per file or per function.
#[derive(Default)]
pub(crate) struct Memo {
    /// The first line where each name is called (`name(...)`).
    calls: OnceCell<HashMap<String, usize>>,
    /// Why a function body needs the loop, by the body's node id.
    needs_loop: RefCell<HashMap<usize, Option<String>>>,
    /// For each function (node id), the names whose `name.attr` reads a response attribute httpx lacks.
    pub(super) response_attrs: RefCell<HashMap<usize, HashMap<String, String>>>,
    /// The client name the httpx fix picks in a function, by node id.
    pub(super) client_names: RefCell<HashMap<usize, String>>,
    /// For a name, a use of it that [`unused_import`] found (its bytes): a look with that use outside
    /// the part it leaves out finds the import used without walking the file again.
    pub(super) uses: RefCell<HashMap<String, std::ops::Range<usize>>>,
    /// The imports inside each function (by node id).
    pub(super) local_imports: RefCell<HashMap<usize, Vec<imports::LocalImport>>>,
    /// The httpx fix of a `with requests.Session() as s:` block (by the `with` node's id): every call
    /// on the session in the block shares it, so it is built once, not once per call.
    pub(super) sessions: RefCell<HashMap<usize, Fixes>>,
    /// The whole-block fix of a sync `with` statement (by its node id), shared by its findings.
    pub(super) blocks: RefCell<HashMap<usize, Fixes>>,
    /// Module-level names bound to a thread-bound object (`conn = sqlite3.connect(p)` at import), by
    /// name: their class (see `block::thread_bound_use`).
    pub(super) module_bound: OnceCell<HashMap<String, String>>,
    /// Each name a top-level `name = constructor(...)` binds: the statement's index among the module's
    /// top-level nodes and the constructor's canonical name, or `None` when that is not the one binding
    /// (see [`FileContext::module_constructed`], asked several times per chain tried).
    pub(super) constructed: OnceCell<HashMap<String, Option<(usize, String)>>>,
    /// For a module-level session's name: the start bytes of the sync functions making a request on it
    /// (see `httpx::surely_refused`), `None` when the file is too large to look through.
    pub(super) session_sync_users: RefCell<HashMap<String, Option<Vec<usize>>>>,
}

/// The fixes of `t` into `out`; the suppression and the chain made async only `with_noqa` (the automatic
/// fixes leave them out, and finding the suppression's line costs a look at the statement's strings and
/// continuations).
pub(super) fn collect(ctx: &FileContext<'_>, t: &Target, with_noqa: bool, out: &mut Fixes) {
    let noqa = |out: &mut Fixes| {
        if with_noqa {
            noqa(ctx, t, out);
        }
    };
    if t.rule == Rule::AsyncWithoutAwait {
        if let Some(def) = def_named_at(ctx, &t.range) {
            make_sync(ctx, def, true, out);
        }
        noqa(out);
        return;
    }
    let Some(call) = ctx.call_node(&t.range) else {
        noqa(out);
        return;
    };
    // A blocking call that enters a sync `with` or goes through what it binds (`fh.read()` in `with
    // open(p) as fh:`): the whole block moves to a thread, and offloading the call alone is not offered
    // (entering and leaving the `with` would still block, and a sqlite3 connection is bound to its thread).
    let mut whole = Fixes::default();
    let block_fix =
        t.rule.is_blocking() && block::tied_with(ctx, call).is_some_and(|w| block::offload_block(ctx, w, &mut whole));
    // A call on a sqlite3 object opened in another thread: neither the helper nor the route may move.
    let bound = thread_bound(ctx, t, call);
    if t.chain {
        if let (false, false, Some(why)) = (t.kinds.is_empty(), block_fix, &bound) {
            let f = call.field("function").map_or("", |f| ctx.node_text(f));
            let title = format!("Offload `{}` to a thread", short(f));
            out.refused.push(Refusal { id: FixId::Offload, title, reason: why.clone() });
        } else if !t.kinds.is_empty() && !block_fix {
            offload(ctx, t, call, out);
        }
    } else {
        for kind in &t.kinds {
            match kind {
                FixKind::Offload if block_fix => {}
                FixKind::Offload => offload(ctx, t, call, out),
                FixKind::AsyncSleep => async_sleep(ctx, call, out),
                FixKind::AsyncFile => async_file(ctx, t, call, out),
                FixKind::Httpx => httpx::fix(ctx, t, call, out),
                FixKind::AsyncDriver => super::db::fix(ctx, t, call, out),
                FixKind::MakeSync => {}
            }
        }
    }
    if let Some(def) = enclosing_def(ctx, call)
        && ctx.is_endpoint(def)
    {
        match &bound {
            Some(why) => {
                let name = def.field("name").map_or("", |n| ctx.node_text(n));
                let title = format!("Make `{name}` a plain `def` (the framework runs it in a worker thread)");
                out.refused.push(Refusal { id: FixId::MakeSync, title, reason: why.clone() });
            }
            None => make_sync(ctx, def, false, out),
        }
    }
    // After make-sync: a route that awaits nothing is simpler as a plain `def` than with a nested one.
    out.fixes.append(&mut whole.fixes);
    out.refused.append(&mut whole.refused);
    out.shared.append(&mut whole.shared);
    // Not for the automatic fixes (`--fix`, JSON): they leave the chain made async out (it is offered
    // one finding at a time), and building it re-parses and re-analyses the whole file per finding.
    if with_noqa && t.chain && t.rule.is_blocking() {
        chain::make_async(ctx, t, call, out);
    }
    noqa(out);
}

// ------------------------------------------------------------------------------------------ helpers

/// Why the blocking call of `t` cannot move to another thread: a method of a class the catalog says is
/// bound to the thread that opened it (`thread_bound`: sqlite3's connections), on an object the
/// function did not open itself. A chain's helper makes such a call only on what it was given or found
/// (its own `connect` would be the chain's blocking call); a direct call is on a name the function binds
/// by assignment or `with ... as` when it opened the object itself.
fn thread_bound(ctx: &FileContext<'_>, t: &Target, call: Node<'_>) -> Option<String> {
    let (class, _) = t.callee.as_deref()?.rsplit_once('.')?;
    let why = ctx.catalog.counterparts.values().find_map(|c| c.thread_bound.get(class))?;
    if t.chain {
        return Some(why.clone());
    }
    let func = call.field("function").filter(|f| f.kind_name() == "attribute")?;
    let object = func.field("object")?;
    let Some(name) = root_identifier(object).map(|r| ctx.node_text(r)) else { return Some(why.clone()) };
    let def = enclosing_def(ctx, call)?;
    let mut stack = vec![def.field("body")?];
    let mut seen = 0;
    while let Some(n) = stack.pop() {
        seen += 1;
        if seen > MAX_NODES {
            return None;
        }
        let mut c = n.walk();
        stack.extend(n.children(&mut c));
        if n.kind_name() != "identifier" || ctx.node_text(n) != name {
            continue;
        }
        let opened_here = ctx.up(n).is_some_and(|p| match p.kind_name() {
            "assignment" => p.field("left").is_some_and(|l| l.id() == n.id()),
            "as_pattern_target" => true,
            "as_pattern" => p.field("alias").is_some_and(|a| a.id() == n.id()),
            _ => false,
        });
        if opened_here {
            return None;
        }
    }
    Some(why.clone())
}

/// A short, one-line rendering of code for a title.
pub(super) fn short(code: &str) -> String {
    let one: String = code.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 48 { format!("{}…", one.chars().take(47).collect::<String>()) } else { one }
}

/// Whether a call's callee expression is the catalogued function itself, by its imported name or as a
/// builtin (callees are shown without `builtins.`), not a method of some object.
pub(super) fn called_by_name(ctx: &FileContext<'_>, callee: &str, func_text: &str) -> bool {
    (!callee.contains('.') && callee == func_text) || ctx.imports.spelling(callee).as_deref() == Some(func_text)
}

/// The innermost `function_definition` around a node.
pub(super) fn enclosing_def<'t>(ctx: &FileContext<'t>, node: Node<'t>) -> Option<Node<'t>> {
    let mut n = ctx.up(node);
    for _ in 0..MAX_ANCESTORS {
        let cur = n?;
        if cur.kind_name() == "function_definition" {
            return Some(cur);
        }
        n = ctx.up(cur);
    }
    None
}

fn def_named_at<'t>(ctx: &FileContext<'t>, range: &std::ops::Range<usize>) -> Option<Node<'t>> {
    let n = ctx.tree.root_node().descendant_for_byte_range(range.start, range.end)?;
    let def = ctx.up(n)?;
    (def.kind_name() == "function_definition" && def.field("name")?.byte_range() == *range).then_some(def)
}

fn async_token(def: Node<'_>) -> Option<Node<'_>> {
    def.child(0).filter(|c| c.kind_name() == "async")
}

/// Whether `await` may replace `node`: it must sit in an `async def`, not in a lambda, a generator
/// expression (it would become an async generator) or a class body.
pub(super) fn await_allowed<'t>(ctx: &FileContext<'t>, node: Node<'t>) -> Result<(), String> {
    if already_awaited(ctx, node) {
        return Err("the call is already awaited: its result is an awaitable, not a blocking call's value".into());
    }
    let mut n = ctx.up(node);
    for _ in 0..MAX_ANCESTORS {
        let Some(cur) = n else { break };
        match cur.kind_name() {
            "lambda" => return Err("the call is inside a `lambda`, where `await` is not allowed".into()),
            "generator_expression" => {
                return Err(
                    "the call is inside a generator expression: `await` would turn it into an async generator".into()
                );
            }
            "class_definition" => return Err("the call is in a class body".into()),
            "function_definition" => {
                return if async_token(cur).is_some() {
                    Ok(())
                } else {
                    Err("the call is not in an `async def`".into())
                };
            }
            _ => {}
        }
        n = ctx.up(cur);
    }
    Err("the call is not in an `async def`".into())
}

/// Whether `node` is the operand of an `await` (through parentheses).
pub(super) fn already_awaited<'t>(ctx: &FileContext<'t>, node: Node<'t>) -> bool {
    let mut n = node;
    for _ in 0..MAX_ANCESTORS {
        match ctx.up(n) {
            Some(p) if p.kind_name() == "parenthesized_expression" => n = p,
            Some(p) => return p.kind_name() == "await",
            None => return false,
        }
    }
    false
}

/// `await X` where `node` was: parenthesized where the expression continues (`(await X).json()`).
pub(super) fn awaited<'t>(ctx: &FileContext<'t>, node: Node<'t>, expr: &str) -> String {
    let needs = ctx.up(node).is_some_and(|p| {
        let is = |field: &str| p.field(field).is_some_and(|c| c.id() == node.id());
        match p.kind_name() {
            "attribute" => is("object"),
            "call" => is("function"),
            "subscript" => is("value"),
            _ => false,
        }
    });
    if needs { format!("(await {expr})") } else { format!("await {expr}") }
}

/// The arguments of a call as text to follow another first argument: `(", a, k=v", has keywords)`.
/// A lone generator expression argument keeps its parentheses.
fn rest_arguments(ctx: &FileContext<'_>, call: Node<'_>) -> Option<(String, bool, Vec<String>)> {
    let args = call.field("arguments")?;
    if args.kind_name() == "generator_expression" {
        return Some((format!(", {}", ctx.node_text(args)), false, Vec::new()));
    }
    let text = ctx.node_text(args);
    let inner = text.strip_prefix('(')?.strip_suffix(')')?;
    let mut keywords = false;
    let mut names = Vec::new();
    for a in super::children(args, true) {
        match a.kind_name() {
            "keyword_argument" => {
                keywords = true;
                if let Some(n) = a.field("name") {
                    names.push(ctx.node_text(n).to_string());
                }
            }
            "dictionary_splat" => keywords = true,
            _ => {}
        }
    }
    Some((rest_after(inner), keywords, names))
}

/// `inner` (a call's arguments without parentheses) to follow a first argument.
fn rest_after(inner: &str) -> String {
    if inner.trim().is_empty() {
        String::new()
    } else if inner.starts_with(char::is_whitespace) {
        format!(",{inner}")
    } else {
        format!(", {inner}")
    }
}

/// `first` then the call's arguments, keeping a multi-line layout: `(\n    first,\n    a,\n)`.
fn with_first(first: &str, rest: &str) -> String {
    match rest.strip_prefix(',') {
        Some(r) if r.starts_with('\n') || r.starts_with("\r\n") => {
            let indent_end = r.len() - r.trim_start().len();
            format!("{}{first},{r}", &r[..indent_end])
        }
        _ => format!("{first}{rest}"),
    }
}

/// Why a call's result must not move off the loop as is: a context manager, or a value iterated here.
fn lazy_use<'t>(ctx: &FileContext<'t>, call: Node<'t>) -> Option<&'static str> {
    let mut node = call;
    let mut parent = ctx.up(call)?;
    if parent.kind_name() == "as_pattern" {
        node = parent;
        parent = ctx.up(parent)?;
    }
    let is = |field: &str| parent.field(field).is_some_and(|c| c.id() == node.id());
    match parent.kind_name() {
        "with_item" => Some("the call is used as a context manager: the work happens in the `with` block, on the loop"),
        "for_statement" | "for_in_clause" if is("right") => {
            Some("its result is iterated on the event loop: offloading the call alone would not help")
        }
        _ => None,
    }
}

// ------------------------------------------------------------------------------------------ offload

/// An argument whose code runs later, inside the callee: it would then run in the worker thread. A
/// generator expression would be consumed there; a `lambda` written in the call, or a sync function of
/// the caller passed by name, runs there too, which is fine unless it needs the event loop (a coroutine
/// function, an API of the running loop).
fn deferred_argument(ctx: &FileContext<'_>, call: Node<'_>) -> Option<String> {
    let args = call.field("arguments")?;
    if args.kind_name() == "generator_expression" {
        return Some("its generator-expression argument would be consumed in the worker thread".into());
    }
    let def = enclosing_def(ctx, call);
    super::children(args, true).find_map(|a| {
        let value = if a.kind_name() == "keyword_argument" { a.field("value")? } else { a };
        match value.kind_name() {
            "lambda" => needs_the_loop_in(ctx.text, ctx.catalog, value, false)
                .map(|why| format!("a `lambda` argument would run in the worker thread, and {why}")),
            "generator_expression" => {
                Some("a generator-expression argument would be consumed in the worker thread".into())
            }
            "identifier" => {
                let name = ctx.node_text(value);
                let nested = nested_def(ctx, def?, name)?;
                if async_token(nested).is_some() {
                    return Some(format!(
                        "`{name}` is a coroutine function: called in the worker thread, it would only make a coroutine"
                    ));
                }
                let body = nested.field("body")?;
                needs_the_loop_in(ctx.text, ctx.catalog, body, false)
                    .map(|why| format!("`{name}` would run in the worker thread, and {why}"))
            }
            _ => None,
        }
    })
}

/// A function named `name` defined directly in `def`'s body (not in a nested function or class).
fn nested_def<'t>(ctx: &FileContext<'t>, def: Node<'t>, name: &str) -> Option<Node<'t>> {
    let body = def.field("body")?;
    // A function defined in the body holds the keyword and the name: a body without them (most, for a
    // call's arguments) defines none, and is not walked.
    if ctx.text.get(body.byte_range()).is_some_and(|t| !t.contains("def") || !t.contains(name)) {
        return None;
    }
    let mut stack = vec![body];
    let mut seen = 0;
    let mut found = None;
    while let Some(n) = stack.pop() {
        seen += 1;
        if seen > MAX_NODES {
            return None;
        }
        if matches!(n.kind_name(), "function_definition" | "class_definition" | "lambda") {
            if n.kind_name() == "function_definition" && n.field("name").is_some_and(|x| ctx.node_text(x) == name) {
                found = Some(n);
            }
            continue;
        }
        stack.extend(super::children(n, false));
    }
    found
}

pub(super) enum Offloader {
    Threadpool(&'static str),
    Asyncio,
    Anyio,
    Trio,
}

pub(super) fn offloader(ctx: &FileContext<'_>) -> Offloader {
    let im = &ctx.imports;
    let threadpool = || {
        if im.imports_module("starlette") && !im.imports_module("fastapi") {
            Offloader::Threadpool("starlette.concurrency")
        } else {
            Offloader::Threadpool("fastapi.concurrency")
        }
    };
    match ctx.options.offload {
        OffloadFlavor::RunInThreadpool => threadpool(),
        OffloadFlavor::Asyncio => Offloader::Asyncio,
        OffloadFlavor::Anyio => Offloader::Anyio,
        OffloadFlavor::Auto => {
            if im.spelling("fastapi.concurrency.run_in_threadpool").is_some() {
                Offloader::Threadpool("fastapi.concurrency")
            } else if im.spelling("starlette.concurrency.run_in_threadpool").is_some() {
                Offloader::Threadpool("starlette.concurrency")
            } else if im.imports_module("fastapi") || im.imports_module("starlette") {
                threadpool()
            } else if im.imports_module("anyio") {
                Offloader::Anyio
            } else if im.imports_module("trio") {
                Offloader::Trio
            } else {
                Offloader::Asyncio
            }
        }
    }
}

pub(super) fn offloader_name(how: &Offloader) -> &'static str {
    match how {
        Offloader::Threadpool(_) => "run_in_threadpool",
        Offloader::Asyncio => "asyncio.to_thread",
        Offloader::Anyio => "anyio.to_thread.run_sync",
        Offloader::Trio => "trio.to_thread.run_sync",
    }
}

/// `offloader(func)`: a call of the offloader on a function that takes no argument, its import added.
pub(super) fn offloader_call(
    how: &Offloader,
    im: &imports::Imports,
    func: &str,
    edits: &mut Vec<Edit>,
    text: &str,
) -> String {
    let f = match how {
        Offloader::Threadpool(module) => im.from_name(module, "run_in_threadpool", edits, text),
        Offloader::Asyncio => im.module_attr("asyncio", "to_thread", edits, text),
        Offloader::Anyio | Offloader::Trio => {
            let module = if matches!(how, Offloader::Anyio) { "anyio" } else { "trio" };
            match im.spelling(&format!("{module}.to_thread.run_sync")) {
                Some(s) => s,
                None if module == "anyio" => {
                    im.module_attr("anyio.to_thread", "", edits, text);
                    "anyio.to_thread.run_sync".to_string()
                }
                None => im.module_attr(module, "to_thread.run_sync", edits, text),
            }
        }
    };
    format!("{f}({func})")
}

impl FileContext<'_> {
    /// The function the offload fix calls in this file (`run_in_threadpool` in a FastAPI/Starlette
    /// file, `asyncio.to_thread` by default): advice names what the quick fix writes.
    pub fn offload_name(&self) -> &'static str {
        offloader_name(&offloader(self))
    }
}

fn offload(ctx: &FileContext<'_>, t: &Target, call: Node<'_>, out: &mut Fixes) {
    let Some(func) = call.field("function") else { return };
    let func_text = ctx.node_text(func);
    let how = offloader(ctx);
    let name = offloader_name(&how);
    let title = format!("Offload `{}` to a thread with `{name}`", short(func_text));
    let refuse = |out: &mut Fixes, reason: String| {
        out.refused.push(Refusal { id: FixId::Offload, title: title.clone(), reason })
    };
    // `await helper()`, where the sync `helper` blocks and then returns an awaitable (a coroutine, a
    // future, a task): offloaded, the awaitable would be made in the worker thread (a future or task
    // made there has no running loop, or the wrong one) and still need awaiting on the loop. Not offered:
    // the blocking part of `helper` is what to move off the loop.
    if already_awaited(ctx, call) {
        return refuse(
            out,
            format!(
                "the call is awaited: `{}` returns an awaitable, which must be made and awaited on the event loop; offload the blocking work inside it instead",
                short(func_text)
            ),
        );
    }
    if let Err(why) = await_allowed(ctx, call) {
        return refuse(out, why);
    }
    if let Some(why) = lazy_use(ctx, call) {
        return refuse(out, why.into());
    }
    if let Some(why) = deferred_argument(ctx, call) {
        return refuse(out, why);
    }
    let Some((rest, keywords, names)) = rest_arguments(ctx, call) else { return };
    let mut edits = Vec::new();
    let scoped = ctx.imports_at(call);
    let (text, im) = (ctx.text, scoped.as_ref());
    let partial = |edits: &mut Vec<Edit>| {
        let p = im.module_attr("functools", "partial", edits, text);
        format!("{p}({})", with_first(func_text, &rest))
    };
    let direct = with_first(func_text, &rest);
    let expr = match how {
        Offloader::Threadpool(module) => {
            let f = im.from_name(module, "run_in_threadpool", &mut edits, text);
            // `run_in_threadpool(func, *args, **kwargs)`: a keyword named `func` would collide.
            let clash = names.iter().any(|n| n == "func");
            format!("{f}({})", if clash { partial(&mut edits) } else { direct })
        }
        Offloader::Asyncio => format!("{}({direct})", im.module_attr("asyncio", "to_thread", &mut edits, text)),
        Offloader::Anyio | Offloader::Trio => {
            let module = if matches!(how, Offloader::Anyio) { "anyio" } else { "trio" };
            // `run_sync(func, *args)` takes no keyword arguments for `func`: bind them with `partial`.
            let f = match im.spelling(&format!("{module}.to_thread.run_sync")) {
                Some(s) => s,
                None if module == "anyio" => {
                    im.module_attr("anyio.to_thread", "", &mut edits, text);
                    "anyio.to_thread.run_sync".to_string()
                }
                None => im.module_attr(module, "to_thread.run_sync", &mut edits, text),
            };
            format!("{f}({})", if keywords { partial(&mut edits) } else { direct })
        }
    };
    if let Some(why) = im.conflict() {
        return refuse(out, why);
    }
    edits.push(Edit { range: call.byte_range(), text: awaited(ctx, call, &expr) });
    // A module-level function called by its imported name (or a builtin) has no state that could be
    // bound to the loop's thread; a method's object (a DB connection, a client) or a project helper
    // may have (sqlite3 connections refuse other threads, thread-locals, the running loop).
    let plain_function = !t.chain && t.callee.as_deref().is_some_and(|c| called_by_name(ctx, c, func_text));
    let applicability = if plain_function { Applicability::Safe } else { Applicability::Unsafe };
    out.fixes.push(Fix { id: FixId::Offload, title, applicability, edits });
}

// ------------------------------------------------------------------------------------- async sleep

fn async_sleep(ctx: &FileContext<'_>, call: Node<'_>, out: &mut Fixes) {
    let Some(func) = call.field("function") else { return };
    let im = &ctx.imports;
    let module = if matches!(ctx.options.offload, OffloadFlavor::Anyio) || im.imports_module("anyio") {
        "anyio"
    } else if im.imports_module("trio") {
        "trio"
    } else {
        "asyncio"
    };
    let title = format!("Replace `{}` with `await {module}.sleep`", short(ctx.node_text(func)));
    if let Err(reason) = await_allowed(ctx, call) {
        out.refused.push(Refusal { id: FixId::AsyncSleep, title, reason });
        return;
    }
    let Some(args) = call.field("arguments").filter(|a| a.kind_name() == "argument_list") else { return };
    let mut c = args.walk();
    let list: Vec<Node<'_>> = args.named_children(&mut c).filter(|n| n.kind_name() != "comment").collect();
    let [arg] = list.as_slice() else { return };
    if matches!(arg.kind_name(), "keyword_argument" | "list_splat" | "dictionary_splat") {
        return;
    }
    let mut edits = Vec::new();
    let scoped = ctx.imports_at(call);
    let f = scoped.module_attr(module, "sleep", &mut edits, ctx.text);
    if let Some(reason) = scoped.conflict() {
        out.refused.push(Refusal { id: FixId::AsyncSleep, title, reason });
        return;
    }
    edits.push(Edit { range: call.byte_range(), text: awaited(ctx, call, &format!("{f}({})", ctx.node_text(*arg))) });
    drop_last_use(ctx, func, &mut edits);
    out.fixes.push(Fix { id: FixId::AsyncSleep, title, applicability: Applicability::Safe, edits });
}

/// When the fix replaces the last use of the name the sync call is reached through (`time` in
/// `time.sleep(...)`, `sleep` after `from time import sleep`), and a top-level import statement binds
/// that name alone, that statement goes too (else it is left unused: F401). Kept when the name is used
/// anywhere else (`del`, `global`, another call, ...) or listed in `__all__` (a re-export), or when the
/// file is too large to look through.
fn drop_last_use(ctx: &FileContext<'_>, func: Node<'_>, edits: &mut Vec<Edit>) {
    let Some(root_name) = root_identifier(func) else { return };
    if let Some(stmt) = unused_import(ctx, ctx.node_text(root_name), Some(func)) {
        remove_statement(ctx, stmt, edits);
    }
}

/// The identifier an expression is reached through (`time` in `time.sleep`), if it is one.
pub(super) fn root_identifier(expr: Node<'_>) -> Option<Node<'_>> {
    let mut node = expr;
    for _ in 0..MAX_NODES {
        match node.kind_name() {
            "attribute" => node = node.field("object")?,
            "identifier" => return Some(node),
            _ => return None,
        }
    }
    None
}

/// The names the file's top-level imports of one name each bind (`import time`, `from m import name`):
/// the statements [`unused_import`] looks for, found in one look.
pub(super) fn singly_imported<'t>(ctx: &FileContext<'t>) -> std::collections::HashSet<&'t str> {
    let root = ctx.tree.root_node();
    let mut c = root.walk();
    let mut out = std::collections::HashSet::new();
    for s in root.named_children(&mut c) {
        if !matches!(s.kind_name(), "import_statement" | "import_from_statement") {
            continue;
        }
        let mut c = s.walk();
        let names: Vec<Node<'_>> = s.children_by_field_name("name", &mut c).collect();
        if let [n] = names.as_slice()
            && n.kind_name() == "dotted_name"
        {
            out.insert(ctx.node_text(*n));
        }
    }
    out
}

/// The top-level import statement that binds `name` alone (`import name`, `from m import name`), when
/// nothing in the file uses `name` but what lies inside `except` (the callee a fix rewrites): no other
/// identifier (an attribute's or a keyword's name aside), no string equal to it (`__all__`, an
/// annotation). `None` too when the file is too large to look through.
pub(super) fn unused_import<'t>(ctx: &FileContext<'t>, name: &str, except: Option<Node<'t>>) -> Option<Node<'t>> {
    let root = ctx.tree.root_node();
    let mut c = root.walk();
    let stmt = root.named_children(&mut c).find(|s| {
        let mut c = s.walk();
        let names: Vec<Node<'_>> = s.children_by_field_name("name", &mut c).collect();
        match (s.kind_name(), names.as_slice()) {
            ("import_statement" | "import_from_statement", [n]) => {
                n.kind_name() == "dotted_name" && ctx.node_text(*n) == name
            }
            _ => false,
        }
    })?;
    // A use of `name` found by an earlier look, outside `except`: the walk below would find it too (it
    // skips only import statements and what lies inside `except`), or stop before it with `None`.
    let known = ctx.memo.uses.borrow().get(name).cloned();
    if let Some(u) = known
        && except.is_none_or(|e| !(e.start_byte() <= u.start && u.end <= e.end_byte()))
    {
        return None;
    }
    let found = |n: Node<'_>| {
        ctx.memo.uses.borrow_mut().entry(name.to_string()).or_insert(n.byte_range());
    };
    let mut cursor = root.walk();
    let mut seen = 0;
    loop {
        let n = cursor.node();
        seen += 1;
        if seen > MAX_NODES {
            return None;
        }
        let inside = |outer: Node<'_>| outer.start_byte() <= n.start_byte() && n.end_byte() <= outer.end_byte();
        // Import statements bind names or name modules (`from time import sleep` does not use `time`).
        let skip = matches!(n.kind_name(), "import_statement" | "import_from_statement" | "future_import_statement")
            || except.is_some_and(inside);
        if !skip {
            match n.kind_name() {
                "identifier" if ctx.node_text(n) == name => {
                    // An attribute's or a keyword's name is not a use; anything else is.
                    let not_a_use = n.parent().and_then(|p| {
                        let k = p.kind_name();
                        let named = |f: &str| p.field(f).is_some_and(|x| x.id() == n.id());
                        ((k == "attribute" && named("attribute")) || (k == "keyword_argument" && named("name")))
                            .then_some(())
                    });
                    if not_a_use.is_none() {
                        found(n);
                        return None;
                    }
                }
                "string_content" if ctx.node_text(n) == name => {
                    found(n);
                    return None;
                }
                _ => {}
            }
        }
        if !skip && cursor.goto_first_child() {
            continue;
        }
        while !cursor.goto_next_sibling() {
            if !cursor.goto_parent() {
                return Some(stmt);
            }
        }
    }
}

/// Removes a top-level statement with its line (and the line break after it); an import a fix inserts
/// at its start takes its place.
pub(super) fn remove_statement(ctx: &FileContext<'_>, stmt: Node<'_>, edits: &mut Vec<Edit>) {
    let text = ctx.text;
    let start = text[..stmt.start_byte()].rfind('\n').map_or(0, |i| i + 1);
    if !text[start..stmt.start_byte()].trim().is_empty() {
        return; // something else before it on the line (`x = 1; import time`)
    }
    let rest = &text[stmt.end_byte()..];
    let line_end = rest.find('\n').map_or(text.len(), |i| stmt.end_byte() + i + 1);
    if !text[stmt.end_byte()..line_end].trim().is_empty() {
        return; // `import time; x = 1`, or a comment after it
    }
    // The first import of its group, with a blank line after it: the blank line goes too.
    let before = text[..start].trim_end_matches('\n');
    let previous = &before[before.rfind('\n').map_or(0, |i| i + 1)..];
    let first_of_group = !(previous.starts_with("import ") || previous.starts_with("from "));
    let group_end = if first_of_group && text[line_end..].starts_with('\n') { line_end + 1 } else { line_end };
    // An import the fix inserts right there keeps the group, and its blank line after. The insertion
    // stays an edit of its own: fix-all merges it with the same insertion by another fix.
    let inserted_here = edits.iter().any(|e| e.range.is_empty() && e.range.start == start);
    // A new import section the fix starts right after this import, when this import was its section's
    // only one (`import sqlite3` going, `import aiosqlite` coming): the new section takes its place,
    // without the blank line that would have separated the two.
    let nl = super::imports::newline(text);
    if first_of_group
        && let Some(i) =
            edits.iter().position(|e| e.range.is_empty() && e.range.start == line_end && e.text.starts_with(nl))
    {
        edits[i].text.drain(..nl.len());
        edits.push(Edit { range: start..line_end, text: String::new() });
        edits.sort_by_key(|e| (e.range.start, e.range.end));
        return;
    }
    let removed = if inserted_here { start..line_end } else { start..group_end };
    if edits.iter().any(|e| e.range.is_empty() && start < e.range.start && e.range.start < removed.end) {
        return; // an insertion inside the statement: keep it
    }
    edits.push(Edit { range: removed, text: String::new() });
    edits.sort_by_key(|e| (e.range.start, e.range.end));
}

// -------------------------------------------------------------------------------------- async file

const PATH_METHODS: &[&str] = &["read_text", "read_bytes", "write_text", "write_bytes"];

fn anyio_available(ctx: &FileContext<'_>) -> bool {
    // FastAPI and Starlette depend on anyio: where they are imported, anyio is installed.
    ctx.options.anyio_available
        || ctx.imports.imports_module("anyio")
        || ctx.catalog.frameworks.modules.iter().any(|m| ctx.imports.imports_module(m))
}

fn async_file(ctx: &FileContext<'_>, t: &Target, call: Node<'_>, out: &mut Fixes) {
    let Some(func) = call.field("function") else { return };
    if !anyio_available(ctx) {
        return;
    }
    let method = func
        .field("attribute")
        .filter(|_| func.kind_name() == "attribute")
        .map(|a| ctx.node_text(a))
        .filter(|m| PATH_METHODS.contains(m));
    match method {
        Some(m) => path_method(ctx, call, func, m, out),
        None => whole_file_open(ctx, t, call, func, out),
    }
}

/// `anyio.Path(...)` for a path expression: `Path(p)` becomes `anyio.Path(p)`, anything else is wrapped.
fn anyio_path(ctx: &FileContext<'_>, im: &super::Imports, path: Node<'_>, edits: &mut Vec<Edit>) -> String {
    let ap = im.module_attr("anyio", "Path", edits, ctx.text);
    if path.kind_name() == "call"
        && let (Some(f), Some(args)) = (path.field("function"), path.field("arguments"))
        && ctx.imports.spelling("pathlib.Path").as_deref() == Some(ctx.node_text(f))
        && args.kind_name() == "argument_list"
    {
        return format!("{ap}{}", ctx.node_text(args));
    }
    if path.kind_name() == "parenthesized_expression" {
        return format!("{ap}{}", ctx.node_text(path));
    }
    format!("{ap}({})", ctx.node_text(path))
}

fn path_method(ctx: &FileContext<'_>, call: Node<'_>, func: Node<'_>, method: &str, out: &mut Fixes) {
    let title = format!("Use `await anyio.Path(...).{method}()`");
    if let Err(reason) = await_allowed(ctx, call) {
        out.refused.push(Refusal { id: FixId::AsyncFile, title, reason });
        return;
    }
    let (Some(object), Some(args)) = (func.field("object"), call.field("arguments")) else {
        return;
    };
    let mut edits = Vec::new();
    let scoped = ctx.imports_at(call);
    let path = anyio_path(ctx, &scoped, object, &mut edits);
    if let Some(reason) = scoped.conflict() {
        out.refused.push(Refusal { id: FixId::AsyncFile, title, reason });
        return;
    }
    let expr = format!("{path}.{method}{}", ctx.node_text(args));
    edits.push(Edit { range: call.byte_range(), text: awaited(ctx, call, &expr) });
    out.fixes.push(Fix { id: FixId::AsyncFile, title, applicability: Applicability::Safe, edits });
}

/// `open(p).read()` / `open(p, "w").write(s)` / `path.open("rb").read()` as one `anyio.Path` call.
fn whole_file_open(ctx: &FileContext<'_>, t: &Target, call: Node<'_>, func: Node<'_>, out: &mut Fixes) {
    let refuse = |out: &mut Fixes, reason: &str| {
        out.refused.push(Refusal {
            id: FixId::AsyncFile,
            title: "Use `anyio.Path` for the whole-file read or write".into(),
            reason: reason.into(),
        })
    };
    // The outer `open(...).read()` / `.write(x)`.
    let Some(attr) = ctx.up(call).filter(|p| p.kind_name() == "attribute") else {
        return refuse(
            out,
            "only a whole-file `open(...).read()` or `open(...).write(data)` has a direct `anyio.Path` equivalent",
        );
    };
    let Some(outer) = ctx.up(attr).filter(|p| p.kind_name() == "call") else {
        return refuse(
            out,
            "only a whole-file `open(...).read()` or `open(...).write(data)` has a direct `anyio.Path` equivalent",
        );
    };
    let op = attr.field("attribute").map(|a| ctx.node_text(a)).unwrap_or_default();
    if !matches!(op, "read" | "write") {
        return refuse(
            out,
            "only a whole-file `open(...).read()` or `open(...).write(data)` has a direct `anyio.Path` equivalent",
        );
    }
    // A function (`open(p, mode)`) or a method of a path (`p.open(mode)`).
    let callee = t.callee.as_deref().unwrap_or_default();
    let is_function = called_by_name(ctx, callee, ctx.node_text(func));
    let Some(args) = call.field("arguments").filter(|a| a.kind_name() == "argument_list") else { return };
    let mut positional = Vec::new();
    let mut mode = None;
    let mut passed = Vec::new();
    let mut c = args.walk();
    for a in args.named_children(&mut c) {
        match a.kind_name() {
            "comment" => {}
            "keyword_argument" => {
                let name = a.field("name").map(|n| ctx.node_text(n)).unwrap_or_default();
                match name {
                    "mode" => mode = a.field("value"),
                    "encoding" | "errors" => passed.push(ctx.node_text(a).to_string()),
                    _ => return refuse(out, &format!("`{name}=` has no `anyio.Path` equivalent")),
                }
            }
            "list_splat" | "dictionary_splat" => return refuse(out, "the arguments are unpacked"),
            _ => positional.push(a),
        }
    }
    let path = if is_function {
        if positional.is_empty() {
            return;
        }
        Some(positional.remove(0))
    } else {
        None
    };
    if let Some(m) = positional.first() {
        if mode.is_some() || positional.len() > 1 {
            return refuse(out, "`open` is given buffering or other positional arguments");
        }
        mode = Some(*m);
    }
    let mode_text = match mode {
        None => "r".to_string(),
        Some(m) if m.kind_name() == "string" => match string_literal(ctx.node_text(m)) {
            Some(s) => s,
            None => return refuse(out, "the mode is not a plain string literal"),
        },
        Some(_) => return refuse(out, "the mode is not a literal"),
    };
    let mut chars: Vec<char> = mode_text.chars().filter(|c| *c != 't').collect();
    chars.sort_unstable();
    let binary = chars.contains(&'b');
    let kind: String = chars.iter().filter(|c| **c != 'b').collect();
    let method = match (kind.as_str(), op, binary) {
        ("" | "r", "read", false) => "read_text",
        ("" | "r", "read", true) => "read_bytes",
        ("w", "write", false) => "write_text",
        ("w", "write", true) => "write_bytes",
        _ => {
            return refuse(
                out,
                &format!("mode `{mode_text}` with `.{op}()` has no whole-file `anyio.Path` equivalent"),
            );
        }
    };
    if binary && !passed.is_empty() {
        return refuse(out, "binary mode with `encoding`/`errors`");
    }
    let Some(oargs) = outer.field("arguments").filter(|a| a.kind_name() == "argument_list") else { return };
    let mut c = oargs.walk();
    let oargs: Vec<Node<'_>> = oargs.named_children(&mut c).filter(|n| n.kind_name() != "comment").collect();
    let data = match (op, oargs.as_slice()) {
        ("read", []) => None,
        ("write", [d]) if !matches!(d.kind_name(), "keyword_argument" | "list_splat" | "dictionary_splat") => Some(*d),
        _ => return refuse(out, &format!("`.{op}(...)` is called with arguments other than a whole-file {op}")),
    };
    let title = format!("Use `await anyio.Path(...).{method}()`");
    if let Err(reason) = await_allowed(ctx, outer) {
        out.refused.push(Refusal { id: FixId::AsyncFile, title, reason });
        return;
    }
    let mut edits = Vec::new();
    let scoped = ctx.imports_at(outer);
    let p = match path {
        Some(p) => {
            let ap = scoped.module_attr("anyio", "Path", &mut edits, ctx.text);
            format!("{ap}({})", ctx.node_text(p))
        }
        None => match func.field("object") {
            Some(o) => anyio_path(ctx, &scoped, o, &mut edits),
            None => return,
        },
    };
    if let Some(reason) = scoped.conflict() {
        out.refused.push(Refusal { id: FixId::AsyncFile, title, reason });
        return;
    }
    let mut args: Vec<String> = data.map(|d| ctx.node_text(d).to_string()).into_iter().collect();
    args.extend(passed);
    let expr = format!("{p}.{method}({})", args.join(", "));
    edits.push(Edit { range: outer.byte_range(), text: awaited(ctx, outer, &expr) });
    out.fixes.push(Fix { id: FixId::AsyncFile, title, applicability: Applicability::Safe, edits });
}

/// The value of a plain string literal (`"rb"`, `'w'`), without prefixes or escapes.
fn string_literal(s: &str) -> Option<String> {
    let q = s.chars().next()?;
    if !matches!(q, '"' | '\'') || s.len() < 2 || !s.ends_with(q) || s.starts_with("\"\"\"") || s.starts_with("'''") {
        return None;
    }
    let inner = &s[1..s.len() - 1];
    (!inner.contains('\\')).then(|| inner.to_string())
}

// --------------------------------------------------------------------------------------- make-sync

fn make_sync(ctx: &FileContext<'_>, def: Node<'_>, explain: bool, out: &mut Fixes) {
    let Some(asy) = async_token(def) else { return };
    let Some(name) = def.field("name").map(|n| ctx.node_text(n)) else { return };
    let endpoint = ctx.is_endpoint(def);
    let title = if endpoint {
        format!("Make `{name}` a plain `def` (the framework runs it in a worker thread)")
    } else {
        format!("Make `{name}` a plain `def`")
    };
    let refuse = |out: &mut Fixes, reason: String| {
        if explain {
            out.refused.push(Refusal { id: FixId::MakeSync, title: title.clone(), reason });
        }
    };
    if !endpoint {
        return refuse(
            out,
            format!(
                "`{name}` is not a FastAPI/Starlette route or dependency: its callers await it, and rewriting them is not offered"
            ),
        );
    }
    let Some(body) = def.field("body") else { return };
    if let Some(why) = needs_the_loop(ctx, body) {
        return refuse(out, why);
    }
    // The framework calls it; code in this file that calls (and awaits) it too would break.
    if let Some(line) = called_in_file(ctx, name) {
        return refuse(out, format!("`{name}` is also called directly, at line {line}"));
    }
    let Some(def_kw) = asy.next_sibling() else { return };
    let edits = vec![Edit { range: asy.start_byte()..def_kw.start_byte(), text: String::new() }];
    // The function then runs in a worker thread: thread-bound state, context variables it sets and the
    // threadpool's size now matter, so the fix is unsafe.
    out.fixes.push(Fix { id: FixId::MakeSync, title, applicability: Applicability::Unsafe, edits });
}

/// The first line where `name(...)` is called in the file (a reference such as `Depends(name)` is not a
/// call). Every call in the file is listed once, on the first question.
pub(super) fn called_in_file(ctx: &FileContext<'_>, name: &str) -> Option<usize> {
    let build = || {
        let mut calls: HashMap<String, usize> = HashMap::new();
        // Kinds and field compared by id: this walks every node of the file.
        let language = crate::syntax::language();
        let (call, identifier) =
            (language.id_for_node_kind("call", true), language.id_for_node_kind("identifier", true));
        let function = language.field_id_for_name("function");
        crate::syntax::walk_preorder(ctx.tree.root_node(), |n| {
            if n.kind_id() == call
                && let Some(f) =
                    function.and_then(|id| n.child_by_field_id(id.get())).filter(|f| f.kind_id() == identifier)
            {
                calls.entry(ctx.node_text(f).to_string()).or_insert(n.start_position().row + 1);
            }
            true
        });
        calls
    };
    // Shared by the file's contexts when they share tables (whose walk listed the calls).
    let calls = match ctx.tables() {
        // Lazy tables: the name's places before a `(`, in text order, checked on the tree (the first
        // that is the identifier called by a `call` is the first call in tree order: a call starts with
        // its function).
        Some(super::FileTables { lazy: Some(found), .. }) => {
            let candidates = found.get_or_init(|| super::call_candidates(ctx));
            return first_call_of(ctx, name, candidates.get(&super::name_key(name)).map_or(&[][..], |v| v));
        }
        Some(tables) => tables.calls.get_or_init(|| {
            let mut calls: HashMap<String, usize> = HashMap::new();
            for &(line, f) in &tables.call_sites {
                let name = ctx.node_text(f);
                if !calls.contains_key(name) {
                    calls.insert(name.to_string(), line);
                }
            }
            calls
        }),
        None => ctx.memo.calls.get_or_init(build),
    };
    calls.get(name).copied()
}

/// The 1-based line of the first of `offsets` (where `name` stands before a `(`) that is the identifier a
/// `call` calls, as the tree says.
fn first_call_of(ctx: &FileContext<'_>, name: &str, offsets: &[usize]) -> Option<usize> {
    let k = super::kind_ids();
    offsets.iter().find_map(|&at| {
        let range = at..at + name.len();
        // Another name of the same hash: not this one.
        if ctx.text.get(range.clone()) != Some(name) {
            return None;
        }
        let id = super::verify::descendant_around(ctx, &range)
            .filter(|n| n.kind_id() == k.identifier && n.byte_range() == range)?;
        let call = ctx.up(id).filter(|c| c.kind_id() == k.call)?;
        (call.child_by_field_id(k.function).map(|f| f.id()) == Some(id.id())).then(|| id.start_position().row + 1)
    })
}

/// Why a coroutine body must stay a coroutine: it awaits, iterates or enters asynchronously, or calls an
/// API that needs the running loop (which a worker thread does not have).
fn needs_the_loop(ctx: &FileContext<'_>, body: Node<'_>) -> Option<String> {
    if let Some(why) = ctx.memo.needs_loop.borrow().get(&body.id()) {
        return why.clone();
    }
    let why = needs_the_loop_in(ctx.text, ctx.catalog, body, false);
    ctx.memo.needs_loop.borrow_mut().insert(body.id(), why.clone());
    why
}

/// [`needs_the_loop`] over any text; `no_yield` also refuses a generator (an async generator would
/// become a sync one, which its consumers cannot `async for`).
pub(super) fn needs_the_loop_in(
    text: &str,
    catalog: &crate::catalog::Catalog,
    body: Node<'_>,
    no_yield: bool,
) -> Option<String> {
    let loop_tails: Vec<&str> = catalog.loop_apis.iter().map(|q| q.rsplit('.').next().unwrap_or(q)).collect();
    let mut stack = vec![body];
    let mut seen = 0;
    while let Some(n) = stack.pop() {
        seen += 1;
        if seen > MAX_NODES {
            return Some("the function is too large to check".into());
        }
        match n.kind_name() {
            "function_definition" | "lambda" | "class_definition" if n.id() != body.id() => continue,
            "await" => return Some("it awaits".into()),
            "yield" if no_yield => return Some("it is an async generator".into()),
            "for_statement" | "with_statement" | "for_in_clause"
                if n.child(0).is_some_and(|c| c.kind_name() == "async") =>
            {
                return Some("it uses `async for` or `async with`".into());
            }
            "for_in_clause" if n.prev_sibling().is_some_and(|c| c.kind_name() == "async") => {
                return Some("it has an async comprehension".into());
            }
            "call" => {
                if let Some(f) = n.field("function") {
                    let t = &text[f.byte_range()];
                    let tail = t.rsplit('.').next().unwrap_or(t);
                    if loop_tails.contains(&tail) {
                        return Some(format!("it calls `{t}`, which needs the running event loop"));
                    }
                }
            }
            _ => {}
        }
        stack.extend(super::children(n, false));
    }
    None
}

// -------------------------------------------------------------------------------------------- noqa

fn noqa(ctx: &FileContext<'_>, t: &Target, out: &mut Fixes) {
    let code = t.rule.code();
    // The line `loopsafe check --add-noqa` would give it: ruff's (where the statement's string or
    // continuation ends), never inside a string; merged into a `# noqa: ...` there; nothing when a bare
    // `# noqa` is there already or no line can take one.
    let (edits, _) = crate::add_noqa::edits(ctx.text, Some(ctx.tree.root_node()), &[(t.range.clone(), code)]);
    let [(range, text)] = edits.as_slice() else { return };
    let title = format!("Add `# noqa: {code}` to this line");
    let edit = Edit { range: range.clone(), text: text.clone() };
    out.fixes.push(Fix { id: FixId::Noqa, title, applicability: Applicability::Safe, edits: vec![edit] });
}
