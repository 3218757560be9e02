//! Per-file summaries for the cross-module analysis: every function with the blocking calls it makes on
//! its own thread and the calls it makes to what may be project functions, plus the module's classes and
//! exported names. A summary holds no syntax tree, serializes compactly, compares cheaply, and depends
//! only on the file's text, the catalog and the settings that extend it: it is the unit of change.
//!
//! Positions are stored with their line and columns precomputed, because whoever reads a summary (the
//! linker, the language server for a closed file) may no longer have the file's text.

use serde::{Deserialize, Serialize};

use super::checks::{self, Endpoint, Part};
use super::facts::{Ann, BindingKind, Expr, ExprKind, ScopeId, ScopeKind};
use super::resolve::{Resolver, Value};
use crate::catalog::{FixKind, display_name};
use crate::rules::{Rule, Tier};

/// A position: byte offset, 0-based line, and 0-based columns in characters, UTF-16 units and bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Loc {
    pub offset: u32,
    pub line: u32,
    pub col: u32,
    pub col_utf16: u32,
    pub col_utf8: u32,
}

/// What a call refers to, to be resolved against the project.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Target {
    /// A function, class or method of this file, by its dotted name in the module (`Svc.fetch`).
    Local(String),
    /// A dotted name as written in an import: absolute (`app.services.fetch`) or relative
    /// (`.services.fetch`), possibly followed by attributes (`app.services.Svc.fetch`).
    Name(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CallSite {
    pub start: Loc,
    /// The end of the callee expression (`services.sign_op1` in `services.sign_op1(x)`).
    pub end: Loc,
    /// The end of the whole call, arguments included.
    pub call_end: Loc,
    pub target: Target,
    /// The `# noqa` on the call's line: `None` without one, empty for a bare `# noqa`.
    pub noqa: Option<Vec<String>>,
    /// An attribute read (`cart.total`), which runs the target only if it is a `@property`.
    pub access: bool,
    /// The lazy-initialisation guard the call is behind (`if self._client is None`): what it runs is
    /// one-time work, so chains through it are hints.
    #[serde(default)]
    pub once: Option<String>,
    /// What the call returns is iterated right there (`for x in f()`, `list(f())`, `yield from f()`):
    /// a generator function's body runs at this call.
    #[serde(default)]
    pub iterated: bool,
    /// The parameter of the calling function whose truth the call needs (`if join_on_exit:` around it).
    #[serde(default)]
    pub gate: Option<String>,
    /// The keyword arguments it passes as `False`, `None` or `0` (`join_on_exit=False`): what the callee
    /// does only under `if join_on_exit:` does not run.
    #[serde(default)]
    pub falsy: Vec<String>,
    /// The arguments of the call that made the object the target is a method of, when some are
    /// literals (`get_client(sync_client=True).read_task_run()`, directly or through a name bound to
    /// that call): keyword (`None` when positional) and literal (`None` when not one). The `@overload`
    /// of the function called there whose `Literal[...]` parameters they match gives its type.
    #[serde(default)]
    pub made_by: Option<Vec<(Option<String>, Option<String>)>>,
    /// Awaited, on an instance of a project class (`await self.read()`): the instance may be one of a
    /// subclass whose MRO puts an `async def read` first (see `Project::awaited_override`).
    #[serde(default)]
    pub awaited_method: bool,
    /// Awaited on a value whose declared type is a union (`await client.post()` with
    /// `client: HTTPHandler | AsyncHTTPHandler | None`): the method of each member. Awaiting what a sync
    /// method returns would raise, so the call runs the first of them that is a coroutine, if one is
    /// (`target` is the first member's).
    #[serde(default)]
    pub alternatives: Vec<Target>,
    /// What the call must find its function's parameters to be to run (see `Need`).
    #[serde(default)]
    pub needs: Vec<Need>,
    /// Its arguments, in order: keyword (`None` when positional) and value, when the value is a literal
    /// (as `literal` writes it) or a parameter of the calling function passed on (`=name`); `None` for
    /// anything else. Empty with `splat` when it passes `*args` or `**kwargs`.
    #[serde(default)]
    pub args: Vec<(Option<String>, Option<String>)>,
    #[serde(default)]
    pub splat: bool,
    /// An argument of another call, not awaited (`asyncio.create_task(watch())`): a coroutine called
    /// so runs wherever that call puts it, maybe as a task of its own (see `Project::cli_only`).
    #[serde(default)]
    pub argument: bool,
}

/// A test of a parameter that a call or blocking call needs to come out `want` to run: it is in the
/// block of `if P is None:` (`none`, true), after `if not P: return` (`truthy`, true), in the `else` of
/// `if P == "x":` (`eq` `'x`, false), in `if P.startswith("oidc/"):` (`startswith` `'oidc/`, true), in
/// `if isinstance(P, PathLike):` (`isinstance`, true; its `lit` lists the `[typing.instances]` classes
/// whose values pass the test, then `|`, those whose values fail it). Only direct tests of a parameter
/// (or of a name the function binds to it first: `content: T = openai_file_content`) the function
/// never rebinds; a value of a class (`:builtins.bytes`, from an annotation) decides only `isinstance`. A caller that passes a literal there (or
/// leaves the parameter at a literal default) that decides the test the other way does not run it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Need {
    pub param: String,
    pub op: String,
    pub lit: Option<String>,
    pub want: bool,
}

impl Need {
    /// The test's value for literal `v` (as `literal` writes it), when `v` decides it.
    pub fn eval(&self, v: &str) -> Option<bool> {
        if self.op == "isinstance" {
            let class = match v.strip_prefix(':') {
                Some(c) => c,
                None => literal_class(v)?,
            };
            let (pass, fail) = self.lit.as_deref()?.split_once('|')?;
            let got = if pass.split(' ').any(|c| c == class) {
                true
            } else if fail.split(' ').any(|c| c == class) {
                false
            } else {
                return None;
            };
            return Some(got == self.want);
        }
        if v.starts_with(':') {
            return None;
        }
        let s = v.strip_prefix('\'');
        let got = match self.op.as_str() {
            "none" => Some(v == "None"),
            "truthy" => Some(!matches!(v, "None" | "False" | "0" | "'")),
            "eq" => {
                let l = self.lit.as_deref()?;
                // Strings and `None` compare by text; numbers and booleans only when the same text
                // (`True == 1` holds in Python).
                let plain = |x: &str| x.starts_with('\'') || x == "None";
                if plain(v) || plain(l) || v == l { Some(v == l) } else { None }
            }
            "startswith" => Some(s?.starts_with(self.lit.as_deref()?.strip_prefix('\'')?)),
            _ => None,
        }?;
        Some(got == self.want)
    }
}

/// The class of a literal as `literal` writes it (`'x`: `builtins.str`), for `isinstance` tests.
fn literal_class(v: &str) -> Option<&'static str> {
    if v.starts_with('\'') {
        return Some("builtins.str");
    }
    match v {
        "True" | "False" => Some("builtins.bool"),
        "None" => None,
        _ => v.strip_prefix('-').unwrap_or(v).chars().all(|c| c.is_ascii_digit()).then_some("builtins.int"),
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BlockingSite {
    pub start: Loc,
    pub end: Loc,
    /// The blocking API (`requests.get`).
    pub callee: String,
    pub rule: Rule,
    pub tier: Tier,
    pub message: String,
    pub instead: Option<String>,
    pub fixes: Vec<FixKind>,
    /// Behind a lazy-initialisation guard (`if self._client is None`): one-time work, which every
    /// coroutine reaching it shares (`Project::findings` reports it once).
    #[serde(default)]
    pub once: bool,
    /// The parameter of the function whose truth the call needs (see `CallSite::gate`).
    #[serde(default)]
    pub gate: Option<String>,
    /// What the call must find its function's parameters to be to run (see `Need`).
    #[serde(default)]
    pub needs: Vec<Need>,
}

/// What a finding in an application's lifespan, or a chain it starts, says.
pub fn lifespan_note(function: &str) -> String {
    format!(
        "; `{function}` is the application's lifespan: it runs once, as the application starts and stops, while no request is served"
    )
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FunctionSummary {
    /// Dotted name in the module: `fetch`, `Svc.fetch`, `outer.inner`.
    pub qualname: String,
    pub is_async: bool,
    /// Decorated with an offloader (`@sync_to_async`): calling it does not run its body here, so no
    /// chain goes through it.
    pub offloaded: bool,
    /// Decorated with a memoizer (`@functools.cache`): it blocks on its first call only.
    pub memoized: bool,
    /// A `@property` (or `cached_property`): reading the attribute runs it.
    pub is_property: bool,
    /// A sync generator function (not decorated): calling it runs none of its body, iterating what it
    /// returns does.
    #[serde(default)]
    pub generator: bool,
    pub name: Loc,
    /// The FastAPI/Starlette route it implements, when visible (`GET /items`).
    pub route: Option<String>,
    /// A coroutine run as a command-line command (see `checks::cli_commands`): alone on its own loop,
    /// so the chains it reaches are hints.
    #[serde(default)]
    pub cli: bool,
    /// An application's lifespan (`FastAPI(lifespan=f)`; `cli` too): it runs once, as the application
    /// starts and stops, so the chains it starts are hints, and so are the coroutines only it (or
    /// commands) awaits (`Project::cli_only`).
    #[serde(default)]
    pub lifespan: bool,
    /// Blocking calls made in its own body (sync functions only; a coroutine's are findings).
    pub blocking: Vec<BlockingSite>,
    /// Calls to what may be project functions.
    pub calls: Vec<CallSite>,
    /// What it returns, from its annotation (what awaiting it gives, for a coroutine), when that names a
    /// class, or without one, what all its `return` statements give when that is one type
    /// (`Resolver::inferred_return`): other modules type `get_client().messages` and `x = await make()`
    /// with it.
    #[serde(default)]
    pub returns: Option<Export>,
    /// A `@typing.overload` stub: its parameters, to choose among a function's overloads by a call's
    /// literal arguments (`CallSite::made_by`).
    #[serde(default)]
    pub overload: Option<Vec<OverloadParam>>,
    /// Its parameters (`self`/`cls` of a method left out) with their defaults when literal, when a call
    /// or blocking call of it has `needs` or passes a parameter on: what a caller's arguments make them
    /// (`Project::runnable_chain`).
    #[serde(default)]
    pub params: Option<Vec<Param>>,
    /// The parameters of `params` it rebinds, with the needs of each rebinding: a value that rules
    /// every rebinding out is still the parameter's after them; otherwise the value is not known.
    #[serde(default)]
    pub rebound: Vec<(String, Vec<Vec<Need>>)>,
}

/// A parameter: its name (`*`/`**` for `*args`/`**kwargs`), whether it may be passed by position, and
/// its default when that is a literal (as `literal` writes it).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Param {
    pub name: String,
    pub positional: bool,
    pub default: Option<String>,
    /// Its annotation, when that names a class of `[typing.instances]` (`content: bytes`): a caller that
    /// passes no known value passes one of that class (written `:builtins.bytes`), which decides the
    /// `isinstance` tests of it (see `Need`).
    #[serde(default)]
    pub instance: Option<String>,
}

/// A parameter of an `@overload` stub, as far as choosing the overload needs it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OverloadParam {
    /// The name, or `*` / `**` for `*args` / `**kwargs`.
    pub name: String,
    /// It may be passed by position (it comes before any `*`).
    pub positional: bool,
    /// It has a default value.
    pub default: bool,
    /// The values its `Literal[...]` annotation allows, normalized by `literal`.
    pub literals: Option<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClassSummary {
    pub qualname: String,
    pub bases: Vec<Target>,
    /// Its bases that are catalogued library classes, by canonical name (`class Api(httpx.Client)`:
    /// `httpx.Client`): a method no project class of its MRO defines is theirs (`Api().get()` sends a
    /// request).
    #[serde(default)]
    pub library: Vec<String>,
    /// Its typed attributes (class-level assignments and annotations, `self.x = ...` in its methods):
    /// `store.root.read_text()` in another module reads them.
    #[serde(default)]
    pub attrs: Vec<(String, Export)>,
    /// A structural interface (a base is `typing.Protocol`, `[typing] protocols`): a method called on
    /// a value typed with it also runs that method of the classes its module registers (`registers`).
    #[serde(default)]
    pub protocol: bool,
}

/// What a module-level name is, for other modules that import it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Export {
    /// Another name for something (`from .services import fetch`, `get = fetch`).
    Alias(Target),
    /// An instance of a class (`client = Client()`).
    Instance(Target),
    /// An instance of a catalogued class, by its canonical name (`DATA = Path(...)`: `pathlib.Path`).
    Library(String),
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileSummary {
    pub functions: Vec<FunctionSummary>,
    pub classes: Vec<ClassSummary>,
    pub exports: Vec<(String, Export)>,
    /// Module-level `from m import *` of modules that may be the project's, as written (`pkg`, `.mod`).
    pub stars: Vec<String>,
    /// The module's `__all__`, when it is a literal list or tuple of strings: the names a star import
    /// of it binds (otherwise, every name without a leading underscore).
    pub all: Option<Vec<String>>,
    /// In a module that declares a `Protocol`: every project name it imports, in any scope (the
    /// registry `_load() -> {"ecs": EcsProvisioner, ...}` imports its classes inside the function).
    /// Those that define every method of one of its protocols implement it (`Project::dispatch`).
    #[serde(default)]
    pub registers: Vec<Target>,
    /// Its routers, what they include and the routes they declare: the project shows each route as
    /// the application serves it (`Project::route_labels`).
    #[serde(default)]
    pub routing: Routing,
}

/// How a module's routes are served (see `checks::routing`). Only routes whose path is known are listed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Routing {
    /// The routers and apps it binds (`router = APIRouter(prefix="/steps")`), by name (module-level) or
    /// `function.<locals>.name` (inside a function), with the prefix of the routes they declare.
    pub routers: Vec<(String, String)>,
    /// `parent.include_router(child, prefix="/api")`, `parent.mount("/api", child)`, in source order.
    pub mounts: Vec<Mount>,
    /// The routes its functions implement, in scope order.
    pub routes: Vec<Served>,
}

/// One router (or app) serving another's routes under a prefix.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Mount {
    /// The including router; `None` when not known (the routes are served under `prefix` alone).
    pub parent: Option<Target>,
    pub child: Target,
    pub prefix: String,
}

/// A route declared on a router (`@router.get("/{step_id}/runs")`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Served {
    /// The function, by its dotted name in the module.
    pub function: String,
    pub router: Target,
    /// `GET`; `None` for a method without a verb (`api_route`, `websocket`).
    pub verb: Option<String>,
    /// The path as the decorator gives it, before any prefix.
    pub path: String,
}

/// A route's label: `GET /items/{id}`, the path alone without a verb, the verb alone without a path.
pub fn route_label(verb: Option<&str>, path: Option<&str>) -> Option<String> {
    match (verb, path.filter(|p| !p.is_empty())) {
        (Some(v), Some(p)) => Some(format!("{v} {p}")),
        (None, Some(p)) => Some(p.to_string()),
        (Some(v), None) => Some(v.to_string()),
        (None, None) => None,
    }
}

impl FileSummary {
    /// Whether two summaries are the same but for positions: what the linker computes from them (which
    /// functions block, through which calls) is then the same, and only the places move.
    pub fn same_shape(&self, other: &FileSummary) -> bool {
        self.classes == other.classes
            && self.exports == other.exports
            && self.stars == other.stars
            && self.all == other.all
            && self.registers == other.registers
            && self.routing == other.routing
            && self.functions.len() == other.functions.len()
            && self.functions.iter().zip(&other.functions).all(|(a, b)| {
                a.qualname == b.qualname
                    && a.is_async == b.is_async
                    && a.offloaded == b.offloaded
                    && a.memoized == b.memoized
                    && a.is_property == b.is_property
                    && a.generator == b.generator
                    && a.route == b.route
                    && a.cli == b.cli
                    && a.lifespan == b.lifespan
                    && a.returns == b.returns
                    && a.overload == b.overload
                    && a.params == b.params
                    && a.rebound == b.rebound
                    && a.blocking.len() == b.blocking.len()
                    && a.blocking.iter().zip(&b.blocking).all(|(x, y)| {
                        x.callee == y.callee
                            && x.rule == y.rule
                            && x.tier == y.tier
                            && x.message == y.message
                            && x.instead == y.instead
                            && x.fixes == y.fixes
                            && x.once == y.once
                            && x.gate == y.gate
                            && x.needs == y.needs
                    })
                    && a.calls.len() == b.calls.len()
                    && a.calls.iter().zip(&b.calls).all(|(x, y)| {
                        x.target == y.target
                            && x.noqa == y.noqa
                            && x.access == y.access
                            && x.once == y.once
                            && x.iterated == y.iterated
                            && x.gate == y.gate
                            && x.falsy == y.falsy
                            && x.made_by == y.made_by
                            && x.awaited_method == y.awaited_method
                            && x.alternatives == y.alternatives
                            && x.needs == y.needs
                            && x.args == y.args
                            && x.splat == y.splat
                            && x.argument == y.argument
                    })
            })
    }
}

/// The functions and classes of `part` of the file, with their calls. `loc` gives a position's line and
/// columns.
#[allow(clippy::too_many_arguments)]
pub(super) fn summarize_part(
    r: &Resolver<'_>,
    part: &Part,
    endpoints: &std::collections::HashMap<ScopeId, Endpoint>,
    runs_in: &[ScopeId],
    loc: &dyn Fn(usize) -> Loc,
    suppressed: &dyn Fn(Rule, std::ops::Range<usize>) -> bool,
    noqa: &dyn Fn(std::ops::Range<usize>) -> Option<Vec<String>>,
) -> FileSummary {
    let facts = r.facts;
    let mut out = FileSummary::default();

    // Functions and classes, in scope order; `slot` maps a scope to its function's index.
    let mut slot: Vec<Option<usize>> = vec![None; facts.scopes.len()];
    for id in part.scopes.clone() {
        let s = &facts.scopes[id];
        match s.kind {
            ScopeKind::Function => {
                let Some(name) = &s.name else { continue };
                slot[id] = Some(out.functions.len());
                let decorated_by = |set: &std::collections::HashSet<String>| {
                    s.decorators.iter().any(|d| {
                        r.qualified(&r.value_of(checks::decorator_target(d))).is_some_and(|q| set.contains(&q))
                    })
                };
                let offloaded = decorated_by(&r.catalog.offload_functions);
                let memoized = decorated_by(&r.catalog.memoizers);
                out.functions.push(FunctionSummary {
                    qualname: checks::function_name(r, id),
                    is_async: s.is_async,
                    offloaded,
                    memoized,
                    is_property: r.is_property(id),
                    // A decorated one (`@contextmanager`) may run its body when what the call returns
                    // is entered, or at once: the call counts as running it.
                    generator: s.has_yield && !s.is_async && s.decorators.is_empty(),
                    name: loc(name.range.start),
                    route: endpoints.get(&id).and_then(|e| e.label.clone()),
                    cli: endpoints.get(&id).is_some_and(|e| e.cli),
                    lifespan: endpoints.get(&id).is_some_and(|e| e.lifespan),
                    blocking: Vec::new(),
                    calls: Vec::new(),
                    returns: match &s.returns {
                        _ if s.has_yield => None,
                        Some(a) => returns_export(r, a),
                        // Unannotated: what every `return` gives, when that is one type.
                        None => type_export(r, r.inferred_return(id, 0)),
                    },
                    overload: decorated_by(&r.catalog.overloads).then(|| overload_params(r, id)),
                    params: None,
                    rebound: Vec::new(),
                });
            }
            ScopeKind::Class => {
                let values: Vec<Value> = s.bases.iter().map(|b| r.value_of(b)).collect();
                let library = values
                    .iter()
                    .filter_map(|v| r.qualified(v))
                    .filter(|q| r.catalog.is_library_name(q) && r.catalog.knows(q))
                    .collect();
                out.classes.push(ClassSummary {
                    qualname: checks::function_name(r, id),
                    bases: values.into_iter().filter_map(|v| target_of(r, v)).collect(),
                    library,
                    attrs: class_attrs(r, id),
                    protocol: is_protocol(r, id),
                });
            }
            _ => {}
        }
    }

    // Whether each sync function's body mentions a thread-id function at all (see `off_loop`).
    let tails: Vec<&str> = r.catalog.thread_ids.iter().map(|q| q.rsplit('.').next().unwrap_or(q)).collect();
    let mut mentions: std::collections::HashMap<ScopeId, bool> = std::collections::HashMap::new();
    let mut off_loop_at = |scope: ScopeId, at: usize| {
        !facts.scopes[scope].is_async
            && *mentions
                .entry(scope)
                .or_insert_with(|| tails.iter().any(|t| r.text_of(&facts.scopes[scope].body).contains(t)))
            && off_loop(r, at, scope)
    };
    // Each sync function's names for the running loop, when it tests one (see `dead_on_loop`).
    let mut loops: std::collections::HashMap<ScopeId, Option<Vec<String>>> = std::collections::HashMap::new();
    let mut dead_on_loop_at = |scope: ScopeId, at: usize| {
        if facts.scopes[scope].is_async {
            return false;
        }
        let names = loops.entry(scope).or_insert_with(|| loop_names(r, scope));
        names.as_ref().is_some_and(|names| dead_on_loop(r, at, scope, names))
    };
    // Calls by their range, built on first need (`made_by`).
    let mut calls_at: Option<std::collections::HashMap<(usize, usize), usize>> = None;
    for call in &facts.calls[part.calls.clone()] {
        let scope = runs_in[call.scope];
        let Some(f) = slot[scope] else { continue };
        if off_loop_at(scope, call.range.start) || dead_on_loop_at(scope, call.range.start) {
            continue;
        }
        let mut v = r.value_of(&call.func);
        // `if isinstance(client, AWSSecretsManagerV2): client.sync_read_secret()`: the test narrows an
        // untyped receiver, for a method call as for an attribute read (below).
        if let ExprKind::Attribute(obj, attr) = &call.func.kind
            && let ExprKind::Name(n) = &obj.kind
            && checks::untyped(r, &r.value_of(obj))
            && let Some(narrowed) = checks::isinstance_narrowed(r, n, call.range.start, scope)
        {
            v = r.attribute(narrowed, attr, 0);
        }
        let start = call.range.start;
        if let Some(q) = r.called(&v)
            && let Some(entry) = r.catalog.blocking(&q)
        {
            if !facts.scopes[scope].is_async
                && !checks::told_not_to_wait(r, &q, &call.args)
                && !checks::in_nonblocking_mode(r, call)
                && !checks::does_no_io(r, &q, call)
                && !checks::in_memory(r, &q, call)
            {
                // One-time work (`if self._client is None: self._client = boto3.client()`) blocks
                // on first use only: a hint at every coroutine that reaches it.
                let guard = checks::lazy_guard(r, start, scope);
                let (mut message, instead) = checks::worded(r, entry, &q);
                // A file shipped with the package: a small read (a hint), at every coroutine.
                let package_data = guard.is_none() && checks::package_data(r, &q, call, scope);
                if let Some(g) = &guard {
                    message.push_str(&checks::once_note(g));
                } else if package_data {
                    message.push_str(checks::PACKAGE_DATA_NOTE);
                }
                let site = BlockingSite {
                    start: loc(start),
                    end: loc(call.range.end),
                    callee: display_name(&q).to_string(),
                    rule: entry.rule,
                    tier: if guard.is_some() || package_data { Tier::Hint } else { entry.tier },
                    message,
                    instead,
                    fixes: entry.fixes.clone(),
                    once: guard.is_some(),
                    gate: gate(r, start, scope),
                    needs: needs(r, start, scope),
                };
                if !suppressed(site.rule, call.func_range.clone()) {
                    out.functions[f].blocking.push(site);
                }
            }
            continue;
        }
        let callee = match v {
            // Creating an instance runs `__init__`; calling one runs `__call__`.
            Value::Class(c) => r.attribute(Value::Class(c), "__init__", 0),
            Value::Object(c) => r.attribute(Value::Object(c), "__call__", 0),
            Value::Instance(t) => Value::Name(format!("{t}.__call__")),
            other => other,
        };
        // `self.read()`: looked up in the receiver's C3 order across modules (`receiver_method`).
        let method = receiver_method(r, &call.func, &callee);
        let awaited_method = call.awaited && method.as_ref().is_some_and(|(_, instance)| *instance);
        let targets =
            match method.map(|(t, _)| t).or_else(|| target_of(r, callee)).or_else(|| result_member(r, &call.func)) {
                Some(t) => vec![t],
                None => awaited_on_items(r, call, scope),
            };
        let (args, splat) = call_args(r, call, scope);
        for target in targets {
            let iterated_here = iterated(r, call);
            // `gen = rows()` then `for r in gen:`: a generator function's body runs at the loop, which is
            // where a chain through it starts (the call itself runs none of it).
            if !iterated_here && let Some(at) = kept_then_iterated(r, call, scope) {
                out.functions[f].calls.push(CallSite {
                    start: loc(at.start),
                    end: loc(at.end),
                    call_end: loc(at.end),
                    target: target.clone(),
                    noqa: noqa(at.clone()),
                    access: false,
                    once: checks::lazy_guard(r, at.start, scope),
                    iterated: true,
                    gate: gate(r, at.start, scope),
                    falsy: Vec::new(),
                    made_by: None,
                    awaited_method: false,
                    alternatives: Vec::new(),
                    needs: needs(r, at.start, scope),
                    args: Vec::new(),
                    splat: true,
                    argument: false,
                });
            }
            out.functions[f].calls.push(CallSite {
                start: loc(start),
                end: loc(call.func_range.end),
                call_end: loc(call.range.end),
                target,
                noqa: noqa(call.func_range.clone()),
                access: false,
                once: checks::lazy_guard(r, start, scope),
                iterated: iterated_here,
                argument: call.outer.is_some() && !call.awaited,
                gate: gate(r, start, scope),
                falsy: call
                    .args
                    .iter()
                    .filter(|a| matches!(r.text_of(&a.value.range).trim(), "False" | "None" | "0"))
                    .filter_map(|a| a.keyword.as_ref().map(|k| k.to_string()))
                    .collect(),
                made_by: made_by(r, call, scope, &mut calls_at),
                awaited_method,
                alternatives: if call.awaited { union_members(r, &call.func) } else { Vec::new() },
                needs: needs(r, start, scope),
                args: args.clone(),
                splat,
            });
        }
    }

    // Attribute reads on instances: `self.total`, `cart.total` may run a property.
    for a in &facts.attributes[part.attributes.clone()] {
        let Some(f) = slot[runs_in[a.scope]] else { continue };
        let attr = &*a.attr;
        let mut object = r.value_of(&a.object);
        // `elif isinstance(v, PrefectFuture): v.state`: the test narrows an untyped name.
        if checks::untyped(r, &object)
            && let ExprKind::Name(n) = &a.object.kind
            && let Some(v) = checks::isinstance_narrowed(r, n, a.range.start, runs_in[a.scope])
        {
            object = v;
        }
        let target = match object {
            // The member itself (on an instance, `attribute` gives what a property returns).
            Value::Object(c) => match r.attribute(Value::Class(c), attr, 0) {
                Value::Def(p) if r.is_property(p) => target_of(r, Value::Def(p)),
                _ => None,
            },
            Value::Foreign(p) if !r.catalog.is_library_name(&p) => Some(Target::Name(format!("{p}.{attr}"))),
            Value::Instance(t) if !r.catalog.is_library_name(&t) => Some(Target::Name(format!("{t}.{attr}"))),
            _ => None,
        };
        if let Some(target) = target {
            out.functions[f].calls.push(CallSite {
                start: loc(a.range.start),
                end: loc(a.range.end),
                call_end: loc(a.range.end),
                target,
                noqa: noqa(a.range.clone()),
                access: true,
                once: None,
                iterated: false,
                gate: gate(r, a.range.start, runs_in[a.scope]),
                falsy: Vec::new(),
                made_by: None,
                awaited_method: false,
                alternatives: Vec::new(),
                needs: needs(r, a.range.start, runs_in[a.scope]),
                args: Vec::new(),
                splat: false,
                argument: false,
            });
        }
    }
    // The parameters of the functions whose calls test or pass them on.
    for id in part.scopes.clone() {
        let Some(f) = slot[id] else { continue };
        let fs = &out.functions[f];
        if fs.blocking.iter().any(|b| !b.needs.is_empty())
            || fs.calls.iter().any(|c| {
                !c.needs.is_empty() || c.args.iter().any(|(_, v)| v.as_ref().is_some_and(|v| v.starts_with('=')))
            })
        {
            out.functions[f].params = Some(params(r, id));
            let fs = &out.functions[f];
            let mut names: Vec<String> =
                fs.blocking.iter().flat_map(|b| b.needs.iter().map(|n| n.param.clone())).collect();
            names.extend(fs.calls.iter().flat_map(|c| c.needs.iter().map(|n| n.param.clone())));
            names.extend(
                fs.calls
                    .iter()
                    .flat_map(|c| c.args.iter().filter_map(|(_, v)| v.as_ref()?.strip_prefix('=').map(str::to_string))),
            );
            names.sort();
            names.dedup();
            out.functions[f].rebound = rebound(r, id, &names);
        }
    }
    out
}

/// One parameter as its function's header writes it: the name (`*` / `**` for `*args` / `**kwargs`),
/// whether it may be passed by position, its annotation's text and its default's text.
struct HeaderParam<'t> {
    name: &'t str,
    positional: bool,
    annotation: Option<&'t str>,
    default: Option<&'t str>,
}

/// The parameters of function `id` that a call passes, read from its header (`def f(a, *, b: T = 1)`):
/// a method's `self` / `cls`, bound by the attribute access, left out; so are `/` and a bare `*`.
fn header_params<'t>(r: &Resolver<'t>, id: ScopeId) -> Vec<HeaderParam<'t>> {
    let s = &r.facts.scopes[id];
    let Some(name) = &s.name else { return Vec::new() };
    let text: &'t str = r.text;
    let header = text.get(name.range.end..s.body.start).unwrap_or("");
    // The parameter list: from the first `(` to its matching `)`.
    let Some(open) = header.find('(') else { return Vec::new() };
    let Some(close) = matching_close(&header[open..]).map(|i| open + i) else { return Vec::new() };
    let method = s.parent.is_some_and(|p| r.facts.scopes[p].kind == ScopeKind::Class);
    let mut out = Vec::new();
    let mut positional = true;
    for (i, p) in split_top(&header[open + 1..close]).into_iter().enumerate() {
        if p == "/" {
            continue;
        }
        if p == "*" {
            positional = false;
            continue;
        }
        if i == 0 && method && !s.decorators.iter().any(|d| d.text.as_ref() == "staticmethod") {
            continue;
        }
        if p.starts_with('*') {
            let star = if p.starts_with("**") { "**" } else { "*" };
            positional = false;
            out.push(HeaderParam { name: star, positional: false, annotation: None, default: None });
            continue;
        }
        let (decl, default) = match p.split_once('=') {
            Some((d, v)) => (d.trim(), Some(v.trim())),
            None => (p, None),
        };
        let (pname, annotation) = match decl.split_once(':') {
            Some((n, a)) => (n.trim(), Some(a.trim())),
            None => (decl.trim(), None),
        };
        out.push(HeaderParam { name: pname, positional, annotation, default });
    }
    out
}

/// The parameters of function `id` that a call binds (see `Param`), read from its header.
fn params(r: &Resolver<'_>, id: ScopeId) -> Vec<Param> {
    header_params(r, id)
        .into_iter()
        .map(|p| Param {
            name: p.name.to_string(),
            positional: p.positional,
            default: p.default.and_then(literal),
            instance: p.annotation.and_then(|_| annotated_instance(r, id, p.name)),
        })
        .collect()
}

/// The class of `[typing.instances]` that parameter `name` of function `id` is annotated with
/// (`content: bytes`), when it is one.
fn annotated_instance(r: &Resolver<'_>, id: ScopeId, name: &str) -> Option<String> {
    let s = &r.facts.scopes[id];
    let &b = s.bindings.get(name)?.first()?;
    let binding = &r.facts.bindings[b];
    if binding.pos != s.body.start || !matches!(binding.kind, BindingKind::Annotation(_)) {
        return None;
    }
    match r.binding(b) {
        Value::Instance(t) if r.catalog.instances.contains_key(&t) => Some(t),
        _ => None,
    }
}

/// An argument as `CallSite::args` keeps it: keyword and value.
type Argument = (Option<String>, Option<String>);

/// A call's arguments as `CallSite::args` keeps them, and whether it passes `*args` or `**kwargs`.
fn call_args(r: &Resolver<'_>, call: &super::facts::CallFact, scope: ScopeId) -> (Vec<Argument>, bool) {
    let mut out = Vec::with_capacity(call.args.len());
    for a in &call.args {
        let before = r.text.get(..a.value.range.start).unwrap_or("").trim_end();
        if a.keyword.is_none() && before.ends_with('*') {
            return (Vec::new(), true);
        }
        let text = r.text_of(&a.value.range).trim();
        let value = literal(text).or_else(|| param_of(r, scope, text).map(|p| format!("={p}")));
        out.push((a.keyword.as_ref().map(|k| k.to_string()), value));
    }
    (out, false)
}

/// The parameter of function `scope` that `name` holds: `name` itself when it is one (which the
/// function may rebind: see `FunctionSummary::rebound`), or the parameter a name is bound to first, in
/// the function's own block (`content: FileTypes | str = openai_file_content`; its rebindings count
/// as the parameter's).
fn param_of(r: &Resolver<'_>, scope: ScopeId, name: &str) -> Option<String> {
    let s = &r.facts.scopes[scope];
    if s.kind != ScopeKind::Function || !is_name(name) {
        return None;
    }
    let is_param = |n: &str| {
        s.bindings.get(n).is_some_and(|list| list.len() <= 8 && r.facts.bindings[list[0]].pos == s.body.start)
    };
    if is_param(name) {
        return Some(name.to_string());
    }
    let list = s.bindings.get(name)?;
    if list.len() > 8 {
        return None;
    }
    let first = &r.facts.bindings[list[0]];
    let (value, start) = match &first.kind {
        BindingKind::Value(e) => (r.text_of(&e.range), e.range.start),
        BindingKind::Annotation(_) => checks::declared_value(r, name, first.pos)?,
        _ => return None,
    };
    let value = value.trim();
    if value == name || !is_name(value) || !is_param(value) {
        return None;
    }
    // The statement starts its line at the indentation of the function's first statement.
    let text = r.text;
    let line_start = |at: usize| text.get(..at).and_then(|t| t.rfind('\n')).map_or(0, |i| i + 1);
    let indent = |at: usize| {
        let ls = line_start(at);
        let line = text.get(ls..).unwrap_or("");
        (ls, line.len() - line.trim_start_matches([' ', '\t']).len())
    };
    let (ls, ind) = indent(start);
    let (_, body_ind) = indent(s.body.start);
    let stmt = text.get(ls + ind..).unwrap_or("");
    let own_line = stmt.strip_prefix(name).is_some_and(|rest| rest.trim_start().starts_with([':', '=']));
    (ind == body_ind && own_line).then(|| value.to_string())
}

/// For each parameter named in `names` that function `scope` rebinds: the needs of each rebinding
/// (`if secret_name.startswith("os.environ/"): secret_name = secret_name.replace(...)`), those of the
/// names bound to it first (`param_of`) included.
fn rebound(r: &Resolver<'_>, scope: ScopeId, names: &[String]) -> Vec<(String, Vec<Vec<Need>>)> {
    let s = &r.facts.scopes[scope];
    let mut aliases: Vec<(&str, String)> = s
        .bindings
        .keys()
        .filter_map(|a| {
            let p = param_of(r, scope, a)?;
            (p != **a).then_some((&**a, p))
        })
        .collect();
    aliases.sort();
    let mut out = Vec::new();
    for n in names {
        let mut sites: Vec<Vec<Need>> = Vec::new();
        let holders = std::iter::once(n.as_str()).chain(aliases.iter().filter(|(_, p)| p == n).map(|(a, _)| *a));
        for holder in holders {
            let Some(list) = s.bindings.get(holder) else { continue };
            sites.extend(list.iter().skip(1).map(|&b| needs(r, r.facts.bindings[b].pos, scope)));
        }
        if !sites.is_empty() {
            out.push((n.clone(), sites));
        }
    }
    out
}

/// The tests of parameters the call at `at` in function `scope` needs to run (see `Need`), from the
/// conditions around it (`checks::branch_conditions`): a condition that needs to be true gives one for
/// each of its `and`ed parts, one that needs to be false one for each of its `or`ed parts.
fn needs(r: &Resolver<'_>, at: usize, scope: ScopeId) -> Vec<Need> {
    let s = &r.facts.scopes[scope];
    if s.kind != ScopeKind::Function || s.body.start == s.body.end {
        return Vec::new();
    }
    let mut out = Vec::new();
    checks::branch_conditions(r, at, scope, |cond, want| {
        let sep = if want { " and " } else { " or " };
        for part in split_word(cond, sep) {
            if let Some(n) = need(r, scope, at, part, want)
                && !out.contains(&n)
                && out.len() < 8
            {
                out.push(n);
            }
        }
        true
    });
    out
}

/// One `Need` from a condition part (`P is None`, `not P`, `P == "x"`, `P.startswith("x")`,
/// `isinstance(P, C)`) of a branch holding offset `at`.
fn need(r: &Resolver<'_>, scope: ScopeId, at: usize, part: &str, want: bool) -> Option<Need> {
    let mut c = part.trim();
    let mut want = want;
    while let Some(inner) = c.strip_prefix("not ") {
        c = inner.trim();
        want = !want;
    }
    let mk = |p: &str, op: &str, lit: Option<String>, want: bool| {
        param_of(r, scope, p.trim()).map(|param| Need { param, op: op.to_string(), lit, want })
    };
    if let Some(rest) = c.strip_prefix("isinstance(") {
        if matching_close(&c["isinstance".len()..]) != Some(c.len() - 1 - "isinstance".len()) {
            return None;
        }
        let [p, classes] = split_top(&rest[..rest.len() - 1])[..] else { return None };
        return mk(p, "isinstance", Some(isinstance_lit(r, scope, at, classes)?), want);
    }
    if let Some(p) = c.strip_suffix(" is not None") {
        return mk(p, "none", None, !want);
    }
    if let Some(p) = c.strip_suffix(" is None") {
        return mk(p, "none", None, want);
    }
    for (op, eq) in [(" == ", true), (" != ", false)] {
        if let Some((a, b)) = c.split_once(op) {
            let (p, l) = match literal(b) {
                Some(l) => (a, l),
                None => (b, literal(a)?),
            };
            return mk(p, "eq", Some(l), if eq { want } else { !want });
        }
    }
    // `P.startswith("oidc/")` is not read: litellm's `get_secret("FRIENDLI_TOKEN")` cannot take the
    // `oidc/` branch its chain shows, but with a hosted secret manager it waits in a branch no chain
    // names (an untyped client), and the labelled sample counts those sites real (see bench/README.md).
    mk(c, "truthy", None, want)
}

/// `Need::lit` of `isinstance(P, classes)` read at offset `at`: the `[typing.instances]` classes whose
/// values pass the test and those whose values fail it, when every class tested is one the table
/// decides (`bytes`, `(str, bytes)`, `os.PathLike`, `int | None` is not).
fn isinstance_lit(r: &Resolver<'_>, scope: ScopeId, at: usize, classes: &str) -> Option<String> {
    let c = classes.trim();
    let inner = match c.strip_prefix('(') {
        Some(rest) if matching_close(c) == Some(c.len() - 1) => &rest[..rest.len() - 1],
        _ => c,
    };
    let mut tested = Vec::new();
    for part in split_top(inner).into_iter().flat_map(|p| p.split('|')) {
        let mut names = part.trim().split('.');
        let head = names.next()?;
        if !is_name(head) {
            return None;
        }
        let mut v = r.lookup(head, scope, at, 0);
        for attr in names {
            v = r.attribute(v, attr, 0);
        }
        let q = r.qualified(&v)?;
        let cat = r.catalog;
        let known = cat.instances.contains_key(&q)
            || cat.instances_distinct.contains(&q)
            || cat.instances.values().any(|bases| bases.contains(&q));
        if !known {
            return None;
        }
        tested.push(q);
    }
    if tested.is_empty() {
        return None;
    }
    let mut classes: Vec<&String> = r.catalog.instances.keys().collect();
    classes.sort();
    let (pass, fail): (Vec<&String>, Vec<&String>) =
        classes.into_iter().partition(|k| r.catalog.instances[*k].iter().any(|b| tested.contains(b)));
    let join = |v: Vec<&String>| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
    Some(format!("{}|{}", join(pass), join(fail)))
}

/// What other modules may import from this one: its module-level names.
pub(super) fn exports(r: &Resolver<'_>) -> Vec<(String, Export)> {
    let facts = r.facts;
    let mut out = Vec::new();
    let mut names: Vec<(&Box<str>, &Vec<usize>)> = facts.scopes[0].bindings.iter().collect();
    names.sort_by_key(|(n, _)| *n);
    for (name, list) in names {
        let Some(&last) = list.last() else { continue };
        let export = match &facts.bindings[last].kind {
            BindingKind::Def(_) | BindingKind::Class(_) => continue,
            BindingKind::Import(q) => Some(Export::Alias(Target::Name(q.clone()))),
            BindingKind::Value(e) => match r.value_of(e) {
                v @ (Value::Name(_) | Value::Def(_) | Value::Class(_)) => target_of(r, v).map(Export::Alias),
                v => type_export(r, v),
            },
            BindingKind::Annotation(a) => type_export(r, r.annotation(a, 0)),
            _ => None,
        };
        if let Some(e) = export {
            out.push((name.to_string(), e));
        }
    }
    out
}

/// Whether what a call returns is iterated where it is made: `for x in f()` (or a comprehension's, or
/// `in` as a test), `yield from f()`, or the argument of a consumer (`list(f())`, `next(f())`).
fn iterated(r: &Resolver<'_>, call: &super::facts::CallFact) -> bool {
    let before = r.text.get(..call.range.start).unwrap_or("").trim_end();
    let word_before = |w: &str| {
        before.strip_suffix(w).is_some_and(|b| b.is_empty() || b.ends_with(|c: char| c.is_whitespace() || c == '('))
    };
    word_before("in")
        || word_before("yield from")
        || call
            .outer
            .as_ref()
            .is_some_and(|o| r.qualified(&r.value_of(o)).is_some_and(|q| r.catalog.consumers.contains(&q)))
}

/// Where what a call returns is iterated when it is kept in a variable first: `gen = rows()` as a whole
/// statement of function `scope`, then the first later use of `gen` in the function that iterates it
/// (`for r in gen`, `yield from gen`, `list(gen)`), if `gen` is not assigned again before. Read from the
/// text of the function's body, as `iterated` reads the call's.
fn kept_then_iterated(
    r: &Resolver<'_>,
    call: &super::facts::CallFact,
    scope: ScopeId,
) -> Option<std::ops::Range<usize>> {
    const MAX_SCAN: usize = 64 * 1024;
    let s = &r.facts.scopes[scope];
    if s.kind != ScopeKind::Function || call.outer.is_some() {
        return None;
    }
    let text = r.text;
    let line_start = text[..call.range.start].rfind('\n').map_or(0, |i| i + 1);
    let head = text[line_start..call.range.start].trim();
    let name = head.strip_suffix('=')?.trim_end();
    if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') || name.starts_with(char::is_numeric) {
        return None;
    }
    // The call is the whole value: nothing but a comment after it on its line.
    let rest = text.get(call.range.end..)?;
    let rest = rest[..rest.find('\n').unwrap_or(rest.len())].trim();
    if !(rest.is_empty() || rest.starts_with('#')) {
        return None;
    }
    let end = s.body.end.min(call.range.end.saturating_add(MAX_SCAN)).min(text.len());
    let mut from = call.range.end;
    while from < end {
        let body = text.get(from..end)?;
        let i = body.find(name)?;
        let at = from + i;
        from = at + name.len();
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.');
        if word(text[..at].chars().next_back()) || word(text[from..].chars().next()) {
            continue;
        }
        let before = text[..at].trim_end();
        let after = text[from..].trim_start();
        // Assigned again: the generator kept is not the one used after.
        if text[..at].rsplit('\n').next().is_some_and(|l| l.trim().is_empty())
            && after.starts_with('=')
            && !after.starts_with("==")
        {
            return None;
        }
        let word_before = |w: &str| {
            before.strip_suffix(w).is_some_and(|b| b.is_empty() || b.ends_with(|c: char| c.is_whitespace() || c == '('))
        };
        if word_before("in") || word_before("yield from") {
            return Some(at..from);
        }
        // The one argument of a consumer: `list(gen)`, `next(gen)`.
        if let Some(callee) = before.strip_suffix('(')
            && after.starts_with(')')
        {
            let callee = callee.trim_end();
            let n = callee.chars().rev().take_while(|c| c.is_alphanumeric() || *c == '_').count();
            let fname = &callee[callee.len() - callee.chars().rev().take(n).map(char::len_utf8).sum::<usize>()..];
            if !fname.is_empty()
                && r.qualified(&r.lookup(fname, scope, at, 0)).is_some_and(|q| r.catalog.consumers.contains(&q))
            {
                return Some(at..from);
            }
        }
    }
    None
}

/// The parameter of function `scope` whose truth the call at `at` needs: an enclosing `if P:` where `P`
/// is a parameter the function never rebinds (`if join_on_exit: thread.join()`). A caller that passes
/// `P=False` does not run that call.
fn gate(r: &Resolver<'_>, at: usize, scope: ScopeId) -> Option<String> {
    let facts = r.facts;
    let s = &facts.scopes[scope];
    checks::enclosing_if(r, at, scope, |_, _, cond| {
        let p = cond.trim();
        let list = s.bindings.get(p)?;
        (list.len() == 1 && facts.bindings[list[0]].pos == s.body.start).then(|| p.to_string())
    })
}

/// Whether the call at `at`, in sync function `scope`, is in the block of an `if` that runs only off the
/// event loop's thread: its condition compares with `!=` what a thread-id function returns (`if
/// hass.loop_thread_id != threading.get_ident():`, before waiting for the loop from another thread).
/// The blocks are read by `checks::enclosing_if`.
fn off_loop(r: &Resolver<'_>, at: usize, scope: ScopeId) -> bool {
    let facts = r.facts;
    checks::enclosing_if(r, at, scope, |start, line, cond| {
        if !cond.contains("!=") {
            return None;
        }
        let end = start + line.len();
        let first = facts.calls.partition_point(|c| c.range.start < start);
        facts.calls[first..]
            .iter()
            .take_while(|c| c.range.start < end)
            .any(|c| r.qualified(&r.value_of(&c.func)).is_some_and(|q| r.catalog.thread_ids.contains(&q)))
            .then_some(())
    })
    .is_some()
}

/// The names that hold the current thread's event loop in sync function `scope` (every binding of the
/// name is a call of a `[chains] current_loop` function, or of a sync function of this module that
/// makes such a call, or `None`, and one is a call), or `None` when there are none and its body calls
/// no such function directly either: nothing to test then.
fn loop_names(r: &Resolver<'_>, scope: ScopeId) -> Option<Vec<String>> {
    let facts = r.facts;
    let s = &facts.scopes[scope];
    if s.kind != ScopeKind::Function || r.catalog.current_loop.is_empty() {
        return None;
    }
    let mut names: Vec<String> = Vec::new();
    for (name, list) in &s.bindings {
        let mut calls = 0;
        let all = list.iter().all(|&b| match &facts.bindings[b].kind {
            BindingKind::Value(e) => match &e.kind {
                ExprKind::Call(func) if gives_loop(r, func) => {
                    calls += 1;
                    true
                }
                ExprKind::Other => r.text_of(&e.range).trim() == "None",
                _ => false,
            },
            // `loop: Final = get_loop()` binds the annotation, the value is the call that ends there.
            BindingKind::Annotation(_) if facts.bindings[b].pos != s.body.start => {
                let pos = facts.bindings[b].pos.min(r.text.len());
                let line = r.text.get(..pos).and_then(|t| t.rfind('\n')).map_or(0, |i| i + 1);
                let upto = facts.calls.partition_point(|c| c.range.start < pos);
                let value = facts.calls[..upto].iter().rev().take_while(|c| c.range.start >= line).find(|c| {
                    let before = r.text.get(line..c.range.start).unwrap_or("").trim_end();
                    c.range.end == pos && before.ends_with('=') && !before.ends_with("==")
                });
                match value {
                    Some(c) if gives_loop(r, &c.func) => {
                        calls += 1;
                        true
                    }
                    _ => false,
                }
            }
            _ => false,
        });
        if all && calls > 0 {
            names.push(name.to_string());
        }
    }
    let body = r.text_of(&s.body);
    let direct = r.catalog.current_loop.iter().any(|q| body.contains(q.rsplit('.').next().unwrap_or(q)));
    (!names.is_empty() || direct).then_some(names)
}

/// Whether code in `range` calls a `[chains] current_loop` function: a sync function that does may
/// give the loop (`gives_loop`), and other functions' summaries then depend on its body, so an edit of
/// it is checked with the whole file (`reanalyze_function_edit`).
pub(crate) fn calls_current_loop(r: &Resolver<'_>, range: std::ops::Range<usize>) -> bool {
    if r.catalog.current_loop.is_empty() {
        return false;
    }
    let calls = &r.facts.calls;
    let from = calls.partition_point(|c| c.range.start < range.start);
    calls[from..]
        .iter()
        .take_while(|c| c.range.start < range.end)
        .any(|c| r.qualified(&r.value_of(&c.func)).is_some_and(|q| r.catalog.current_loop.contains(&q)))
}

/// Whether calling `func` gives the current thread's event loop: a `[chains] current_loop` function, or
/// a sync function of this module (not a generator) that calls one (a helper that returns the loop, or
/// `None` when there is none).
fn gives_loop(r: &Resolver<'_>, func: &Expr) -> bool {
    let v = r.value_of(func);
    if r.qualified(&v).is_some_and(|q| r.catalog.current_loop.contains(&q)) {
        return true;
    }
    let Value::Def(id) = v else { return false };
    let s = &r.facts.scopes[id];
    if s.is_async || s.has_yield {
        return false;
    }
    r.facts
        .calls
        .iter()
        .filter(|c| c.scope == id && s.body.contains(&c.range.start))
        .any(|c| r.qualified(&r.value_of(&c.func)).is_some_and(|q| r.catalog.current_loop.contains(&q)))
}

/// Whether the call at `at`, in sync function `scope`, is in a branch that does not run when a coroutine
/// calls the function: a condition around it (`checks::branch_conditions`) is decided by the running
/// loop (`loop_test`) against what the branch needs (`if loop is None: asyncio.run(coro)`, the `else`
/// after `elif loop.is_running():`, what follows `if loop.is_running(): return loop.create_task(coro)`).
fn dead_on_loop(r: &Resolver<'_>, at: usize, scope: ScopeId, loops: &[String]) -> bool {
    let mut dead = false;
    checks::branch_conditions(r, at, scope, |cond, want| {
        if loop_test(r, cond, scope, at, loops, 0) == Some(!want) {
            dead = true;
            return false;
        }
        true
    });
    dead
}

/// The value of condition `cond` on the event loop's thread, when the running loop decides it: `L is
/// None` (false), `L is not None` and `L` (true), `L.is_running()` (`[chains] loop_true`),
/// `L.is_closed()` (`loop_false`), with `L` a name of `loops` or a call that gives the loop
/// (`asyncio.get_event_loop().is_running()`); `not`, `and`, `or` and parentheses over those.
fn loop_test(r: &Resolver<'_>, cond: &str, scope: ScopeId, at: usize, loops: &[String], depth: u32) -> Option<bool> {
    if depth > 8 {
        return None;
    }
    let c = cond.trim();
    if let Some(inner) = c.strip_prefix('(').and_then(|x| x.strip_suffix(')'))
        && matching_close(c) == Some(c.len() - 1)
    {
        return loop_test(r, inner, scope, at, loops, depth + 1);
    }
    for (sep, absorbing) in [(" or ", true), (" and ", false)] {
        let parts = split_word(c, sep);
        if parts.len() > 1 {
            let vals: Vec<Option<bool>> = parts.iter().map(|p| loop_test(r, p, scope, at, loops, depth + 1)).collect();
            if vals.contains(&Some(absorbing)) {
                return Some(absorbing);
            }
            return vals.iter().all(|v| *v == Some(!absorbing)).then_some(!absorbing);
        }
    }
    if let Some(inner) = c.strip_prefix("not ") {
        return loop_test(r, inner, scope, at, loops, depth + 1).map(|v| !v);
    }
    let is_loop = |x: &str| {
        let x = x.trim();
        if loops.iter().any(|n| n == x) {
            return true;
        }
        // A call that gives the loop: `asyncio.get_event_loop()`.
        let Some(callee) = x.strip_suffix("()") else { return false };
        let mut parts = callee.split('.');
        let Some(first) = parts.next().filter(|p| is_name(p)) else { return false };
        let mut v = r.lookup(first, scope, at, 0);
        for p in parts {
            if !is_name(p) {
                return false;
            }
            v = r.attribute(v, p, 0);
        }
        r.qualified(&v).is_some_and(|q| r.catalog.current_loop.contains(&q))
    };
    if let Some(x) = c.strip_suffix(" is not None") {
        return is_loop(x).then_some(true);
    }
    if let Some(x) = c.strip_suffix(" is None") {
        return is_loop(x).then_some(false);
    }
    if let Some((obj, m)) = c.strip_suffix("()").and_then(|x| x.rsplit_once('.'))
        && is_loop(obj)
    {
        if r.catalog.loop_true.contains(m) {
            return Some(true);
        }
        if r.catalog.loop_false.contains(m) {
            return Some(false);
        }
        return None;
    }
    is_loop(c).then_some(true)
}

/// `text` split at the top-level occurrences (outside brackets and strings) of `sep` (` or `).
fn split_word<'t>(text: &'t str, sep: &str) -> Vec<&'t str> {
    let mut out = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, None::<char>, 0);
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < text.len() {
        let c = bytes[i] as char;
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => depth -= 1,
            (None, _) if depth == 0 && bytes[i..].starts_with(sep.as_bytes()) => {
                out.push(&text[start..i]);
                i += sep.len();
                start = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&text[start..]);
    out
}

/// What a function's return annotation gives other modules: an instance (`-> Client`), or a class
/// itself for `-> type[Client]` (`[typing] classes`), whose methods a call on the result runs as well.
fn returns_export(r: &Resolver<'_>, a: &Ann) -> Option<Export> {
    if let Ann::Generic { base, first: Some(first), .. } = a
        && r.qualified(&r.value_of(base)).is_some_and(|q| r.catalog.typing_classes.contains(&q))
    {
        let Ann::Expr(class) = &**first else { return None };
        return match r.value_of(class) {
            v @ (Value::Class(_) | Value::Name(_)) => target_of(r, v).map(Export::Alias),
            _ => None,
        };
    }
    type_export(r, r.annotation(a, 0))
}

/// Whether class `id` declares a protocol: one of its bases is `typing.Protocol` (or `Protocol[T]`).
fn is_protocol(r: &Resolver<'_>, id: ScopeId) -> bool {
    r.facts.scopes[id].bases.iter().any(|b| {
        let base = match &b.kind {
            ExprKind::Subscript(inner) => inner,
            _ => b,
        };
        r.qualified(&r.value_of(base)).is_some_and(|q| r.catalog.protocols.contains(&q))
    })
}

/// `FileSummary::registers`: empty unless the module declares a protocol.
pub(super) fn registers(r: &Resolver<'_>) -> Vec<Target> {
    let facts = r.facts;
    let declares = facts
        .scopes
        .iter()
        .enumerate()
        .any(|(id, s)| s.kind == ScopeKind::Class && !s.bases.is_empty() && is_protocol(r, id));
    if !declares {
        return Vec::new();
    }
    // The bindings the scopes hold (after an edit, `facts.bindings` keeps dead ones until compacted).
    let mut names: Vec<&String> = facts
        .scopes
        .iter()
        .flat_map(|s| s.bindings.values().flatten())
        .filter_map(|&b| match &facts.bindings[b].kind {
            BindingKind::Import(q) if !r.catalog.is_library_name(q) => Some(q),
            _ => None,
        })
        .collect();
    names.sort();
    names.dedup();
    names.into_iter().map(|q| Target::Name(q.clone())).collect()
}

/// A value's type as other modules see it: an instance of a project class or of a catalogued one.
fn type_export(r: &Resolver<'_>, v: Value) -> Option<Export> {
    match v {
        Value::Object(c) => target_of(r, Value::Class(c)).map(Export::Instance),
        Value::Foreign(p) => Some(Export::Instance(Target::Name(p))),
        // An imported project class named in an annotation (`-> Client` with `Client` imported).
        Value::Instance(t) if !r.catalog.is_library_name(&t) => Some(Export::Instance(Target::Name(t))),
        Value::Instance(t) => Some(Export::Library(t)),
        _ => None,
    }
}

/// A class's typed attributes: class-level assignments and annotations, then `self.x = ...` in its
/// methods (the first assignment the analysis can type, as `Resolver` reads them), by name.
fn class_attrs(r: &Resolver<'_>, class: ScopeId) -> Vec<(String, Export)> {
    let s = &r.facts.scopes[class];
    let mut out: Vec<(String, Export)> = Vec::new();
    let mut names: Vec<&Box<str>> = s.bindings.keys().chain(s.self_attrs.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        let typed = match s.bindings.get(name) {
            Some(list) => match &r.facts.bindings[*list.last().expect("binding lists are never empty")].kind {
                BindingKind::Value(_) | BindingKind::Annotation(_) => {
                    type_export(r, r.binding(*list.last().expect("binding lists are never empty")))
                }
                _ => None,
            },
            None => s.self_attrs.get(name).and_then(|list| list.iter().find_map(|&id| type_export(r, r.binding(id)))),
        };
        if let Some(e) = typed {
            out.push((name.to_string(), e));
        }
    }
    out
}

/// The module-level star imports of modules that may be the project's, and a literal `__all__`.
pub(super) fn stars(r: &Resolver<'_>) -> (Vec<String>, Option<Vec<String>>) {
    let module = &r.facts.scopes[0];
    let stars = module.star_imports.iter().filter(|m| !r.catalog.is_library_name(m)).map(|m| m.to_string()).collect();
    let all = module.bindings.get("__all__").and_then(|list| match &r.facts.bindings[*list.last()?].kind {
        BindingKind::Value(e) => literal_strings(r.text_of(&e.range)),
        _ => None,
    });
    (stars, all)
}

/// The strings of a literal list or tuple of plain string literals (`["a", 'b']`), else `None`.
fn literal_strings(text: &str) -> Option<Vec<String>> {
    let t = text.trim();
    let inner = t
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .or_else(|| t.strip_prefix('(').and_then(|t| t.strip_suffix(')')))
        .unwrap_or(t);
    let mut out = Vec::new();
    for item in inner.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let quote = item.chars().next()?;
        let s = item.strip_prefix(quote)?.strip_suffix(quote)?;
        if !matches!(quote, '"' | '\'') || s.contains(['"', '\'', '\\']) || !is_name(s) {
            return None;
        }
        out.push(s.to_string());
    }
    Some(out)
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_') && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// The project-resolvable target of a value, if it may be a project function or class.
fn target_of(r: &Resolver<'_>, v: Value) -> Option<Target> {
    match v {
        // A name bound nowhere in the file, which imports `*` from project modules: it may come from
        // one of them (not a builtin the catalog knows, such as `open`).
        Value::Name(q)
            if q.starts_with("builtins.")
                && !r.catalog.knows(&r.catalog.canonical(&q))
                && r.facts.scopes[0].star_imports.iter().any(|m| !r.catalog.is_library_name(m)) =>
        {
            Some(Target::Local(q["builtins.".len()..].to_string()))
        }
        Value::Def(f) | Value::Class(f) => Some(Target::Local(checks::function_name(r, f))),
        // Names in catalogued libraries (`requests.x`, `os.y`) cannot be project functions.
        Value::Name(q) if !r.catalog.is_library_name(&q) => Some(Target::Name(q)),
        Value::Foreign(p) if !r.catalog.is_library_name(&p) => Some(Target::Name(p)),
        _ => None,
    }
}

/// `self.read()` / `obj.read()` with `obj` an instance of a class of this file (or `Cls.read()` on the
/// class), when `Resolver::project_method` says the project's C3 order decides which `read` it is: the
/// target is written on the receiver's class (`Reader.read`, not the defining class nor an imported
/// base's name), so that the project looks it up in the receiver's MRO over every module. In
/// `class AsyncReader(Reader, AsyncMixin)` with `Reader(Mixin)` and `AsyncMixin(Mixin)` imported, this
/// file's order puts `Mixin` (reached through `Reader`) before `AsyncMixin`, whose bases it cannot see;
/// Python's puts `AsyncMixin.read` first. With whether the receiver is an instance.
fn receiver_method(r: &Resolver<'_>, func: &Expr, callee: &Value) -> Option<(Target, bool)> {
    if !matches!(callee, Value::Def(_) | Value::Foreign(_) | Value::Name(_)) {
        return None;
    }
    let ExprKind::Attribute(obj, attr) = &func.kind else { return None };
    let base = r.value_of(obj);
    let (class, instance) = match base {
        Value::Object(c) => (c, true),
        Value::Class(c) => (c, false),
        _ => return None,
    };
    // Not a value assigned to the attribute in this function (`x.read = f`).
    if !r.project_method(class, attr) || r.attribute(base, attr, 0) != *callee {
        return None;
    }
    Some((Target::Local(format!("{}.{attr}", checks::function_name(r, class))), instance))
}

/// `obj.m` with `obj` declared as a union (`Resolver::alternatives`): the target of each member's `m`,
/// in order, when there are two or more (see `CallSite::alternatives`).
fn union_members(r: &Resolver<'_>, func: &Expr) -> Vec<Target> {
    let ExprKind::Attribute(obj, attr) = &func.kind else { return Vec::new() };
    let members = r.alternatives(obj);
    if members.len() < 2 {
        return Vec::new();
    }
    let mut out: Vec<Target> = Vec::new();
    for m in members {
        let target = match m {
            Value::Object(c) if r.project_method(c, attr) => {
                Some(Target::Local(format!("{}.{attr}", checks::function_name(r, c))))
            }
            m => target_of(r, r.attribute(m, attr, 0)),
        };
        if let Some(t) = target
            && !out.contains(&t)
        {
            out.push(t);
        }
    }
    if out.len() < 2 { Vec::new() } else { out }
}

/// `f().attr` (`(await f()).attr` for a coroutine) with `f` a function of this file without a return
/// annotation (`client().get()`): written `f.attr`, as targets write an attribute of what a function
/// returns, so that the project resolves it through what `f`'s summary infers it returns
/// (`Resolver::inferred_return`).
fn result_member(r: &Resolver<'_>, func: &Expr) -> Option<Target> {
    let ExprKind::Attribute(obj, attr) = &func.kind else { return None };
    let (inner, awaited) = match &obj.kind {
        ExprKind::Call(inner) => (inner, false),
        ExprKind::Await(call) => match &call.kind {
            ExprKind::Call(inner) => (inner, true),
            _ => return None,
        },
        _ => return None,
    };
    let Value::Def(f) = r.value_of(inner) else { return None };
    let s = &r.facts.scopes[f];
    if s.returns.is_some() || s.has_yield || s.is_async != awaited {
        return None;
    }
    match target_of(r, Value::Def(f))? {
        Target::Local(name) => Some(Target::Local(format!("{name}.{attr}"))),
        Target::Name(_) => None,
    }
}

/// A literal as `OverloadParam::literals` and `CallSite::made_by` compare it: `True`, `None`, `3`, or a
/// string's content after `'` (either quote). `None` for anything else.
fn literal(text: &str) -> Option<String> {
    let t = text.trim();
    if matches!(t, "True" | "False" | "None") {
        return Some(t.to_string());
    }
    let digits = t.strip_prefix('-').unwrap_or(t);
    if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
        return Some(t.to_string());
    }
    for q in ['"', '\''] {
        if let Some(inner) = t.strip_prefix(q).and_then(|r| r.strip_suffix(q))
            && t.len() >= 2
            && !inner.contains(q)
            && !inner.contains('\\')
        {
            return Some(format!("'{inner}"));
        }
    }
    None
}

/// Where the bracket `text` starts with is closed (outside strings), as a byte offset into `text`.
fn matching_close(text: &str) -> Option<usize> {
    let (mut depth, mut quote) = (0i32, None::<char>);
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// `text` split at its top-level commas (outside brackets and strings), each piece trimmed.
fn split_top(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, None::<char>, 0);
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => depth -= 1,
            (None, ',') if depth == 0 => {
                out.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(text[start..].trim());
    out.retain(|p| !p.is_empty());
    out
}

/// The parameters of the `@overload` stub `id`, read from its header (`def f(a, *, b: Literal[True])`).
fn overload_params(r: &Resolver<'_>, id: ScopeId) -> Vec<OverloadParam> {
    header_params(r, id)
        .into_iter()
        .map(|p| {
            let literals = p.annotation.and_then(|a| {
                let inner = ["Literal[", "typing.Literal[", "typing_extensions.Literal[", "t.Literal["]
                    .iter()
                    .find_map(|pre| a.strip_prefix(pre))?
                    .strip_suffix(']')?;
                split_top(inner).into_iter().map(literal).collect::<Option<Vec<_>>>()
            });
            let star = p.name.starts_with('*');
            OverloadParam {
                name: p.name.to_string(),
                positional: p.positional,
                default: star || p.default.is_some(),
                literals,
            }
        })
        .collect()
}

/// `CallSite::made_by` for `call`: the arguments of the call that made the object whose method it
/// calls (`get_client(sync_client=True).read_task_run()`, or through a name of the function bound to
/// that call), when some are literals.
fn made_by(
    r: &Resolver<'_>,
    call: &super::facts::CallFact,
    scope: ScopeId,
    calls_at: &mut Option<std::collections::HashMap<(usize, usize), usize>>,
) -> Option<Vec<(Option<String>, Option<String>)>> {
    let ExprKind::Attribute(object, _) = &call.func.kind else { return None };
    let made = match &object.kind {
        ExprKind::Call(_) => object.range.clone(),
        ExprKind::Name(n) => {
            let list = r.facts.scopes[scope].bindings.get(n.as_ref())?;
            let b = super::resolve::pick(r.facts, list, call.range.start);
            match &r.facts.bindings[b].kind {
                BindingKind::Value(e) if matches!(e.kind, ExprKind::Call(_)) => e.range.clone(),
                _ => return None,
            }
        }
        _ => return None,
    };
    let facts = r.facts;
    let at = calls_at.get_or_insert_with(|| {
        facts.calls.iter().enumerate().map(|(i, c)| ((c.range.start, c.range.end), i)).collect()
    });
    let maker = &facts.calls[*at.get(&(made.start, made.end))?];
    // Splats are left out of `args`: what they pass is unknown.
    if r.text_of(&maker.args_range).contains('*') {
        return None;
    }
    let args: Vec<(Option<String>, Option<String>)> = maker
        .args
        .iter()
        .map(|a| (a.keyword.as_ref().map(|k| k.to_string()), literal(r.text_of(&a.value.range))))
        .collect();
    args.iter().any(|(_, l)| l.is_some()).then_some(args)
}

/// The function whose result an awaited `item.method()` iterates (`for item in f():` or `items = f()`
/// then `for item in items:`, `f` a function of this file): `awaited_on_items` reads that function's
/// return statement, so a caller's summary depends on its body (`analysis::reanalyze_edit` checks such
/// callers again when it changes).
pub(super) fn item_maker(r: &Resolver<'_>, call: &super::facts::CallFact, scope: ScopeId) -> Option<ScopeId> {
    let facts = r.facts;
    if !call.awaited {
        return None;
    }
    let ExprKind::Attribute(object, _) = &call.func.kind else { return None };
    let ExprKind::Name(item) = &object.kind else { return None };
    // The binding of a name in the calling function (the item, then what it iterates).
    let bound = |name: &str, at: usize| {
        let list = facts.scopes[scope].bindings.get(name)?;
        Some(&facts.bindings[super::resolve::pick(facts, list, at)].kind)
    };
    let Some(BindingKind::Iter(iterated)) = bound(item, call.range.start) else { return None };
    let made = match &iterated.kind {
        ExprKind::Call(f) => f,
        ExprKind::Name(n) => match bound(n, iterated.range.start) {
            Some(BindingKind::Value(Expr { kind: ExprKind::Call(f), .. })) => f,
            _ => return None,
        },
        _ => return None,
    };
    match r.value_of(made) {
        Value::Def(maker) => Some(maker),
        _ => None,
    }
}

/// The coroutine methods an awaited `item.method()` runs when `item` iterates what an unannotated
/// function of this file returns as a list or tuple of instances of this file's classes (`for resource
/// in self._generate_resources(): await resource.provision()` with `return [ClusterResource(...),
/// VpcResource(...)]`): each class's method, if every item's class has one and each is a coroutine.
/// Nothing otherwise (a sync method among them would turn one call into several findings).
fn awaited_on_items(r: &Resolver<'_>, call: &super::facts::CallFact, scope: ScopeId) -> Vec<Target> {
    let facts = r.facts;
    let Some(maker) = item_maker(r, call, scope) else { return Vec::new() };
    let ExprKind::Attribute(_, attr) = &call.func.kind else { return Vec::new() };
    let m = &facts.scopes[maker];
    if m.returns.is_some() || m.has_yield || m.is_async {
        return Vec::new();
    }
    // Its one return statement, a list or tuple display.
    let body = r.text_of(&m.body);
    let mut returns = body.match_indices("return ").filter(|(i, _)| {
        let line_start = body[..*i].rfind('\n').map_or(0, |n| n + 1);
        body[line_start..*i].trim().is_empty()
    });
    let (Some((at, _)), None) = (returns.next(), returns.next()) else { return Vec::new() };
    let value = body[at + "return ".len()..].trim_start();
    if !value.starts_with(['[', '(']) {
        return Vec::new();
    }
    // The display's text, to its matching bracket.
    let Some(end) = matching_close(value) else { return Vec::new() };
    let at = m.body.start + (body.len() - value.len());
    let mut out: Vec<Target> = Vec::new();
    for element in split_top(&value[1..end]) {
        // `ClassResource(...)`: a constructor of a class of this file.
        let Some(name) = element.strip_suffix(')').and_then(|e| e.split_once('(')).map(|(n, _)| n.trim()) else {
            return Vec::new();
        };
        let mut parts = name.split('.');
        let Some(first) = parts.next() else { return Vec::new() };
        let mut v = r.lookup(first, maker, at, 0);
        for p in parts {
            v = r.attribute(v, p, 0);
        }
        let Value::Class(c) = v else { return Vec::new() };
        match r.attribute(Value::Class(c), attr, 0) {
            Value::Def(method) if facts.scopes[method].is_async => {
                let Some(t) = target_of(r, Value::Def(method)) else { return Vec::new() };
                if !out.contains(&t) {
                    out.push(t);
                }
            }
            _ => return Vec::new(),
        }
    }
    out
}
