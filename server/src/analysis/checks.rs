//! The rules, run over one file's facts: blocking calls on the event loop, coroutines that never await,
//! and event-loop APIs called from sync routes.

use std::collections::HashMap;

use tree_sitter::Node;

use super::facts::{ScopeId, ScopeKind};
use super::resolve::{Resolver, Value};
use super::{Finding, Hop};
use crate::catalog::{Entry, display_name};
use crate::rules::Rule;
use crate::settings::Settings;

/// How a function is run by a web framework.
#[derive(Clone, Debug)]
pub(super) struct Endpoint {
    /// `GET /items/{id}` for a route whose path is visible.
    pub(super) label: Option<String>,
}

/// For each scope, the scope whose thread it runs on: itself, or for a lambda passed to a function that
/// calls it right away (`sorted(xs, key=lambda x: ...)`), the scope the call is in.
pub(super) fn execution_scopes(r: &Resolver<'_, '_>) -> Vec<ScopeId> {
    let facts = r.facts;
    let n = facts.scopes.len();
    let mut inline = vec![false; n];
    let lambdas: HashMap<usize, ScopeId> = facts
        .scopes
        .iter()
        .enumerate()
        .filter(|(_, s)| s.kind == ScopeKind::Lambda)
        .filter_map(|(i, s)| s.node.map(|node| (node.id(), i)))
        .collect();
    if !lambdas.is_empty() {
        let tails: std::collections::HashSet<&str> =
            r.catalog.immediate_callers.iter().map(|q| q.rsplit('.').next().unwrap_or(q)).collect();
        for call in &facts.calls {
            let text = facts.text_of(call.func);
            if !tails.contains(text.rsplit('.').next().unwrap_or(text)) {
                continue;
            }
            if !r.qualified(&r.value_of(call.func)).is_some_and(|q| r.catalog.immediate_callers.contains(&q)) {
                continue;
            }
            let mut c = call.args.walk();
            for a in call.args.named_children(&mut c) {
                let arg = if a.kind() == "keyword_argument" { a.child_by_field_name("value") } else { Some(a) };
                if let Some(&s) = arg.filter(|x| x.kind() == "lambda").and_then(|x| lambdas.get(&x.id())) {
                    inline[s] = true;
                }
            }
        }
    }
    // Parents precede their children, so one pass resolves nested inline lambdas.
    let mut runs_in: Vec<ScopeId> = (0..n).collect();
    for id in 1..n {
        if inline[id]
            && let Some(p) = facts.scopes[id].parent
        {
            runs_in[id] = runs_in[p];
        }
    }
    runs_in
}

pub fn run(
    r: &Resolver<'_, '_>,
    settings: &Settings,
    endpoints: &HashMap<ScopeId, Endpoint>,
    runs_in: &[ScopeId],
) -> Vec<Finding> {
    let facts = r.facts;
    let mut out = Vec::new();
    let want_blocking = Rule::all().any(|rule| rule.is_blocking() && settings.enabled(rule));
    let want_loop_api = settings.enabled(Rule::LoopApiInThread);

    for call in &facts.calls {
        let call_scope = runs_in[call.scope];
        let scope = &facts.scopes[call_scope];
        if facts.is_on_loop(call_scope) {
            if want_blocking && let Some(f) = blocking_call(r, call.node, call.func, call_scope, endpoints) {
                out.push(f);
            }
        } else if want_loop_api && scope.kind == ScopeKind::Function && endpoints.contains_key(&call_scope) {
            // A sync route or dependency: the framework runs it in a worker thread.
            let v = r.value_of(call.func);
            if let Some(q) = r.qualified(&v).filter(|q| r.catalog.loop_apis.contains(q)) {
                let name = function_name(r, call_scope);
                out.push(Finding {
                    rule: Rule::LoopApiInThread,
                    tier: Rule::LoopApiInThread.info().default_tier,
                    range: call.func.byte_range(),
                    call_range: Some(call.node.byte_range()),
                    message: format!(
                        "`{q}` needs a running event loop, but the sync `def {name}` runs in a worker thread, where it raises RuntimeError; make `{name}` `async def` or pass the loop in"
                    ),
                    callee: Some(q.clone()),
                    instead: Some(format!("declare `{name}` as `async def`")),
                    fix_kinds: Vec::new(),
                    chain: vec![Hop { path: None, range: call.node.byte_range(), name: q }],
                    function: Some(name),
                    route: endpoints.get(&call_scope).and_then(|e| e.label.clone()),
                });
            }
        }
    }

    // `with lock:` on the loop: entering the manager blocks when its `__enter__` does.
    if want_blocking {
        for &(manager, scope) in &facts.enters {
            let scope = runs_in[scope];
            if !facts.is_on_loop(scope) || manager.kind() == "call" {
                // A call is checked as a call; what it returns is entered by the framework of its type.
                continue;
            }
            if let Value::Instance(t) = r.value_of(manager) {
                let q = format!("{t}.__enter__");
                if let Some(entry) = r.catalog.blocking(&q) {
                    // No fix: a lock entered on the loop needs a different primitive, not a thread.
                    let mut f = catalog_finding(r, entry, &q, manager.byte_range(), None, scope, endpoints);
                    f.fix_kinds.clear();
                    out.push(f);
                }
            }
        }
    }

    if settings.enabled(Rule::AsyncWithoutAwait) {
        for (id, s) in facts.scopes.iter().enumerate() {
            if s.kind == ScopeKind::Function
                && s.is_async
                && !s.has_await
                && !s.has_yield
                && let Some(f) = async_without_await(r, id, endpoints)
            {
                out.push(f);
            }
        }
    }
    out
}

fn blocking_call<'t>(
    r: &Resolver<'_, 't>,
    node: Node<'t>,
    func: Node<'t>,
    scope: ScopeId,
    endpoints: &HashMap<ScopeId, Endpoint>,
) -> Option<Finding> {
    let v = r.value_of(func);
    let q = r.called(&v)?;
    let entry = r.catalog.blocking(&q)?;
    let parent = node.parent();
    // `await x.get()` awaits an async API of the same name; a sync one would not be awaitable.
    if parent.is_some_and(|p| p.kind() == "await") {
        return None;
    }
    let mut f = catalog_finding(r, entry, &q, func.byte_range(), Some(node.byte_range()), scope, endpoints);
    // `asyncio.to_thread(requests.get(url))` calls `requests.get` here, on the loop.
    if let Some(outer) = parent.filter(|p| p.kind() == "argument_list").and_then(|p| p.parent())
        && outer.kind() == "call"
        && is_offloader(r, outer)
    {
        f.message.push_str(&format!(
            "; it is called here, on the event loop, and only its result is passed on: pass the callable and its arguments instead (`{}`)",
            offload_example(r, outer, node, &q)
        ));
    }
    Some(f)
}

/// A finding on a catalogued blocking API `q` reached at `range` (the call `call`) in `scope`.
fn catalog_finding(
    r: &Resolver<'_, '_>,
    entry: &Entry,
    q: &str,
    range: std::ops::Range<usize>,
    call: Option<std::ops::Range<usize>>,
    scope: ScopeId,
    endpoints: &HashMap<ScopeId, Endpoint>,
) -> Finding {
    let name = display_name(q).to_string();
    Finding {
        rule: entry.rule,
        tier: entry.tier,
        chain: vec![Hop { path: None, range: call.clone().unwrap_or_else(|| range.clone()), name: name.clone() }],
        range,
        call_range: call,
        message: entry.message_for(q),
        callee: Some(name),
        instead: (!entry.instead.is_empty()).then(|| entry.instead.clone()),
        fix_kinds: entry.fixes.clone(),
        function: Some(function_name(r, scope)),
        route: endpoints.get(&scope).and_then(|e| e.label.clone()),
    }
}

fn is_offloader(r: &Resolver<'_, '_>, call: Node<'_>) -> bool {
    let Some(func) = call.child_by_field_name("function") else { return false };
    if func.kind() == "attribute"
        && let Some(attr) = func.child_by_field_name("attribute")
        && r.catalog.offload_methods.contains(r.facts.text_of(attr))
    {
        return true;
    }
    r.qualified(&r.value_of(func)).is_some_and(|q| r.catalog.is_offloader(&q))
}

fn offload_example(r: &Resolver<'_, '_>, outer: Node<'_>, inner: Node<'_>, q: &str) -> String {
    let offloader = outer.child_by_field_name("function").map_or("asyncio.to_thread", |f| r.facts.text_of(f));
    let callee = inner.child_by_field_name("function").map_or(display_name(q), |f| r.facts.text_of(f));
    let args = inner.child_by_field_name("arguments").map_or("", |a| r.facts.text_of(a));
    let args = args.trim_start_matches('(').trim_end_matches(')').trim();
    if args.is_empty() || args.len() > 60 {
        format!("{offloader}({callee}, ...)")
    } else {
        format!("{offloader}({callee}, {args})")
    }
}

pub(super) fn function_name(r: &Resolver<'_, '_>, scope: ScopeId) -> String {
    let facts = r.facts;
    let mut parts = Vec::new();
    let mut id = Some(scope);
    while let Some(s) = id {
        let sc = &facts.scopes[s];
        match sc.kind {
            ScopeKind::Module => break,
            ScopeKind::Lambda => parts.push("<lambda>"),
            _ => parts.push(sc.name.map_or("?", |n| facts.text_of(n))),
        }
        id = sc.parent;
        if parts.len() > 32 {
            break;
        }
    }
    parts.reverse();
    parts.join(".")
}

fn async_without_await(r: &Resolver<'_, '_>, id: ScopeId, endpoints: &HashMap<ScopeId, Endpoint>) -> Option<Finding> {
    let facts = r.facts;
    let s = &facts.scopes[id];
    let name_node = s.name?;
    if is_stub(s.body_node?) {
        return None;
    }
    for d in &s.decorators {
        let target = if d.kind() == "call" { d.child_by_field_name("function")? } else { *d };
        if r.qualified(&r.value_of(target)).is_some_and(|q| r.catalog.exempt_decorators.contains(&q)) {
            return None;
        }
    }
    let name = function_name(r, id);
    let endpoint = endpoints.get(&id);
    let message = match endpoint {
        Some(_) => format!(
            "`{name}` is `async def` but never awaits: declared as a plain `def`, the framework would run it in its threadpool, which is what any blocking work in it needs"
        ),
        None => format!("`{name}` is `async def` but never awaits: it can be a plain `def`"),
    };
    Some(Finding {
        rule: Rule::AsyncWithoutAwait,
        tier: Rule::AsyncWithoutAwait.info().default_tier,
        range: name_node.byte_range(),
        call_range: None,
        message,
        callee: None,
        instead: Some("a plain `def`".into()),
        fix_kinds: vec![crate::catalog::FixKind::MakeSync],
        chain: Vec::new(),
        function: Some(name),
        route: endpoint.and_then(|e| e.label.clone()),
    })
}

/// A body that only documents, passes or raises: an interface method, not a coroutine that forgot to
/// await.
fn is_stub(body: Node<'_>) -> bool {
    let mut c = body.walk();
    body.named_children(&mut c).all(|stmt| match stmt.kind() {
        "pass_statement" | "raise_statement" | "comment" => true,
        "expression_statement" => {
            stmt.named_child(0).is_some_and(|e| matches!(e.kind(), "string" | "ellipsis" | "concatenated_string"))
        }
        "return_statement" => stmt.named_child(0).is_none_or(|e| matches!(e.kind(), "none" | "ellipsis")),
        _ => false,
    })
}

/// Functions that FastAPI or Starlette run as routes or dependencies in this file.
pub(super) fn endpoints(r: &Resolver<'_, '_>) -> HashMap<ScopeId, Endpoint> {
    let facts = r.facts;
    let fw = &r.catalog.frameworks;
    let mut out = HashMap::new();
    let uses_framework = facts
        .imported_modules
        .iter()
        .any(|m| fw.modules.iter().any(|f| m == f || (m.starts_with(f.as_str()) && m[f.len()..].starts_with('.'))));
    if !uses_framework {
        return out;
    }
    // `@app.get("/path")` on a function.
    for (id, s) in facts.scopes.iter().enumerate() {
        if s.kind != ScopeKind::Function {
            continue;
        }
        for d in &s.decorators {
            if let Some(label) = route_decorator(r, *d) {
                out.insert(id, Endpoint { label: Some(label) });
            }
        }
    }
    // `Depends(f)` and `Route("/path", f)` anywhere in the file.
    let last = |q: &String| q.rsplit('.').next().unwrap_or(q).to_string();
    let dep_names: Vec<String> = fw.dependency_markers.iter().map(last).collect();
    let route_names: Vec<String> = fw.route_constructors.iter().map(last).collect();
    for call in &facts.calls {
        let func_text = facts.text_of(call.func);
        let tail = func_text.rsplit('.').next().unwrap_or(func_text);
        let is_dep = dep_names.iter().any(|n| n == tail);
        let is_route = route_names.iter().any(|n| n == tail);
        if !is_dep && !is_route {
            continue;
        }
        let Some(q) = r.qualified(&r.value_of(call.func)) else { continue };
        let (target, label) = if is_dep && fw.dependency_markers.contains(&q) {
            (argument(r, call.args, 0, "dependency"), None)
        } else if is_route && fw.route_constructors.contains(&q) {
            let path = argument(r, call.args, 0, "path").and_then(|p| string_value(r, p));
            (argument(r, call.args, 1, "endpoint"), path)
        } else {
            continue;
        };
        if let Some(Value::Def(f)) = target.map(|t| r.value_of(t)) {
            out.entry(f).or_insert(Endpoint { label });
        }
    }
    out
}

fn route_decorator(r: &Resolver<'_, '_>, d: Node<'_>) -> Option<String> {
    let fw = &r.catalog.frameworks;
    if d.kind() != "call" {
        return None;
    }
    let func = d.child_by_field_name("function")?;
    if func.kind() != "attribute" {
        return None;
    }
    let method = r.facts.text_of(func.child_by_field_name("attribute")?);
    if !fw.route_methods.contains(method) {
        return None;
    }
    let obj = func.child_by_field_name("object")?;
    let is_app = match r.value_of(obj) {
        Value::Instance(t) => fw.app_classes.contains(&t),
        // An app or router imported from elsewhere in the project: `from .routers import router`.
        Value::Name(q) => !q.starts_with("builtins.") || obj.kind() == "identifier",
        Value::Unknown | Value::Foreign(_) => obj.kind() == "identifier" || obj.kind() == "attribute",
        _ => false,
    };
    if !is_app {
        return None;
    }
    let args = d.child_by_field_name("arguments")?;
    let path = argument(r, args, 0, "path").and_then(|p| string_value(r, p));
    let verb = match method {
        "api_route" | "route" | "websocket" | "websocket_route" => None,
        m => Some(m.to_ascii_uppercase()),
    };
    Some(match (verb, path) {
        (Some(v), Some(p)) => format!("{v} {p}"),
        (None, Some(p)) => p,
        (Some(v), None) => v,
        (None, None) => method.to_string(),
    })
}

/// The `index`-th positional argument, or the keyword argument `name`.
fn argument<'t>(r: &Resolver<'_, 't>, args: Node<'t>, index: usize, name: &str) -> Option<Node<'t>> {
    let mut c = args.walk();
    let mut positional = 0;
    let mut keyword = None;
    for a in args.named_children(&mut c) {
        match a.kind() {
            "keyword_argument" => {
                let is_name = a.child_by_field_name("name").is_some_and(|n| r.facts.text_of(n) == name);
                if is_name {
                    keyword = a.child_by_field_name("value");
                }
            }
            "list_splat" | "dictionary_splat" | "comment" => {}
            _ => {
                if positional == index {
                    return Some(a);
                }
                positional += 1;
            }
        }
    }
    keyword
}

fn string_value(r: &Resolver<'_, '_>, node: Node<'_>) -> Option<String> {
    if node.kind() != "string" {
        return None;
    }
    let mut c = node.walk();
    let content: String =
        node.named_children(&mut c).filter(|n| n.kind() == "string_content").map(|n| r.facts.text_of(n)).collect();
    Some(content)
}
