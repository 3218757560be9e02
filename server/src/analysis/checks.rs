//! The rules, run over one file's facts: blocking calls on the event loop, coroutines that never await,
//! and event-loop APIs called from sync routes.

use std::collections::HashMap;
use std::ops::Range;

use super::facts::{Arg, BindingKind, CallFact, Decorator, Expr, ExprKind, ScopeId, ScopeKind};
use super::resolve::{Resolver, Value};
use super::summary::{Mount, Routing, Served, Target, route_label};
use super::{Finding, Hop};
use crate::catalog::{Entry, display_name};
use crate::rules::Rule;
use crate::settings::Settings;

/// How a function is run by a web framework.
#[derive(Clone, Debug)]
pub(super) struct Endpoint {
    /// `GET /items/{id}` for a route whose path is visible.
    pub(super) label: Option<String>,
    /// Not a route: a command-line command or entry point (`@app.command()`, `asyncio.run(main())` from
    /// sync code), which runs alone on an event loop made for it (see `cli_commands`).
    pub(super) cli: bool,
    /// An application's lifespan (`FastAPI(lifespan=f)`; `cli` too): it runs once, as the application
    /// starts and stops, while no request is served (see `lifespans`).
    pub(super) lifespan: bool,
    /// A route declared on a router whose path is known: what the project needs to show the route as
    /// the application serves it, behind the prefixes of the routers including that one.
    pub(super) served: Option<Served>,
}

impl Endpoint {
    /// A route or dependency that the web framework runs (in its threadpool when sync).
    pub(super) fn served(&self) -> bool {
        !self.cli
    }
}

/// For each scope, the scope whose thread it runs on: itself, or for a lambda passed to a function that
/// calls it right away (`sorted(xs, key=lambda x: ...)`), the scope the call is in. Only the lambdas
/// among `scopes` and the calls among `calls` are looked at (a lambda argument is inside its call, so
/// a function's calls decide for the lambdas in it).
pub(super) fn execution_scopes(r: &Resolver<'_>, scopes: Range<ScopeId>, calls: &[CallFact]) -> Vec<ScopeId> {
    let facts = r.facts;
    let n = facts.scopes.len();
    let mut inline = vec![false; n];
    let lambdas: HashMap<usize, ScopeId> = scopes
        .clone()
        .filter(|&i| facts.scopes[i].kind == ScopeKind::Lambda)
        .map(|i| (facts.scopes[i].range.start, i))
        .collect();
    if !lambdas.is_empty() {
        for call in calls {
            let Some(tail) = call.func.tail() else { continue };
            if !r.catalog.immediate_caller_tails.contains(tail) {
                continue;
            }
            if !r.qualified(&r.value_of(&call.func)).is_some_and(|q| r.catalog.immediate_callers.contains(&q)) {
                continue;
            }
            for a in &call.args {
                if a.value.kind == ExprKind::Lambda
                    && let Some(&s) = lambdas.get(&a.value.range.start)
                {
                    inline[s] = true;
                }
            }
        }
    }
    // Parents precede their children, so one pass resolves nested inline lambdas.
    let mut runs_in: Vec<ScopeId> = (0..n).collect();
    for id in scopes {
        if inline[id]
            && let Some(p) = facts.scopes[id].parent
        {
            runs_in[id] = runs_in[p];
        }
    }
    runs_in
}

/// Which part of a file's facts to check: all of it, or one function's (after an edit inside it).
#[derive(Clone, Debug)]
pub(super) struct Part {
    pub scopes: Range<ScopeId>,
    pub calls: Range<usize>,
    pub attributes: Range<usize>,
    pub enters: Range<usize>,
}

impl Part {
    pub(super) fn all(facts: &super::facts::Facts) -> Part {
        Part {
            scopes: 0..facts.scopes.len(),
            calls: 0..facts.calls.len(),
            attributes: 0..facts.attributes.len(),
            enters: 0..facts.enters.len(),
        }
    }
}

pub(super) fn run(
    r: &Resolver<'_>,
    settings: &Settings,
    endpoints: &HashMap<ScopeId, Endpoint>,
    runs_in: &[ScopeId],
    part: &Part,
) -> Vec<Finding> {
    let facts = r.facts;
    let mut out = Vec::new();
    let want_blocking = Rule::all().any(|rule| rule.is_blocking() && settings.enabled(rule));
    let want_loop_api = settings.enabled(Rule::LoopApiInThread);

    for call in &facts.calls[part.calls.clone()] {
        let call_scope = runs_in[call.scope];
        let scope = &facts.scopes[call_scope];
        if facts.is_on_loop(call_scope) {
            if want_blocking && let Some(mut f) = blocking_call(r, call, call_scope, endpoints) {
                in_cli_command(r, &mut f, call_scope, endpoints);
                out.push(f);
            }
        } else if want_loop_api
            && scope.kind == ScopeKind::Function
            && endpoints.get(&call_scope).is_some_and(Endpoint::served)
        {
            // A sync route or dependency: the framework runs it in a worker thread.
            let v = r.value_of(&call.func);
            if let Some(q) = r.qualified(&v).filter(|q| r.catalog.loop_apis.contains(q)) {
                let name = function_name(r, call_scope);
                out.push(Finding {
                    rule: Rule::LoopApiInThread,
                    tier: Rule::LoopApiInThread.info().default_tier,
                    range: call.func_range.clone(),
                    call_range: Some(call.range.clone()),
                    message: format!(
                        "`{q}` needs a running event loop, but the sync `def {name}` runs in a worker thread, where it raises RuntimeError; make `{name}` `async def` or pass the loop in"
                    ),
                    callee: Some(q.clone()),
                    instead: Some(format!("declare `{name}` as `async def`")),
                    fix_kinds: Vec::new(),
                    chain: vec![Hop { path: None, range: call.range.clone(), name: q }],
                    function: Some(name),
                    route: endpoints.get(&call_scope).and_then(|e| e.label.clone()),
                    related: Vec::new(),
                });
            }
        }
    }

    // `with lock:` on the loop: entering the manager blocks when its `__enter__` does.
    if want_blocking {
        for (manager, scope, body) in &facts.enters[part.enters.clone()] {
            let scope = runs_in[*scope];
            if !facts.is_on_loop(scope) || matches!(manager.kind, ExprKind::Call(_)) {
                // A call is checked as a call; what it returns is entered by the framework of its type.
                continue;
            }
            if let Value::Instance(t) = r.value_of(manager) {
                let q = format!("{t}.__enter__");
                if let Some(entry) = r.catalog.blocking(&q) {
                    // No fix: a lock entered on the loop needs a different primitive, not a thread.
                    let mut f = catalog_finding(r, entry, &q, manager.range.clone(), None, scope, endpoints);
                    f.fix_kinds.clear();
                    // A thread lock held around quick code waits only while another thread holds it.
                    if r.catalog.brief_locks.contains(&q) && !holds_work(r, body) {
                        f.tier = crate::rules::Tier::Hint;
                        f.message.push_str(
                            "; the block it guards makes no blocking call and awaits nothing, so the loop waits only while another thread holds it",
                        );
                    }
                    in_cli_command(r, &mut f, scope, endpoints);
                    out.push(f);
                }
            }
        }
    }

    if settings.enabled(Rule::AsyncWithoutAwait) {
        for id in part.scopes.clone() {
            let s = &facts.scopes[id];
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

/// A blocking call in a command-line command delays no other task: its loop serves that command alone.
fn in_cli_command(r: &Resolver<'_>, f: &mut Finding, scope: ScopeId, endpoints: &HashMap<ScopeId, Endpoint>) {
    if endpoints.get(&scope).is_some_and(|e| e.cli) && f.tier > crate::rules::Tier::Hint {
        f.tier = crate::rules::Tier::Hint;
        let lifespan = endpoints.get(&scope).is_some_and(|e| e.lifespan);
        let name = function_name(r, scope);
        f.message.push_str(&if lifespan { super::summary::lifespan_note(&name) } else { cli_note(&name, true) });
    }
}

/// What a finding in a command-line command (`command`), or in a coroutine that only commands or an
/// application's lifespan await, says (`checks` and the project's findings).
pub fn cli_note(function: &str, command: bool) -> String {
    if command {
        format!(
            "; `{function}` runs only as a command-line command, alone on an event loop made for it: the call delays no other task"
        )
    } else {
        format!(
            "; `{function}` is awaited only by command-line commands, each alone on an event loop made for it, or by an application's lifespan, while no request is served: the call delays no other task"
        )
    }
}

/// Whether a `with` block (by its body's range) awaits or makes a blocking call: then a thread lock
/// entered around it is held across that wait.
fn holds_work(r: &Resolver<'_>, body: &Range<usize>) -> bool {
    if r.text_of(body).contains("await") {
        return true; // an `await`, `async for` or `async with` (or the word in a string: kept as work)
    }
    let facts = r.facts;
    let first = facts.calls.partition_point(|c| c.range.start < body.start);
    facts.calls[first..]
        .iter()
        .take_while(|c| c.range.start < body.end)
        .any(|c| r.called(&r.value_of(&c.func)).is_some_and(|q| r.catalog.blocking(&q).is_some()))
}

fn blocking_call(
    r: &Resolver<'_>,
    call: &CallFact,
    scope: ScopeId,
    endpoints: &HashMap<ScopeId, Endpoint>,
) -> Option<Finding> {
    let v = r.value_of(&call.func);
    let q = r.called(&v)?;
    let entry = r.catalog.blocking(&q)?;
    // `await x.get()` awaits an async API of the same name; a sync one would not be awaitable. A
    // module's function (`await os.path.isfile(p)`) is the one named: it runs, then its result is awaited.
    let awaited_anyway = call.awaited && r.is_module_path(&call.func);
    if call.awaited && !awaited_anyway {
        return None;
    }
    // `t.join(timeout=0)`, `lock.acquire(blocking=False)`: told not to wait.
    if told_not_to_wait(r, &q, &call.args) || in_nonblocking_mode(r, call) || does_no_io(r, &q, call) {
        return None;
    }
    if in_memory(r, &q, call) {
        return None;
    }
    let mut f = catalog_finding(r, entry, &q, call.func_range.clone(), Some(call.range.clone()), scope, endpoints);
    if awaited_anyway {
        f.message.push_str(
            "; `await` does not make it asynchronous: the call runs to its end on the loop, and only then is its result awaited",
        );
    }
    if let Some(guard) = lazy_guard(r, call.range.start, scope) {
        f.tier = crate::rules::Tier::Hint;
        f.message.push_str(&once_note(&guard));
    } else if package_data(r, &q, call, scope) {
        f.tier = crate::rules::Tier::Hint;
        f.message.push_str(PACKAGE_DATA_NOTE);
    }
    // `asyncio.to_thread(requests.get(url))` calls `requests.get` here, on the loop.
    if let Some(outer) = &call.outer
        && is_offloader(r, outer)
    {
        f.message.push_str(&format!(
            "; it is called here, on the event loop, and only its result is passed on: pass the callable and its arguments instead (`{}`)",
            offload_example(r, outer, call)
        ));
    }
    Some(f)
}

/// The guard of one-time work around a blocking call at `at` in function `scope`: an enclosing
/// `if X is None:` or `if not X:` whose `X` is an attribute of the instance or class (`self._client`,
/// `cls._pool`) that a method other than `__init__` assigns, or a `global` name this function assigns
/// (`_client = boto3.client(...)` after `global _client`). The call then runs on first use only, like a
/// memoized helper's. Returns the guard as written (`if self._client is None`). The blocks the call is
/// in are read as `enclosing_if` reads them.
pub(super) fn lazy_guard(r: &Resolver<'_>, at: usize, scope: ScopeId) -> Option<String> {
    enclosing_if(r, at, scope, |start, _line, cond| {
        let cond = cond.trim();
        if memo_miss(r, scope, start, cond) {
            return Some(format!("if {cond}"));
        }
        // `if X is None:` tests for "not created yet"; `if not X:` may test a setting, so for it the
        // block itself must set X (`if not self.running: ...; self.running = True`).
        let (subject, inside) = match cond.strip_prefix("not ") {
            Some(x) => (Some(x.trim()), Some(start)),
            None => (cond.strip_suffix(" is None").map(str::trim), None),
        };
        // `if not hasattr(self, "_x"):` tests whether the block below has run yet when that block sets
        // `self._x` (datasette's `app_css_hash`).
        let attr = subject.zip(inside).and_then(|(x, _)| hasattr_subject(x));
        let subject = attr.as_deref().or(subject);
        subject.is_some_and(|x| set_later(r, scope, x, inside)).then(|| format!("if {cond}"))
    })
    .or_else(|| key_error_miss(r, at, scope))
    .or_else(|| early_return_guard(r, at, scope))
}

/// `hasattr(self, "_x")` (either quote) as the attribute it tests: `self._x`.
fn hasattr_subject(test: &str) -> Option<String> {
    let (obj, name) = test.strip_prefix("hasattr(")?.strip_suffix(')')?.split_once(',')?;
    let name = name.trim();
    let name = name
        .strip_prefix('"')
        .and_then(|n| n.strip_suffix('"'))
        .or_else(|| name.strip_prefix('\'').and_then(|n| n.strip_suffix('\'')))?;
    Some(format!("{}.{name}", obj.trim()))
}

/// A cache miss written as `try: return D[K]` / `except KeyError:` whose handler (around the call at
/// `at`) stores `D[K] = ...`: the handler runs once per key, like `if K not in D:` (`memo_miss`; `D` as
/// persistent as there). jupyter-server's `cached_load`: `try: return domain_cache[language] except
/// KeyError: data = load(...); domain_cache[language] = data`.
fn key_error_miss(r: &Resolver<'_>, at: usize, scope: ScopeId) -> Option<String> {
    let mut min = usize::MAX;
    // The `except KeyError` the call is in: its indentation and line start.
    let mut handler: Option<(usize, usize)> = None;
    let mut body: Vec<&str> = Vec::new();
    let mut found = None;
    lines_above(r, at, scope, |start, line, code, first| {
        let ind = indent(line);
        if first {
            min = ind;
            return true;
        }
        let Some((h_ind, h_start)) = handler else {
            if ind >= min {
                return true;
            }
            min = ind;
            let Some(header) = code.strip_prefix("except") else { return ind != 0 };
            let caught = header.trim_start().trim_start_matches('(');
            if !(caught.starts_with("KeyError") && header.starts_with([' ', '('])) {
                return false;
            }
            handler = Some((ind, start));
            return true;
        };
        if ind > h_ind {
            body.push(code);
            return true;
        }
        if ind == h_ind && code.starts_with("except") {
            body.clear(); // an earlier handler of the same `try`
            return true;
        }
        if ind == h_ind && code == "try:" {
            found = body.iter().find_map(|l| {
                let (map, key) = l.strip_prefix("return ")?.trim().strip_suffix(']')?.split_once('[')?;
                (persistent_map(r, scope, map.trim()) && stores_after(r, scope, h_start, map.trim(), key))
                    .then(|| format!("try: {l} except KeyError"))
            });
        }
        false
    });
    found
}

/// `K not in D` where `D` outlives the call (a module-level name this function does not bind, or an
/// attribute of the instance or class) and this function stores `D[K] = ...` after the test: a cache
/// miss, so the block runs once per key (`if key not in _ssl_context_cache: _ssl_context_cache[key] =
/// ssl.create_default_context(...)`).
fn memo_miss(r: &Resolver<'_>, scope: ScopeId, start: usize, cond: &str) -> bool {
    let Some((key, map)) = cond.split_once(" not in ") else { return false };
    let (key, map) = (key.trim(), map.trim());
    persistent_map(r, scope, map) && stores_after(r, scope, start, map, key)
}

/// Whether `map` outlives a call of function `scope`: a module-level name the function does not bind,
/// an attribute of the instance or class (`self._cache`), or a local name bound only to an item of
/// such a map (`domain_cache = TRANSLATIONS_CACHE[domain]`).
fn persistent_map(r: &Resolver<'_>, scope: ScopeId, map: &str) -> bool {
    let facts = r.facts;
    let s = &facts.scopes[scope];
    let ident = |x: &str| {
        let mut c = x.chars();
        c.next().is_some_and(|c| c.is_alphabetic() || c == '_') && c.all(|c| c.is_alphanumeric() || c == '_')
    };
    // A module-level name the function does not bind, or `self.attr`.
    let outlives = |map: &str| match map.split_once('.') {
        Some((obj, attr)) => {
            s.first_param.as_deref() == Some(obj)
                && ident(attr)
                && s.parent
                    .filter(|&c| facts.scopes[c].kind == ScopeKind::Class)
                    .is_some_and(|c| facts.scopes[c].self_attrs.contains_key(attr))
        }
        None => ident(map) && !s.bindings.contains_key(map) && facts.scopes[0].bindings.contains_key(map),
    };
    if outlives(map) {
        return true;
    }
    let Some(list) = s.bindings.get(map).filter(|_| ident(map)) else { return false };
    list.iter().all(|&b| match &facts.bindings[b].kind {
        BindingKind::Value(Expr { kind: ExprKind::Subscript(inner), .. }) => {
            matches!(inner.kind, ExprKind::Name(_) | ExprKind::Attribute(..)) && outlives(r.text_of(&inner.range))
        }
        _ => false,
    })
}

/// Whether function `scope` stores `map[key] = ...` after offset `start` (spaces aside).
fn stores_after(r: &Resolver<'_>, scope: ScopeId, start: usize, map: &str, key: &str) -> bool {
    let s = &r.facts.scopes[scope];
    if key.trim().is_empty() || start >= s.body.end {
        return false;
    }
    let after: String = r.text_of(&(start..s.body.end)).chars().filter(|c| !c.is_whitespace()).collect();
    let key: String = key.chars().filter(|c| !c.is_whitespace()).collect();
    let store = format!("{map}[{key}]=");
    after.match_indices(&store).any(|(i, _)| !after[i + store.len()..].starts_with('='))
}

/// The guard of one-time work written as an early return before the call: `if X: return` or
/// `if X is not None: return X` (a statement of the block the call is in, or of a block around it),
/// where this function sets `X` after that test (`_started = True` after `global _started`,
/// `self._client = ...`). Every call after the first returns there. A guard that is one branch of an
/// `if`/`elif`/`else`, or that does more than return, is not one.
fn early_return_guard(r: &Resolver<'_>, at: usize, scope: ScopeId) -> Option<String> {
    let mut deeper: Vec<&str> = Vec::new();
    // The statement below at the current level continues an `if` (`else`, `elif`) or a `try`.
    let mut continued = false;
    let mut min = usize::MAX;
    let mut found = None;
    lines_above(r, at, scope, |start, line, code, first| {
        let ind = indent(line);
        if first {
            min = ind;
            return true;
        }
        if ind > min {
            deeper.push(code);
            return true;
        }
        let branch = ["else", "elif ", "except", "finally"].iter().any(|b| code.starts_with(b));
        if ind < min {
            min = ind;
        } else if !continued && let Some(header) = code.strip_prefix("if ") {
            // `if X: return` on one line, or `if X:` over a block that only returns.
            let cond = match header.split_once(':') {
                Some((c, rest)) if rest.trim().is_empty() && deeper.len() == 1 && is_return(deeper[0]) => Some(c),
                Some((c, rest)) if deeper.is_empty() && is_return(rest.trim()) => Some(c),
                _ => None,
            };
            if let Some(cond) = cond.map(str::trim) {
                let subject = cond.strip_suffix(" is not None").map_or(cond, str::trim);
                if set_later(r, scope, subject, Some(start)) {
                    found = Some(format!("if {cond}: return"));
                    return false;
                }
            }
        } else if !continued && let Some(guard) = registry_search(r, scope, start, code, &deeper) {
            found = Some(guard);
            return false;
        }
        deeper.clear();
        continued = branch;
        true
    });
    found
}

/// A search of a registry for an instance made earlier, before the call makes one: `for V in REG:` over
/// a block `if isinstance(V, C): return V` or `if type(V) is C: return V` (`deeper`, nearest line first), where
/// `REG` outlives the call (as `persistent_map` reads it) and the function adds to it after the loop
/// (`REG.append(`, `.add(`, `.insert(`). litellm's logger registry: `for cb in _in_memory_loggers: if
/// isinstance(cb, AgentOps): return cb`, then `AgentOps()` and `_in_memory_loggers.append(...)`: only
/// the first call gets past the loop, so what follows it (the constructor and any set-up beside it) is
/// one-time work.
fn registry_search(r: &Resolver<'_>, scope: ScopeId, start: usize, code: &str, deeper: &[&str]) -> Option<String> {
    let (var, reg) = code.strip_prefix("for ")?.strip_suffix(':')?.split_once(" in ")?;
    let (var, reg) = (var.trim(), reg.trim());
    let [ret, test] = deeper else { return None };
    let class = match test.strip_prefix("if type(") {
        // `if type(V) is C:`
        Some(t) => t.strip_prefix(var)?.strip_prefix(')')?.trim_start().strip_prefix("is ")?.strip_suffix(':')?,
        None => test
            .strip_prefix("if isinstance(")?
            .strip_suffix("):")?
            .strip_prefix(var)?
            .trim_start()
            .strip_prefix(',')?,
    }
    .trim();
    let plain = |x: &str| !x.is_empty() && x.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '.');
    if ret.strip_prefix("return ").map(str::trim) != Some(var) || !plain(class) || !plain(var) {
        return None;
    }
    let s = &r.facts.scopes[scope];
    let after: String = r.text_of(&(start..s.body.end)).chars().filter(|c| !c.is_whitespace()).collect();
    let adds = [".append(", ".add(", ".insert("].iter().any(|m| after.contains(&format!("{reg}{m}")));
    (adds && persistent_map(r, scope, reg))
        .then(|| format!("for {var} in {reg}: if isinstance({var}, {class}): return {var}"))
}

/// `return` or `return EXPR`.
fn is_return(code: &str) -> bool {
    code == "return" || code.starts_with("return ") || code.starts_with("return(")
}

/// The first `if` whose block holds offset `at` in function `scope`, innermost first, for which `f`
/// (given the header line's start, the line and the condition) returns something. A call in the
/// `else`/`elif` branch of an `if` is not in its block.
///
/// Blocks are read from the indentation of the lines above `at`, within the function's body
/// (`lines_above`): a line indented less than everything after it is the header of a block `at` is in.
pub(super) fn enclosing_if<T>(
    r: &Resolver<'_>,
    at: usize,
    scope: ScopeId,
    mut f: impl FnMut(usize, &str, &str) -> Option<T>,
) -> Option<T> {
    let mut branch_at: Option<usize> = None;
    let mut found = None;
    block_headers_above(r, at, scope, |start, line, header, ind| {
        if header.starts_with("else") || header.starts_with("elif ") {
            branch_at = Some(ind);
            return true;
        }
        let Some(cond) = header.strip_prefix("if ") else { return true };
        if branch_at.take() == Some(ind) {
            return true;
        }
        found = f(start, line, cond);
        found.is_none()
    });
    found
}

/// The conditions the branch holding offset `at` in function `scope` runs under, innermost first: `f` gets
/// each condition's text and the truth it needs, and stops the walk by returning false. From the lines
/// above (`lines_above`): the header of each block around `at` (`if C:` and `elif C:` need `C`; an
/// `elif` or `else` needs every earlier condition of its chain false) and each earlier statement of
/// those blocks that is an `if C:` whose block ends by leaving the function (`return`, `raise`), which
/// needs `C` false after it. An `if` followed by `elif`/`else`, and the `else` of a `for`, `while` or
/// `try`, say nothing.
pub(super) fn branch_conditions<'t>(
    r: &Resolver<'t>,
    at: usize,
    scope: ScopeId,
    mut f: impl FnMut(&'t str, bool) -> bool,
) {
    // The indentation of the statements at the current level.
    let mut min = usize::MAX;
    // Lines of the statement just below at the current level, deeper than it (its block), nearest first.
    let mut deeper: Vec<(&'t str, usize)> = Vec::new();
    // The statement below at the current level continues an `if` (`elif`, `else`) or a `try`.
    let mut continued = false;
    // Walking up an `if`/`elif`/`else` chain whose later branch holds `at`: its indentation and the
    // conditions seen so far (all of them must be false for the branch to run).
    let mut chain: Option<(usize, Vec<&'t str>)> = None;
    let leaves =
        |code: &str| code == "return" || code.starts_with("return ") || code == "raise" || code.starts_with("raise ");
    lines_above(r, at, scope, |_, line, code, first| {
        let ind = indent(line);
        if first {
            min = ind;
            return true;
        }
        if let Some((cind, conds)) = &mut chain {
            if ind > *cind {
                return true;
            }
            if ind == *cind {
                if let Some(c) = code.strip_prefix("elif ").and_then(|c| c.strip_suffix(':')) {
                    conds.push(c.trim());
                    return true;
                }
                if let Some(c) = code.strip_prefix("if ").and_then(|c| c.strip_suffix(':')) {
                    conds.push(c.trim());
                    for c in conds.iter() {
                        if !f(c, false) {
                            return false;
                        }
                    }
                }
            }
            // The chain's `if` (or something else: a `for`/`try` whose `else` it was): back to the blocks.
            let cind = *cind;
            chain = None;
            min = cind;
            deeper.clear();
            continued = false;
            if ind == cind {
                return true;
            }
        }
        if ind > min {
            deeper.push((code, ind));
            return true;
        }
        if ind < min {
            min = ind;
            deeper.clear();
            continued = false;
            let Some(header) = code.strip_suffix(':') else { return true };
            if let Some(c) = header.strip_prefix("if ") {
                if !f(c.trim(), true) {
                    return false;
                }
            } else if let Some(c) = header.strip_prefix("elif ") {
                if !f(c.trim(), true) {
                    return false;
                }
                chain = Some((ind, Vec::new()));
            } else if header == "else" {
                chain = Some((ind, Vec::new()));
            }
            return ind != 0;
        }
        // A statement before at the current level.
        let branch = ["else", "elif ", "except", "finally"].iter().any(|b| code.starts_with(b));
        if !continued && let Some(header) = code.strip_prefix("if ") {
            let exits = match header.split_once(':') {
                // `if C:` over a block whose last statement at its own level leaves.
                Some((c, rest)) if rest.trim().is_empty() => {
                    let level = deeper.iter().map(|(_, i)| *i).min();
                    // Its last statement: the nearest line at the block's level that does not close a
                    // bracket (`raise ValueError(` over several lines ends with `)`).
                    let last = deeper.iter().find(|(l, i)| Some(*i) == level && !l.starts_with([')', ']', '}']));
                    last.is_some_and(|(l, _)| leaves(l)).then_some(c)
                }
                Some((c, rest)) if deeper.is_empty() && leaves(rest.trim()) => Some(c),
                _ => None,
            };
            if let Some(c) = exits
                && !f(c.trim(), false)
            {
                return false;
            }
        }
        deeper.clear();
        continued = branch;
        true
    });
}

/// Walks the headers of the blocks around offset `at` in function `scope`'s body, innermost first
/// (read from the indentation of the lines above, as `lines_above` gives them: a line indented less
/// than everything after it is the header of a block `at` is in): `f` gets each header's line start,
/// its line, its code without the `:` and its indentation. The walk stops when `f` returns false or
/// at a header at column 0.
fn block_headers_above<'t>(
    r: &Resolver<'t>,
    at: usize,
    scope: ScopeId,
    mut f: impl FnMut(usize, &'t str, &'t str, usize) -> bool,
) {
    let mut min = usize::MAX;
    lines_above(r, at, scope, |start, line, code, first| {
        let ind = indent(line);
        if first || ind >= min {
            min = min.min(ind);
            return true;
        }
        min = ind;
        let Some(header) = code.strip_suffix(':') else { return true };
        f(start, line, header, ind) && ind != 0
    });
}

/// The class an enclosing `if isinstance(name, C):` or `elif isinstance(name, C):` narrows `name` to at
/// offset `at` in function `scope` (the nearest such test around it; a tuple of classes narrows to
/// none): `C`'s value there. Read from the text above, as `enclosing_if` reads guards; only in a
/// function whose body tests `isinstance(name`.
/// Whether a value's type says nothing of it: unknown, or annotated `Any`/`object` (`[typing] untyped`),
/// so that an `isinstance` test may narrow it (`isinstance_narrowed`).
pub(super) fn untyped(r: &Resolver<'_>, v: &Value) -> bool {
    match v {
        Value::Unknown => true,
        Value::Instance(t) | Value::Name(t) => r.catalog.typing_untyped.contains(t),
        _ => false,
    }
}

pub(super) fn isinstance_narrowed(r: &Resolver<'_>, name: &str, at: usize, scope: ScopeId) -> Option<Value> {
    let s = &r.facts.scopes[scope];
    let probe = format!("isinstance({name},");
    if s.kind != ScopeKind::Function || !r.text_of(&s.body).contains(&probe) {
        return None;
    }
    let mut class: Option<(String, usize)> = None;
    block_headers_above(r, at, scope, |start, _, header, _| {
        let Some(cond) = header.strip_prefix("if ").or_else(|| header.strip_prefix("elif ")) else { return true };
        if let Some(rest) = cond.trim().strip_prefix(&probe)
            && let Some(c) = rest.trim().strip_suffix(')')
        {
            let c = c.trim();
            if !c.is_empty()
                && c.split('.').all(|p| !p.is_empty() && p.chars().all(|ch| ch.is_alphanumeric() || ch == '_'))
            {
                class = Some((c.to_string(), start));
            }
            return false;
        }
        true
    });
    let (class, at) = class?;
    let mut parts = class.split('.');
    let mut v = r.lookup(parts.next()?, scope, at, 0);
    for p in parts {
        v = r.attribute(v, p, 0);
    }
    match v {
        Value::Name(q) if q.starts_with("builtins.") => None,
        v => Some(r.as_instance(v)).filter(|v| *v != Value::Unknown),
    }
}

/// Walks the lines above offset `at` in function `scope`'s body, nearest first: `f` gets each line's
/// start, the line and its code (trimmed, without a trailing comment; blank and comment lines are
/// skipped), and first the line `at` is on (`first`, with no code). It stops when `f` returns false.
/// At most `GUARD_LINES` lines and `GUARD_BYTES` back are read (bounded in bytes too: a 1 MB line of
/// calls must not be scanned once per call).
fn lines_above<'t>(
    r: &Resolver<'t>,
    at: usize,
    scope: ScopeId,
    mut f: impl FnMut(usize, &'t str, &'t str, bool) -> bool,
) {
    const GUARD_LINES: usize = 400;
    const GUARD_BYTES: usize = 32 * 1024;
    let facts = r.facts;
    let s = &facts.scopes[scope];
    if s.kind != ScopeKind::Function || at < s.body.start || at > s.body.end {
        return;
    }
    let text: &'t str = r.text;
    let boundary = |mut i: usize| {
        i = i.min(text.len());
        while !text.is_char_boundary(i) {
            i += 1;
        }
        i
    };
    // The start of the body's first line, so that its indentation is read whole.
    let lo = boundary(s.body.start.saturating_sub(GUARD_BYTES));
    let body_line = text[lo..s.body.start.min(text.len())].rfind('\n').map_or(s.body.start, |i| lo + i + 1);
    let floor = boundary(body_line.max(at.saturating_sub(GUARD_BYTES)));
    let line_start = |pos: usize| text[floor..pos].rfind('\n').map_or(floor, |i| floor + i + 1);
    let mut pos = line_start(at.min(text.len()).max(floor));
    if !f(pos, &text[pos..], "", true) {
        return;
    }
    for _ in 0..GUARD_LINES {
        if pos <= floor {
            break;
        }
        let start = line_start(pos - 1);
        let line = &text[start..pos - 1];
        pos = start;
        if start <= floor && floor > body_line {
            break; // the line may go on before the bound: not a whole line
        }
        let code = line.split(" #").next().unwrap_or(line).trim();
        if code.is_empty() || code.starts_with('#') {
            continue;
        }
        if !f(start, line, code, false) {
            return;
        }
    }
}

/// A line's indentation, in bytes.
fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t']).len()
}

/// Whether `subject` (`self.x`, `cls.x` or a name) is assigned where a lazy-initialisation guard on it
/// means "not done yet": an attribute by a method other than `__init__`, a name by this function
/// through `global`; with `inside`, by this function after that offset (in the guarded block).
fn set_later(r: &Resolver<'_>, scope: ScopeId, subject: &str, inside: Option<usize>) -> bool {
    let facts = r.facts;
    let s = &facts.scopes[scope];
    let ident = |x: &str| {
        let mut c = x.chars();
        c.next().is_some_and(|c| c.is_alphabetic() || c == '_') && c.all(|c| c.is_alphanumeric() || c == '_')
    };
    if let Some((obj, attr)) = subject.split_once('.') {
        if s.first_param.as_deref() != Some(obj) || !ident(attr) {
            return false;
        }
        let Some(class) = s.parent.filter(|&c| facts.scopes[c].kind == ScopeKind::Class) else { return false };
        let c = &facts.scopes[class];
        let outside_init = |list: &Vec<usize>| {
            list.iter().any(|&b| {
                // A binding's position is where it takes effect: the end of its statement.
                let pos = facts.bindings[b].pos.saturating_sub(1);
                let at = facts.scope_at(pos);
                match inside {
                    Some(from) => at == scope && pos > from,
                    None => at != class && facts.scopes[at].name.as_ref().is_none_or(|n| &*n.text != "__init__"),
                }
            })
        };
        return c.self_attrs.get(attr).is_some_and(outside_init);
    }
    if !ident(subject) || !s.has_global {
        return false;
    }
    facts.scopes[0].bindings.get(subject).is_some_and(|list| {
        list.iter().any(|&b| {
            let p = facts.bindings[b].pos;
            inside.unwrap_or(s.body.start) <= p && p <= s.body.end
        })
    })
}

/// Whether a call of `q` is told not to wait by one of its arguments (the catalog's `[nowait]`).
pub(super) fn told_not_to_wait(r: &Resolver<'_>, q: &str, args: &[Arg]) -> bool {
    let Some(forms) = r.catalog.nowait.get(q) else { return false };
    let mut positional = 0;
    args.iter().any(|a| {
        let value: String = r.text_of(&a.value.range).chars().filter(|c| !c.is_whitespace()).collect();
        let form = match &a.keyword {
            Some(k) => format!("{k}={value}"),
            None => {
                positional += 1;
                format!("#{}={value}", positional - 1)
            }
        };
        forms.contains(&form)
    })
}

/// `json.dump(data, io.StringIO())`, `zipfile.ZipFile(io.BytesIO(), "w")` (or a name bound to the
/// buffer): memory, not I/O.
pub(super) fn in_memory(r: &Resolver<'_>, q: &str, call: &CallFact) -> bool {
    r.catalog.over_memory(q).is_some() && r.over_buffer(&call.args, 0)
}

/// Whether the call is given none of the arguments through which it does I/O (the catalog's
/// `[io_args]`: `load_verify_locations(cadata=pem)`). A `*` or `**` among the arguments may pass any
/// of them: then it does I/O.
pub(super) fn does_no_io(r: &Resolver<'_>, q: &str, call: &CallFact) -> bool {
    let Some(io) = r.catalog.io_args.get(q) else { return false };
    if r.text_of(&call.args_range).contains('*') {
        return false;
    }
    let mut positional = 0;
    !call.args.iter().any(|a| {
        let form = match &a.keyword {
            Some(k) => k.to_string(),
            None => {
                positional += 1;
                format!("#{}", positional - 1)
            }
        };
        io.contains(&form)
    })
}

/// A read of a file shipped with the package (`[package_reads]`): the path is built from the module's
/// `__file__`, directly or through names bound to such paths, and the mode (a literal, or none) reads.
/// Such a file is small and in the page cache after the first read: the finding is a hint.
pub(super) fn package_data(r: &Resolver<'_>, q: &str, call: &CallFact, scope: ScopeId) -> bool {
    package_data_at(r, q, call, scope, 0)
}

fn package_data_at(r: &Resolver<'_>, q: &str, call: &CallFact, scope: ScopeId, depth: u32) -> bool {
    let Some(forms) = r.catalog.package_reads.get(q) else { return false };
    let Some((path, modes)) = forms.split_first() else { return false };
    let mut positional = 0;
    let mut path_expr = None;
    for a in &call.args {
        let form = match &a.keyword {
            Some(k) => k.to_string(),
            None => {
                positional += 1;
                format!("#{}", positional - 1)
            }
        };
        if form == *path {
            path_expr = Some(&a.value);
        } else if modes.contains(&form) {
            let mode = r.text_of(&a.value.range).trim();
            let quoted = mode.len() >= 2 && (mode.starts_with(['"', '\'']) && mode.ends_with(['"', '\'']));
            if !quoted || mode.contains(['w', 'a', 'x', '+']) {
                return false;
            }
        } else if form.starts_with('*') || r.text_of(&a.value.range).starts_with('*') {
            return false;
        }
    }
    let path_expr = match (path.as_str(), &call.func.kind) {
        ("self", ExprKind::Attribute(obj, _)) => Some(&**obj),
        _ => path_expr,
    };
    path_expr.is_some_and(|e| from_file(r, e, scope, depth))
}

/// The call an expression is, when it is one of `[package_reads]` (`open(...)`), with its callee.
fn read_call<'f>(r: &Resolver<'f>, e: &Expr) -> Option<(String, &'f CallFact)> {
    if !matches!(e.kind, ExprKind::Call(_)) {
        return None;
    }
    let calls = &r.facts.calls;
    let i = calls.partition_point(|c| c.range.start < e.range.start);
    let c = calls[i..].iter().take_while(|c| c.range.start == e.range.start).find(|c| c.range == e.range)?;
    let q = r.called(&r.value_of(&c.func))?;
    r.catalog.package_reads.contains_key(&q).then_some((q, c))
}

/// The note of a package-data read (`package_data`).
pub const PACKAGE_DATA_NOTE: &str = "; the file ships with the package (its path is built from `__file__`): a small read, from the page cache after the first";

/// Whether an expression is a path built from the module's `__file__`: its code names `__file__`
/// (`names_file`: not in a string or a comment), or a name in it is bound (in the scope or an enclosing one) to such an expression. Bounded by `depth`.
fn from_file(r: &Resolver<'_>, e: &Expr, scope: ScopeId, depth: u32) -> bool {
    from_file_text(r, r.text_of(&e.range), e.range.start, scope, depth)
}

/// `from_file` on the source text `text` at offset `at`.
fn from_file_text(r: &Resolver<'_>, text: &str, at: usize, scope: ScopeId, depth: u32) -> bool {
    const MAX: u32 = 4;
    const MAX_TEXT: usize = 400;
    if names_file(text) {
        return true;
    }
    if depth >= MAX || text.len() > MAX_TEXT {
        return false;
    }
    let facts = r.facts;
    // Each identifier of the expression that is a variable bound to a value (not an import, not a
    // function): that value is built from `__file__`.
    let mut seen: Vec<&str> = Vec::new();
    for word in code_words(text) {
        if word.starts_with(|c: char| c.is_ascii_digit()) || seen.contains(&word) {
            continue;
        }
        seen.push(word);
        // Python's lookup (`Resolver::lookup`): the scope, enclosing functions, the module. Names bound in
        // functions are followed through their text (an edit of it re-checks the function); module-level
        // ones through their facts only (`module_file`), which an edit of the module-level statement
        // changes, so that the functions that read them are checked again (`reading_units`).
        let mut id = scope;
        let list = loop {
            let s = &facts.scopes[id];
            if (s.kind != ScopeKind::Class || id == scope)
                && let Some(list) = s.bindings.get(word)
            {
                break Some(list);
            }
            match s.parent {
                Some(p) => id = p,
                None => break None,
            }
        };
        let Some(list) = list else { continue };
        let b = super::resolve::pick(facts, list, at);
        if facts.scopes[id].parent.is_none() {
            if module_file(r, b, depth + 1) {
                return true;
            }
            continue;
        }
        let found = match &facts.bindings[b].kind {
            BindingKind::Value(v) | BindingKind::With(v) => match read_call(r, v) {
                Some((q, c)) => package_data_at(r, &q, c, id, depth + 1),
                None => matches!(facts.bindings[b].kind, BindingKind::Value(_)) && from_file(r, v, id, depth + 1),
            },
            BindingKind::Annotation(_) => declared_value(r, word, facts.bindings[b].pos)
                .is_some_and(|(rhs, start)| from_file_text(r, rhs, start, id, depth + 1)),
            _ => false,
        };
        if found {
            return true;
        }
    }
    false
}

/// Whether the code `text` (an expression's source, which starts at a token) names `__file__`: an
/// identifier of its own (`Path(__file__)`, `pkg.__file__`), not a word of a string (an f-string
/// included) or of a comment (`"__file__"`, `# not __file__`), nor part of a longer name.
pub(crate) fn names_file(text: &str) -> bool {
    code_words(text).any(|w| w == "__file__")
}

/// The words of the code `text` (an expression's source, which starts at a token) outside its strings
/// and comments: identifiers, keywords and numbers, in order. A string's prefix (`f`, `rb`) goes with
/// the string; so does an f-string's `{...}` (no name it reads is listed).
fn code_words(text: &str) -> impl Iterator<Item = &str> {
    let b = text.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80;
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < b.len() {
            match b[i] {
                b'#' => {
                    i = b[i..].iter().position(|&c| c == b'\n' || c == b'\r').map_or(b.len(), |j| i + j);
                }
                b'\'' | b'"' => {
                    let q = b[i];
                    let triple = b.get(i..i + 3) == Some(&[q, q, q][..]);
                    i += if triple { 3 } else { 1 };
                    while i < b.len() {
                        match b[i] {
                            b'\\' => i += 2,
                            c if c == q && (!triple || b.get(i..i + 3) == Some(&[q, q, q][..])) => {
                                i += if triple { 3 } else { 1 };
                                break;
                            }
                            _ => i += 1,
                        }
                    }
                }
                c if word(c) => {
                    let start = i;
                    while i < b.len() && word(b[i]) {
                        i += 1;
                    }
                    if !matches!(b.get(i), Some(b'\'' | b'"')) {
                        // `i` ends the word at a char boundary: the bytes after it are ASCII or end the text.
                        return text.get(start..i);
                    }
                }
                _ => i += 1,
            }
        }
        None
    })
}

/// Whether module-level binding `b` is a path built from `__file__`, read from its facts only: its value
/// names `__file__` (`Binding::file`), or is an attribute, a `/` join, a method call or a subscript of a
/// module-level name that is (`HERE / "x.json"`, `HERE.joinpath("x")`; not `os.path.join(HERE, "x")`,
/// whose arguments the facts do not keep).
fn module_file(r: &Resolver<'_>, b: super::facts::BindingId, depth: u32) -> bool {
    const MAX: u32 = 8;
    let facts = r.facts;
    let mut b = b;
    for _ in depth..MAX {
        let binding = &facts.bindings[b];
        if binding.file {
            return true;
        }
        let BindingKind::Value(v) = &binding.kind else { return false };
        let mut e = v;
        let name = loop {
            match &e.kind {
                ExprKind::Attribute(inner, _)
                | ExprKind::Div(inner)
                | ExprKind::Call(inner)
                | ExprKind::Subscript(inner) => e = inner,
                ExprKind::Name(n) => break n,
                _ => return false,
            }
        };
        let Some(list) = facts.scopes[0].bindings.get(&**name) else { return false };
        b = super::resolve::pick(facts, list, e.range.start);
    }
    false
}

/// The value of a declaration `name: T = value` that ends at `end` (the binding's position), as text
/// with its offset: what follows the last `name:` in the 2 KiB before it, after its `=`.
pub(super) fn declared_value<'t>(r: &Resolver<'t>, name: &str, end: usize) -> Option<(&'t str, usize)> {
    let text: &'t str = r.text;
    let end = end.min(text.len());
    let mut from = end.saturating_sub(2048);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    let seg = text.get(from..end)?;
    let i = seg.rfind(&format!("{name}:"))?;
    let rest = &seg[i + name.len() + 1..];
    let b = rest.as_bytes();
    let eq = (0..b.len()).find(|&k| {
        b[k] == b'=' && b.get(k + 1) != Some(&b'=') && (k == 0 || !matches!(b[k - 1], b'=' | b'!' | b'<' | b'>'))
    })?;
    let start = from + i + name.len() + 1 + eq + 1;
    Some((text.get(start..end)?, start))
}

/// Whether the call's receiver is a variable put in non-blocking mode earlier in the same function
/// (`sock.setblocking(False)` before `sock.connect(...)`: the catalog's `[nonblocking]`).
pub(super) fn in_nonblocking_mode(r: &Resolver<'_>, call: &CallFact) -> bool {
    let ExprKind::Attribute(obj, _) = &call.func.kind else { return false };
    if unbounded(r, call, obj) {
        return true;
    }
    let ExprKind::Name(name) = &obj.kind else { return false };
    if r.catalog.nonblocking.is_empty() {
        return false;
    }
    let Value::Instance(class) = r.value_of(obj) else { return false };
    let Some(forms) = r.catalog.nonblocking.get(&class) else { return false };
    let facts = r.facts;
    let body_start = facts.scopes[call.scope].body.start;
    let end = facts.calls.partition_point(|c| c.range.start < call.range.start);
    facts.calls[..end].iter().rev().take_while(|c| c.range.start >= body_start).take(1000).any(|c| {
        let ExprKind::Attribute(o, attr) = &c.func.kind else { return false };
        if c.scope != call.scope || !matches!(&o.kind, ExprKind::Name(n) if n == name) {
            return false;
        }
        let args: String = r.text_of(&c.args_range).chars().filter(|ch| !ch.is_whitespace()).collect();
        forms.contains(&format!("{attr}{args}"))
    })
}

/// Whether `call` (a method of receiver `obj`, a name or `self.attr`) waits only on an object built
/// with an argument the catalog's `[bounded_by]` lists, and every construction of the receiver seen
/// gives none (or 0, or a negative number): `self._q = queue.Queue()` then `self._q.put(x)`, which never
/// waits. Bindings to `None` and annotations are passed over; any other binding (a parameter, a value
/// from elsewhere) keeps the call reported.
fn unbounded(r: &Resolver<'_>, call: &CallFact, obj: &Expr) -> bool {
    let catalog = r.catalog;
    let Some(method) = call.func.tail() else { return false };
    if !catalog.bounded_by.keys().any(|k| k.rsplit_once('.').is_some_and(|(_, m)| m == method)) {
        return false;
    }
    let Some(q) = r.called(&r.value_of(&call.func)) else { return false };
    let (Some(forms), Some((class, _))) = (catalog.bounded_by.get(&q), q.rsplit_once('.')) else { return false };
    let facts = r.facts;
    let s = &facts.scopes[call.scope];
    let bindings = match &obj.kind {
        ExprKind::Name(n) => s.bindings.get(n).or_else(|| facts.scopes[0].bindings.get(n)),
        ExprKind::Attribute(o, attr) if matches!(&o.kind, ExprKind::Name(p) if s.first_param.as_deref() == Some(&**p)) => {
            s.parent
                .filter(|&c| facts.scopes[c].kind == ScopeKind::Class)
                .and_then(|c| facts.scopes[c].self_attrs.get(attr))
        }
        _ => None,
    };
    let Some(bindings) = bindings else { return false };
    let mut built = false;
    for &b in bindings {
        let e = match &facts.bindings[b].kind {
            BindingKind::Annotation(_) => continue,
            BindingKind::Value(e) => e,
            _ => return false,
        };
        if r.text_of(&e.range).trim() == "None" {
            continue;
        }
        if !matches!(e.kind, ExprKind::Call(_)) {
            return false;
        }
        let first = facts.calls.partition_point(|c| c.range.start < e.range.start);
        let Some(ctor) =
            facts.calls[first..].iter().take_while(|c| c.range.start == e.range.start).find(|c| c.range == e.range)
        else {
            return false;
        };
        if r.called(&r.value_of(&ctor.func)).as_deref() != Some(class) || r.text_of(&ctor.args_range).contains('*') {
            return false;
        }
        let mut positional = 0;
        let bounded = ctor.args.iter().any(|a| {
            let form = match &a.keyword {
                Some(k) => k.to_string(),
                None => {
                    positional += 1;
                    format!("#{}", positional - 1)
                }
            };
            let value = r.text_of(&a.value.range).trim();
            forms.contains(&form) && value != "0" && !value.starts_with('-')
        });
        if bounded {
            return false;
        }
        built = true;
    }
    built
}

/// What a blocking call's message says when a lazy-initialisation guard makes it one-time work.
pub(super) fn once_note(guard: &str) -> String {
    format!("; it runs once, behind `{guard}` (set on first use), so only the first call blocks")
}

/// A catalog entry's message and advice for `q`, naming its module as the file spells it
/// (`Resolver::respelled`: `httpx2.get` where the file imports httpx2, which the catalog aliases onto
/// httpx). The finding's callee stays the canonical name (fingerprints, root causes, fixes).
pub(super) fn worded(r: &Resolver<'_>, entry: &Entry, q: &str) -> (String, Option<String>) {
    let Some(shown) = r.respelled(q) else {
        return (entry.message_for(q), (!entry.instead.is_empty()).then(|| entry.instead.clone()));
    };
    let top = |n: &str| n.split('.').next().unwrap_or(n).to_string();
    let respell = |text: &str| crate::catalog::respell_module(text, &top(q), &top(&shown));
    (respell(&entry.message_for(q)), (!entry.instead.is_empty()).then(|| respell(&entry.instead)))
}

/// A finding on a catalogued blocking API `q` reached at `range` (the call `call`) in `scope`.
fn catalog_finding(
    r: &Resolver<'_>,
    entry: &Entry,
    q: &str,
    range: std::ops::Range<usize>,
    call: Option<std::ops::Range<usize>>,
    scope: ScopeId,
    endpoints: &HashMap<ScopeId, Endpoint>,
) -> Finding {
    let name = display_name(q).to_string();
    let (message, instead) = worded(r, entry, q);
    Finding {
        rule: entry.rule,
        tier: entry.tier,
        chain: vec![Hop { path: None, range: call.clone().unwrap_or_else(|| range.clone()), name: name.clone() }],
        range,
        call_range: call,
        message,
        callee: Some(name),
        instead,
        fix_kinds: entry.fixes.clone(),
        function: Some(function_name(r, scope)),
        route: endpoints.get(&scope).and_then(|e| e.label.clone()),
        related: Vec::new(),
    }
}

/// Whether calling `func` runs its argument in a thread (`asyncio.to_thread`, `loop.run_in_executor`).
fn is_offloader(r: &Resolver<'_>, func: &Expr) -> bool {
    if let ExprKind::Attribute(_, attr) = &func.kind
        && r.catalog.offload_methods.contains(&**attr)
    {
        return true;
    }
    r.qualified(&r.value_of(func)).is_some_and(|q| r.catalog.is_offloader(&q))
}

fn offload_example(r: &Resolver<'_>, outer: &Expr, inner: &CallFact) -> String {
    let offloader = r.text_of(&outer.range);
    let callee = r.text_of(&inner.func_range);
    let args = r.text_of(&inner.args_range);
    let args = args.trim_start_matches('(').trim_end_matches(')').trim();
    if args.is_empty() || args.len() > 60 {
        format!("{offloader}({callee}, ...)")
    } else {
        format!("{offloader}({callee}, {args})")
    }
}

pub(super) fn function_name(r: &Resolver<'_>, scope: ScopeId) -> String {
    let facts = r.facts;
    let mut parts = Vec::new();
    let mut id = Some(scope);
    while let Some(s) = id {
        let sc = &facts.scopes[s];
        match sc.kind {
            ScopeKind::Module => break,
            ScopeKind::Lambda => parts.push("<lambda>"),
            _ => parts.push(sc.name.as_ref().map_or("?", |n| &*n.text)),
        }
        id = sc.parent;
        if parts.len() > 32 {
            break;
        }
    }
    parts.reverse();
    parts.join(".")
}

fn async_without_await(r: &Resolver<'_>, id: ScopeId, endpoints: &HashMap<ScopeId, Endpoint>) -> Option<Finding> {
    let facts = r.facts;
    let s = &facts.scopes[id];
    let name = s.name.as_ref()?;
    if s.is_stub {
        return None;
    }
    for d in &s.decorators {
        if r.qualified(&r.value_of(decorator_target(d))).is_some_and(|q| r.catalog.exempt_decorators.contains(&q)) {
            return None;
        }
    }
    let name_range = name.range.clone();
    let name = function_name(r, id);
    let endpoint = endpoints.get(&id).filter(|e| e.served());
    let message = match endpoint {
        Some(_) => format!(
            "`{name}` is `async def` but never awaits: declared as a plain `def`, the framework would run it in its threadpool, which is what any blocking work in it needs"
        ),
        None => format!("`{name}` is `async def` but never awaits: it can be a plain `def`"),
    };
    Some(Finding {
        rule: Rule::AsyncWithoutAwait,
        tier: Rule::AsyncWithoutAwait.info().default_tier,
        range: name_range,
        call_range: None,
        message,
        callee: None,
        instead: Some("a plain `def`".into()),
        fix_kinds: vec![crate::catalog::FixKind::MakeSync],
        chain: Vec::new(),
        function: Some(name),
        route: endpoint.and_then(|e| e.label.clone()),
        related: Vec::new(),
    })
}

/// What a decorator applies: `app.get` for `@app.get("/")`, `cache` for `@cache`.
pub(super) fn decorator_target(d: &Decorator) -> &Expr {
    match &d.expr.kind {
        ExprKind::Call(func) => func,
        _ => &d.expr,
    }
}

/// Functions that FastAPI or Starlette run as routes or dependencies in this file, and the coroutines a
/// command-line framework runs as commands (`Endpoint::cli`).
pub(super) fn endpoints(r: &Resolver<'_>) -> HashMap<ScopeId, Endpoint> {
    let fw = &r.catalog.frameworks;
    let mut out = HashMap::new();
    let uses_framework = imports_any(r, &fw.modules);
    if uses_framework {
        routes(r, &mut out);
        for id in lifespans(r) {
            out.entry(id).or_insert(Endpoint { label: None, cli: true, lifespan: true, served: None });
        }
    }
    // Command-line commands; a function that is also a route stays a route.
    for id in cli_commands(r) {
        out.entry(id).or_insert(Endpoint { label: None, cli: true, lifespan: false, served: None });
    }
    out
}

/// The coroutines of this file passed to an app class as its lifespan (`FastAPI(lifespan=lifespan)`,
/// `[frameworks] lifespan_keywords`).
fn lifespans(r: &Resolver<'_>) -> Vec<ScopeId> {
    let fw = &r.catalog.frameworks;
    let facts = r.facts;
    let mut out = Vec::new();
    for call in &facts.calls {
        let Some(arg) =
            call.args.iter().find(|a| a.keyword.as_deref().is_some_and(|k| fw.lifespan_keywords.contains(k)))
        else {
            continue;
        };
        if !r.qualified(&r.value_of(&call.func)).is_some_and(|q| fw.app_classes.contains(&q)) {
            continue;
        }
        if let Value::Def(f) = r.value_of(&arg.value)
            && facts.scopes[f].is_async
            && !out.contains(&f)
        {
            out.push(f);
        }
    }
    out
}

/// Whether the file imports one of `modules` or a submodule of one.
fn imports_any(r: &Resolver<'_>, modules: &[String]) -> bool {
    r.facts
        .imported_modules()
        .any(|m| modules.iter().any(|f| m == f || (m.starts_with(f.as_str()) && m[f.len()..].starts_with('.'))))
}

/// The coroutines of this file that a command-line framework runs as commands (`@app.command()` on an
/// instance of a `[cli] app_classes` class, `@click.command()`, `@group.command()` on a function that a
/// `[cli] decorators` decorator makes a group; in a file importing a `[cli] modules` module, also on an
/// app imported from the project), or that sync code hands to a `[cli] runners` call
/// (`asyncio.run(main())`), directly or through a sync function of the file that hands its parameter to
/// one (datasette's `run_sync(lambda: inspect_(files))`). Such a coroutine runs alone on an event loop made for it, unless another
/// coroutine of the file calls it too (then it serves more than the command: not listed).
fn cli_commands(r: &Resolver<'_>) -> Vec<ScopeId> {
    let facts = r.facts;
    let cli = &r.catalog.cli;
    let mut found: Vec<ScopeId> = Vec::new();
    let is_cli_decorator = |e: &Expr| r.qualified(&r.value_of(e)).is_some_and(|q| cli.decorators.contains(&q));
    let mut imports_cli = None;
    for (id, s) in facts.scopes.iter().enumerate() {
        if s.kind != ScopeKind::Function || !s.is_async || s.decorators.is_empty() {
            continue;
        }
        let command = s.decorators.iter().any(|d| {
            let target = decorator_target(d);
            if let ExprKind::Attribute(obj, method) = &target.kind
                && cli.command_methods.contains(&**method)
            {
                return match r.value_of(obj) {
                    Value::Instance(t) => cli.app_classes.contains(&t),
                    Value::Def(group) => {
                        facts.scopes[group].decorators.iter().any(|g| is_cli_decorator(decorator_target(g)))
                    }
                    Value::Name(q) if q.starts_with("builtins.") => false,
                    Value::Name(_) | Value::Unknown | Value::Foreign(_) => {
                        *imports_cli.get_or_insert_with(|| imports_any(r, &cli.modules))
                    }
                    _ => false,
                };
            }
            is_cli_decorator(target)
        });
        if command {
            found.push(id);
        }
    }
    // `asyncio.run(main())`, `anyio.run(main)` from sync code (a module's `__main__` block, a console
    // script's function).
    let is_runner = |func: &Expr| {
        func.tail().is_some_and(|t| cli.runner_tails.contains(t))
            && r.qualified(&r.value_of(func)).is_some_and(|q| cli.runners.contains(&q))
    };
    // A sync function of the file that hands a parameter to a runner, called (`loop.run_until_complete(
    // coro_func())`: its callers pass a callable) or not (`asyncio.run(coro)`: they pass a coroutine).
    let mut helpers: Vec<(ScopeId, bool)> = Vec::new();
    // The coroutines found through a runner, and the calls of them handed to one.
    let mut by_runner: Vec<ScopeId> = Vec::new();
    let mut handed: Vec<Range<usize>> = Vec::new();
    for call in &facts.calls {
        if facts.is_on_loop(call.scope) {
            continue;
        }
        // `asyncio.run(main())`: the call of `main` is an argument of the runner's call.
        let (main, called) = if call.outer.as_deref().is_some_and(is_runner) {
            (&call.func, true)
        } else if is_runner(&call.func)
            && let Some(arg) = call.args.iter().find(|a| a.keyword.is_none())
        {
            (&arg.value, false)
        } else {
            continue;
        };
        match r.value_of(main) {
            Value::Def(f) if facts.scopes[f].is_async => {
                if called {
                    handed.push(call.range.clone());
                } else if let Some(c) = facts.calls.iter().find(|c| c.range == main.range) {
                    handed.push(c.range.clone());
                }
                if !found.contains(&f) {
                    found.push(f);
                    by_runner.push(f);
                }
            }
            _ => {
                let s = &facts.scopes[call.scope];
                if let ExprKind::Name(p) = &main.kind
                    && s.kind == ScopeKind::Function
                    && s.bindings.get(&**p).is_some_and(|l| l.len() == 1 && facts.bindings[l[0]].pos == s.body.start)
                    && !helpers.iter().any(|(h, _)| *h == call.scope)
                {
                    helpers.push((call.scope, called));
                }
            }
        }
    }
    // Sync code calling such a helper with one argument: `run_sync(lambda: inspect_(files))`,
    // `run_sync(main)`, `run_in_new_loop(main())` hand that coroutine to the runner.
    if !helpers.is_empty() {
        for call in &facts.calls {
            if facts.is_on_loop(call.scope) || call.args.len() != 1 || call.args[0].keyword.is_some() {
                continue;
            }
            let Value::Def(h) = r.value_of(&call.func) else { continue };
            let Some(&(_, called)) = helpers.iter().find(|(id, _)| *id == h) else { continue };
            let arg = &call.args[0].value;
            let coroutine = if called {
                match r.value_of(arg) {
                    Value::Def(f) if facts.scopes[f].kind == ScopeKind::Function => Some(f),
                    // A lambda whose body is the coroutine's call.
                    _ => facts
                        .scopes
                        .iter()
                        .position(|s| s.kind == ScopeKind::Lambda && s.range == arg.range)
                        .and_then(|l| {
                            facts
                                .calls
                                .iter()
                                .find(|c| c.scope == l && c.outer.is_none() && c.range.end == arg.range.end)
                        })
                        .and_then(|c| match r.value_of(&c.func) {
                            Value::Def(f) => {
                                handed.push(c.range.clone());
                                Some(f)
                            }
                            _ => None,
                        }),
                }
            } else {
                facts.calls.iter().find(|c| c.range == arg.range).and_then(|c| match r.value_of(&c.func) {
                    Value::Def(f) => {
                        handed.push(c.range.clone());
                        Some(f)
                    }
                    _ => None,
                })
            };
            if let Some(f) = coroutine
                && facts.scopes[f].is_async
                && !found.contains(&f)
            {
                found.push(f);
                by_runner.push(f);
            }
        }
    }
    if found.is_empty() {
        return found;
    }
    // Called by another coroutine of the file (not a command itself): it serves that one too. One found
    // through a runner and called elsewhere too, not handed to one (litellm's sync wrapper returns
    // `_execute_query_pipeline(...)` to async callers in one branch), may serve others as well.
    let mut shared = Vec::new();
    for call in &facts.calls {
        let elsewhere = !by_runner.is_empty() && !handed.contains(&call.range);
        if (!facts.is_on_loop(call.scope) && !elsewhere) || found.contains(&call.scope) {
            continue;
        }
        if let ExprKind::Name(_) | ExprKind::Attribute(..) = call.func.kind
            && let Value::Def(f) = r.value_of(&call.func)
            && found.contains(&f)
            && (facts.is_on_loop(call.scope) || by_runner.contains(&f))
        {
            shared.push(f);
        }
    }
    found.retain(|f| !shared.contains(f));
    found
}

/// The file's routes and dependencies (it imports FastAPI or Starlette).
fn routes(r: &Resolver<'_>, out: &mut HashMap<ScopeId, Endpoint>) {
    let facts = r.facts;
    let fw = &r.catalog.frameworks;
    // `@app.get("/path")` on a function.
    for (id, s) in facts.scopes.iter().enumerate() {
        if s.kind != ScopeKind::Function {
            continue;
        }
        for d in &s.decorators {
            if let Some((label, served)) = route_decorator(r, id, d) {
                out.insert(id, Endpoint { label: Some(label), cli: false, lifespan: false, served });
            }
        }
    }
    // `Depends(f)` and `Route("/path", f)` anywhere in the file.
    let last = |q: &String| q.rsplit('.').next().unwrap_or(q).to_string();
    let dep_names: Vec<String> = fw.dependency_markers.iter().map(last).collect();
    let route_names: Vec<String> = fw.route_constructors.iter().map(last).collect();
    // `Mount("/api", routes=[...])`: the path of each mount around a `Route(...)`, outermost first.
    let mount_names: Vec<String> = fw.mount_constructors.iter().map(last).collect();
    let mounts: Vec<(std::ops::Range<usize>, String)> = facts
        .calls
        .iter()
        .filter(|c| c.func.tail().is_some_and(|t| mount_names.iter().any(|n| n == t)))
        .filter(|c| r.qualified(&r.value_of(&c.func)).is_some_and(|q| fw.mount_constructors.contains(&q)))
        .filter_map(|c| {
            let path = argument(&c.args, 0, "path").and_then(|p| route_path(r, p, c.scope, c.range.start, 0))?;
            Some((c.args_range.clone(), path))
        })
        .collect();
    for call in &facts.calls {
        let Some(tail) = call.func.tail() else { continue };
        let is_dep = dep_names.iter().any(|n| n == tail);
        let is_route = route_names.iter().any(|n| n == tail);
        if !is_dep && !is_route {
            continue;
        }
        let Some(q) = r.qualified(&r.value_of(&call.func)) else { continue };
        let (target, label) = if is_dep && fw.dependency_markers.contains(&q) {
            (argument(&call.args, 0, "dependency"), None)
        } else if is_route && fw.route_constructors.contains(&q) {
            let path = argument(&call.args, 0, "path").and_then(|p| route_path(r, p, call.scope, call.range.start, 0));
            let path = path.map(|p| {
                let around = mounts.iter().filter(|(m, _)| m.start <= call.range.start && call.range.end <= m.end);
                around.map(|(_, m)| m.as_str()).collect::<String>() + &p
            });
            (argument(&call.args, 1, "endpoint"), path.filter(|p| !p.is_empty()))
        } else {
            continue;
        };
        if let Some(Value::Def(f)) = target.map(|t| r.value_of(t)) {
            out.entry(f).or_insert(Endpoint { label, cli: false, lifespan: false, served: None });
        }
    }
}

/// A route decorator's label (`GET /steps/{step_id}` with the prefix of a router bound in this file:
/// `router = APIRouter(prefix="/steps")`), and the route for the project when its path is known.
fn route_decorator(r: &Resolver<'_>, id: ScopeId, d: &Decorator) -> Option<(String, Option<Served>)> {
    let fw = &r.catalog.frameworks;
    let ExprKind::Call(func) = &d.expr.kind else { return None };
    let ExprKind::Attribute(obj, method) = &func.kind else { return None };
    let method = &**method;
    if !fw.route_methods.contains(method) {
        return None;
    }
    let plain = matches!(obj.kind, ExprKind::Name(_));
    let is_app = match r.value_of(obj) {
        Value::Instance(t) => fw.app_classes.contains(&t),
        // An app or router imported from elsewhere in the project: `from .routers import router`.
        Value::Name(q) => !q.starts_with("builtins.") || plain,
        Value::Unknown | Value::Foreign(_) => plain || matches!(obj.kind, ExprKind::Attribute(..)),
        _ => false,
    };
    if !is_app {
        return None;
    }
    let args = d.args.as_ref()?;
    // A decorator is evaluated in the scope around the function.
    let scope = r.facts.scopes[id].parent.unwrap_or(0);
    let at = d.expr.range.start;
    let path = argument(args, 0, "path").and_then(|p| route_path(r, p, scope, at, 0));
    let verb = (!fw.verbless_methods.contains(method)).then(|| method.to_ascii_uppercase());
    let router = router_ref(r, obj, scope, at, 0);
    let own = router.as_ref().and_then(|(_, own)| own.as_deref()).unwrap_or("");
    let full = path.as_ref().map(|p| format!("{own}{p}"));
    let label = route_label(verb.as_deref(), full.as_deref()).unwrap_or_else(|| method.to_string());
    let served = match (router, path) {
        (Some((router, _)), Some(path)) => Some(Served { function: function_name(r, id), router, verb, path }),
        _ => None,
    };
    Some((label, served))
}

/// How deep constants defined from other constants are followed (`API = f"{BASE}/v1"`).
const MAX_CONSTANT_DEPTH: u32 = 8;

/// A route path (or prefix) as the framework sees it: a string; an f-string with `{{`/`}}` as `{`/`}`
/// and each `{name}` that is a string constant of the file replaced by its value, any other kept as
/// written (`/steps/{step_id}`); a name bound to such a constant. Any other name or attribute is shown
/// as `{expression}` (`{settings.API_PREFIX}`); anything else is not known.
fn route_path(r: &Resolver<'_>, e: &Expr, scope: ScopeId, at: usize, depth: u32) -> Option<String> {
    match &e.kind {
        ExprKind::Str(s) => Some(s.to_string()),
        ExprKind::FStr(raw) => Some(render_fstring(raw, |name| {
            let b = is_identifier(name).then(|| binding_of(r, name, scope, at)).flatten();
            b.and_then(|(s, b)| constant(r, b, s, depth + 1))
        })),
        ExprKind::Name(n) => Some(
            binding_of(r, n, scope, at)
                .and_then(|(s, b)| constant(r, b, s, depth + 1))
                .unwrap_or_else(|| format!("{{{n}}}")),
        ),
        ExprKind::Attribute(..) => Some(format!("{{{}}}", r.text_of(&e.range))),
        _ => None,
    }
}

/// The string a binding holds when it is a string constant (`PREFIX = "/api"`, `f"{BASE}/v1"`).
fn constant(r: &Resolver<'_>, b: usize, scope: ScopeId, depth: u32) -> Option<String> {
    if depth > MAX_CONSTANT_DEPTH {
        return None;
    }
    let super::facts::BindingKind::Value(e) = &r.facts.bindings[b].kind else { return None };
    let at = r.facts.bindings[b].pos;
    match &e.kind {
        ExprKind::Str(s) => Some(s.to_string()),
        ExprKind::FStr(_) => route_path(r, e, scope, at, depth),
        ExprKind::Name(n) => binding_of(r, n, scope, at).and_then(|(s, b)| constant(r, b, s, depth + 1)),
        _ => None,
    }
}

/// An f-string's content (as `ExprKind::FStr` keeps it) with `{{`/`}}` as `{`/`}`, and each
/// replacement field that `value` knows (by its expression's text) replaced by its value; the others
/// kept as written, `{step_id}`.
pub(super) fn render_fstring(raw: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if let Some(after) = tail.strip_prefix('}') {
            out.push('}');
            rest = after;
            continue;
        }
        // A replacement field: to its matching `}` (format specs may nest fields: `{x:{w}}`).
        let mut level = 0usize;
        let mut end = tail.len();
        for (j, c) in tail.char_indices() {
            match c {
                '{' => level += 1,
                '}' => {
                    level -= 1;
                    if level == 0 {
                        end = j + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        let field = &tail[..end];
        let inner = field.strip_prefix('{').unwrap_or(field);
        let inner = inner.strip_suffix('}').unwrap_or(inner);
        // The expression: before a conversion (`!r`) or a format spec (`:>8`) outside brackets, without `=`.
        let mut nested = 0usize;
        let cut = inner
            .char_indices()
            .find(|&(j, c)| {
                match c {
                    '(' | '[' | '{' => nested += 1,
                    ')' | ']' | '}' => nested = nested.saturating_sub(1),
                    _ => {}
                }
                nested == 0 && (c == ':' || (c == '!' && !inner[j + 1..].starts_with('=')))
            })
            .map_or(inner.len(), |(j, _)| j);
        let expr = inner[..cut].trim().trim_end_matches('=').trim();
        match value(expr) {
            Some(v) => out.push_str(&v),
            None => {
                out.push('{');
                out.push_str(expr);
                out.push('}');
            }
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_') && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// The binding of `name` a use at `at` in `scope` sees, with the scope that binds it (Python's lookup:
/// enclosing functions, not classes except the one the use is in, then the module).
fn binding_of(r: &Resolver<'_>, name: &str, scope: ScopeId, at: usize) -> Option<(ScopeId, usize)> {
    let mut id = Some(scope);
    while let Some(s) = id {
        let sc = &r.facts.scopes[s];
        if (sc.kind != ScopeKind::Class || s == scope)
            && let Some(list) = sc.bindings.get(name)
            && !list.is_empty()
        {
            return Some((s, super::resolve::pick(r.facts, list, at)));
        }
        id = sc.parent;
    }
    None
}

/// The router (or app) `e` names, as the summary refers to it (`Target::Local` with `Routing::routers`'
/// key for one bound in this file, `Target::Name` for one imported), with the prefix of its routes when
/// it is bound here (`APIRouter(prefix="/steps")`, `""` without one).
fn router_ref(r: &Resolver<'_>, e: &Expr, scope: ScopeId, at: usize, depth: u32) -> Option<(Target, Option<String>)> {
    if depth > MAX_CONSTANT_DEPTH {
        return None;
    }
    match &e.kind {
        ExprKind::Name(n) => {
            let (s, b) = binding_of(r, n, scope, at)?;
            match &r.facts.bindings[b].kind {
                BindingKind::Import(q) => Some((Target::Name(q.clone()), None)),
                BindingKind::Value(v) => match &v.kind {
                    ExprKind::Call(_) => {
                        let prefix = router_prefix(r, v)?;
                        Some((Target::Local(router_key(r, s, n)), Some(prefix)))
                    }
                    ExprKind::Name(_) | ExprKind::Attribute(..) => {
                        router_ref(r, v, s, r.facts.bindings[b].pos, depth + 1)
                    }
                    _ => None,
                },
                _ => None,
            }
        }
        ExprKind::Attribute(..) => match r.value_of(e) {
            Value::Name(q) | Value::Foreign(q) if !r.catalog.is_library_name(&q) && !q.starts_with("builtins.") => {
                Some((Target::Name(q), None))
            }
            _ => None,
        },
        _ => None,
    }
}

/// The name `Routing::routers` gives a router bound to `name` in `scope`.
fn router_key(r: &Resolver<'_>, scope: ScopeId, name: &str) -> String {
    if scope == 0 { name.to_string() } else { format!("{}.<locals>.{name}", function_name(r, scope)) }
}

/// The prefix of the routes of the router the call `call` makes (`APIRouter(prefix="/steps")`: `/steps`; `""`
/// without one), when `call` makes one (an app class's constructor).
fn router_prefix(r: &Resolver<'_>, call: &Expr) -> Option<String> {
    let fw = &r.catalog.frameworks;
    let ExprKind::Call(func) = &call.kind else { return None };
    let tail = func.tail()?;
    if !fw.app_classes.iter().any(|c| c.rsplit('.').next() == Some(tail)) {
        return None;
    }
    if !r.qualified(&r.value_of(func)).is_some_and(|q| fw.app_classes.contains(&q)) {
        return None;
    }
    let calls = &r.facts.calls;
    let i = calls.partition_point(|c| c.range.start < call.range.start);
    let fact = calls[i..].iter().take_while(|c| c.range.start == call.range.start).find(|c| c.range == call.range)?;
    Some(prefix_argument(r, &fact.args, fact.scope, fact.range.start).unwrap_or_default())
}

/// A call's prefix keyword (`prefix="/api"`), as a route path.
fn prefix_argument(r: &Resolver<'_>, args: &[Arg], scope: ScopeId, at: usize) -> Option<String> {
    let fw = &r.catalog.frameworks;
    let a = args.iter().find(|a| a.keyword.as_deref().is_some_and(|k| fw.prefix_keywords.contains(k)))?;
    route_path(r, &a.value, scope, at, 0)
}

/// The file's routers, what they include, and the routes it declares on them (see `Routing`).
pub(super) fn routing(r: &Resolver<'_>, endpoints: &HashMap<ScopeId, Endpoint>) -> Routing {
    let facts = r.facts;
    let fw = &r.catalog.frameworks;
    let mut out = Routing::default();
    // The routers: names bound to a call of an app class (one pass over the calls; the scope of such a
    // call is looked into only then). The last such binding of a name counts.
    let tails: std::collections::HashSet<&str> =
        fw.app_classes.iter().map(|c| c.rsplit('.').next().unwrap_or(c)).collect();
    let mut made: Vec<(ScopeId, &str, usize)> = Vec::new();
    for call in &facts.calls {
        if !call.func.tail().is_some_and(|t| tails.contains(t)) {
            continue;
        }
        let scope = &facts.scopes[call.scope];
        if !matches!(scope.kind, ScopeKind::Module | ScopeKind::Function) {
            continue;
        }
        for (name, list) in &scope.bindings {
            for &b in list {
                if let BindingKind::Value(v) = &facts.bindings[b].kind
                    && v.range == call.range
                {
                    made.push((call.scope, name, b));
                }
            }
        }
    }
    // By scope and name, the last in the source first.
    made.sort_unstable_by_key(|&(scope, name, b)| (scope, name, std::cmp::Reverse(facts.bindings[b].pos)));
    made.dedup_by_key(|&mut (scope, name, _)| (scope, name));
    for (scope, name, b) in made {
        let BindingKind::Value(v) = &facts.bindings[b].kind else { continue };
        if let Some(prefix) = router_prefix(r, v) {
            out.routers.push((router_key(r, scope, name), prefix));
        }
    }
    for call in &facts.calls {
        let ExprKind::Attribute(obj, method) = &call.func.kind else { continue };
        let at = call.range.start;
        let prefix = if fw.include_methods.contains(&**method) {
            call.args.iter().find(|a| a.keyword.as_deref().is_some_and(|k| fw.prefix_keywords.contains(k)))
        } else if fw.mount_methods.contains(&**method) {
            call.args
                .iter()
                .filter(|a| a.keyword.is_none())
                .chain(call.args.iter().filter(|a| a.keyword.as_deref() == Some("path")))
                .next()
        } else {
            continue;
        };
        // A prefix a function is given (`def mount_app(app, path): app.mount(path, sub)`) is the
        // caller's: the routes are served where that helper is used, not known here.
        if let Some(p) = prefix
            && let ExprKind::Name(n) = &p.value.kind
            && binding_of(r, n, call.scope, at).is_some_and(|(s, b)| s != 0 && constant(r, b, s, 0).is_none())
        {
            continue;
        }
        let (child, prefix) = if fw.include_methods.contains(&**method) {
            let child = argument(&call.args, 0, "router");
            (child, prefix_argument(r, &call.args, call.scope, at).unwrap_or_default())
        } else {
            let path = argument(&call.args, 0, "path").and_then(|p| route_path(r, p, call.scope, at, 0));
            let Some(path) = path else { continue };
            (argument(&call.args, 1, "app"), path)
        };
        let Some((child, _)) = child.and_then(|c| router_ref(r, c, call.scope, call.range.start, 0)) else { continue };
        let parent = router_ref(r, obj, call.scope, call.range.start, 0).map(|(t, _)| t);
        out.mounts.push(Mount { parent, child, prefix });
    }
    let mut served: Vec<(&ScopeId, &Served)> =
        endpoints.iter().filter_map(|(id, e)| e.served.as_ref().map(|s| (id, s))).collect();
    served.sort_unstable_by_key(|(id, _)| **id);
    out.routes = served.into_iter().map(|(_, s)| s.clone()).collect();
    out
}

/// The `index`-th positional argument, or the keyword argument `name`.
fn argument<'a>(args: &'a [Arg], index: usize, name: &str) -> Option<&'a Expr> {
    let mut keyword = None;
    for (i, a) in args.iter().filter(|a| a.keyword.is_none()).enumerate() {
        if i == index {
            return Some(&a.value);
        }
    }
    for a in args {
        if a.keyword.as_deref() == Some(name) {
            keyword = Some(&a.value);
        }
    }
    keyword
}
