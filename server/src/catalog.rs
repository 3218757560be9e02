//! The blocking-call catalog: which APIs block, what calling a name returns, and the framework facts,
//! all loaded from the TOML files in `queries/catalog/`. Nothing here knows a Python API by name.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use serde::Deserialize;

use crate::rules::{Rule, Tier};

/// The catalog files compiled into the binary: (file name, contents). A test checks that this list and
/// the folder agree.
pub const BUNDLED_FILES: &[(&str, &str)] = &[
    ("semantics.toml", include_str!(concat!(env!("LOOPSAFE_QUERIES"), "/catalog/semantics.toml"))),
    ("http.toml", include_str!(concat!(env!("LOOPSAFE_QUERIES"), "/catalog/http.toml"))),
    ("sleep.toml", include_str!(concat!(env!("LOOPSAFE_QUERIES"), "/catalog/sleep.toml"))),
    ("subprocess.toml", include_str!(concat!(env!("LOOPSAFE_QUERIES"), "/catalog/subprocess.toml"))),
    ("file.toml", include_str!(concat!(env!("LOOPSAFE_QUERIES"), "/catalog/file.toml"))),
    ("input.toml", include_str!(concat!(env!("LOOPSAFE_QUERIES"), "/catalog/input.toml"))),
    ("network.toml", include_str!(concat!(env!("LOOPSAFE_QUERIES"), "/catalog/network.toml"))),
    ("database.toml", include_str!(concat!(env!("LOOPSAFE_QUERIES"), "/catalog/database.toml"))),
    ("wait.toml", include_str!(concat!(env!("LOOPSAFE_QUERIES"), "/catalog/wait.toml"))),
    ("sdk.toml", include_str!(concat!(env!("LOOPSAFE_QUERIES"), "/catalog/sdk.toml"))),
    ("cli.toml", include_str!(concat!(env!("LOOPSAFE_QUERIES"), "/catalog/cli.toml"))),
];

/// The fixes a catalog entry says apply to its calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FixKind {
    Offload,
    MakeSync,
    Httpx,
    AsyncSleep,
    AsyncFile,
    /// The connection a call opens becomes the async driver's (`[[counterparts]]`).
    AsyncDriver,
}

/// An async driver that stands in for a sync one, method for method (`[[counterparts]]`): what the
/// chain-to-async fix rewrites a connection into, or why it will not.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counterpart {
    /// The sync call that opens a connection (`sqlite3.connect`).
    #[serde(default)]
    pub connect: String,
    /// Or a client class whose module-level instance becomes the async client (`redis.Redis`): its
    /// constructors (canonical names) → the async ones, and its methods that are not simply awaited,
    /// with why.
    #[serde(default)]
    pub class: String,
    #[serde(default)]
    pub constructors: HashMap<String, String>,
    #[serde(default)]
    pub not_awaited: HashMap<String, String>,
    /// The async client is an async context manager, opened and closed in the event loop that uses it
    /// (`async with aioboto3.Session().client(...) as c:`): a client made in a function becomes an
    /// `async with` around its uses; a module-level one becomes a function giving each running event
    /// loop its own client (entered the first time the loop uses one, `await (await s3()).op(...)`). Its
    /// `attributes` are kept as they are, called or not (`c.exceptions`, `c.can_paginate(...)`); every
    /// other method is awaited.
    #[serde(default)]
    pub entered: bool,
    /// Why no exact rewrite exists: the fix refuses with this reason.
    #[serde(default)]
    pub refused: Option<String>,
    /// The async call that opens the same connection (`aiosqlite.connect`), and its package.
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub package: String,
    /// How many positional arguments `to` takes (the others are keywords passed through).
    #[serde(default)]
    pub positional: usize,
    /// Connection methods that become awaited; those of them that return a cursor.
    #[serde(default)]
    pub awaited: Vec<String>,
    #[serde(default)]
    pub cursors: Vec<String>,
    /// Cursor methods that become awaited.
    #[serde(default)]
    pub cursor_awaited: Vec<String>,
    /// Attributes (not calls) the async connection and cursor have with the same meaning.
    #[serde(default)]
    pub attributes: Vec<String>,
    #[serde(default)]
    pub cursor_attributes: Vec<String>,
    /// The method that closes the connection: a connection bound by assignment must call it.
    #[serde(default)]
    pub close: String,
    /// `with connect(...) as c:` commits at the end of the block and leaves the connection open, where
    /// `async with` closes it: the rewrite commits at the end of the block with this method.
    #[serde(default)]
    pub with_commits: Option<String>,
    /// `to` is a coroutine whose result is the context manager: `async with await to(...) as c:`.
    #[serde(default)]
    pub with_awaited: bool,
    /// A cursor is iterated with `async for` (`for row in cur:` → `async for row in cur:`).
    #[serde(default)]
    pub cursor_async_for: bool,
    /// Why a connection `connect` makes at module level (`conn = sqlite3.connect(...)` at import) has no
    /// rewrite: a chain ending in a call on one refuses with this reason.
    #[serde(default)]
    pub module_level: Option<String>,
    /// Classes of the sync driver whose objects work only in the thread that opened them (sqlite3's
    /// connections and cursors), with why: a call on one opened elsewhere (a chain's helper using a
    /// module-level connection, a route using one it did not open) is neither offloaded nor made sync.
    #[serde(default)]
    pub thread_bound: HashMap<String, String>,
    /// Connection methods whose result is a context manager the async connection enters with `async
    /// with` (psycopg's `with conn.transaction():` → `async with conn.transaction():`): written only as
    /// the one item of a sync `with`, bound to no name.
    #[serde(default)]
    pub entered_with: Vec<String>,
    /// Keywords of `connect` that have no exact equivalent in `to`, with why.
    #[serde(default)]
    pub refused_keywords: HashMap<String, String>,
    /// Another library's async API standing in with client-side parameter binding (psycopg2 → psycopg 3's
    /// `AsyncClientCursor`): the queries, cursors and names of the sync library that the rewrite checks.
    #[serde(default)]
    pub client_binding: Option<ClientBinding>,
}

/// How a sync driver becomes another library's async connection that binds parameters client-side, as
/// the sync one did (psycopg2 → `psycopg.AsyncConnection` with `cursor_factory=psycopg.AsyncClientCursor`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientBinding {
    /// The keyword `to` is given, and the qualified name of its value (`cursor_factory`,
    /// `psycopg.AsyncClientCursor`).
    pub keyword: String,
    pub value: String,
    /// `cursor_factory=` values of the sync library (qualified) → the async `row_factory=` (qualified).
    #[serde(default)]
    pub row_factories: HashMap<String, String>,
    /// Names `X` whose `sync.X` is the same class as `package.X` (the DB-API exceptions).
    #[serde(default)]
    pub same_names: Vec<String>,
    /// Why the connection's own `with` (`with conn:`) is refused.
    pub with_refused: String,
    /// Why a query the rewrite cannot read, or one of several statements or with `IN %s`, is refused.
    pub query_unknown: String,
    pub several_statements: String,
    pub in_tuple: String,
    /// Why a `register_*` adapter of the sync library (anywhere in the file) refuses it.
    pub register: String,
    /// What changes that the code does not show: the fix's title says it.
    pub note: String,
}

/// One group of blocking callables, with what a finding on them says.
#[derive(Clone, Debug)]
pub struct Entry {
    pub rule: Rule,
    pub tier: Tier,
    /// Message template; `{callee}` stands for the qualified name.
    pub message: String,
    pub instead: String,
    pub fixes: Vec<FixKind>,
    except: Vec<String>,
}

impl Entry {
    pub fn message_for(&self, callee: &str) -> String {
        self.message.replace("{callee}", display_name(callee))
    }
}

/// How a qualified name is shown to users: builtins without their module.
/// `text` (a catalog entry's advice) with the module `from` spelled `to` wherever it starts a dotted
/// name (`httpx.AsyncClient` → `httpx2.AsyncClient`), for a file that imports `to` (see
/// `Resolver::respelled`).
pub fn respell_module(text: &str, from: &str, to: &str) -> String {
    let dotted = format!("{from}.");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(&dotted) {
        let before = rest[..i].chars().next_back();
        let starts_name = !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.');
        out.push_str(&rest[..i]);
        out.push_str(if starts_name { to } else { from });
        out.push('.');
        rest = &rest[i + dotted.len()..];
    }
    out.push_str(rest);
    out
}

pub fn display_name(qualified: &str) -> &str {
    qualified.strip_prefix("builtins.").unwrap_or(qualified)
}

#[derive(Clone, Debug, Default)]
pub struct Frameworks {
    pub app_classes: HashSet<String>,
    pub route_methods: HashSet<String>,
    pub dependency_markers: HashSet<String>,
    pub route_constructors: HashSet<String>,
    pub modules: Vec<String>,
    /// Keyword arguments of an app class's constructor that name its lifespan (`FastAPI(lifespan=f)`).
    pub lifespan_keywords: HashSet<String>,
    /// Route methods whose name is no HTTP verb (`api_route`): the route is shown by its path alone.
    pub verbless_methods: HashSet<String>,
    /// The keyword that prefixes a router's routes (`APIRouter(prefix=...)`, `include_router(..., prefix=...)`).
    pub prefix_keywords: HashSet<String>,
    /// Methods that serve another router's routes under the caller's (`include_router`).
    pub include_methods: HashSet<String>,
    /// Methods that serve another app's routes under a path (`mount("/api", sub_app)`).
    pub mount_methods: HashSet<String>,
    /// Classes that serve the routes given to them under a path (`Mount("/api", routes=[...])`).
    pub mount_constructors: HashSet<String>,
}

/// Command-line frameworks (`cli.toml`): what makes a coroutine a command run alone on its own loop.
#[derive(Clone, Debug, Default)]
pub struct Cli {
    pub app_classes: HashSet<String>,
    pub command_methods: HashSet<String>,
    pub decorators: HashSet<String>,
    pub runners: HashSet<String>,
    /// The runners' last names (`run`), to pass over other calls without resolving them.
    pub runner_tails: HashSet<String>,
    pub modules: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Catalog {
    entries: Vec<Entry>,
    exact: HashMap<String, usize>,
    /// Wildcard names: (prefix before the `*`, entry), longest prefix first.
    prefixes: Vec<(String, usize)>,
    returns: HashMap<String, String>,
    attributes: HashMap<String, String>,
    aliases: HashMap<String, String>,
    pub offload_functions: HashSet<String>,
    pub offload_methods: HashSet<String>,
    pub loop_apis: HashSet<String>,
    pub frameworks: Frameworks,
    pub cli: Cli,
    /// Generic annotations whose first argument is the value's class (`Optional`, `Annotated`, …).
    pub typing_unwrap: HashSet<String>,
    /// Of those, the unions (`Union[X, Y]`): each argument is a class the value may be.
    pub typing_unions: HashSet<String>,
    /// Generic containers whose first argument is the class of their items (`list[X]`, `Iterable[X]`).
    pub typing_items: HashSet<String>,
    /// Generic mappings whose second argument is the class of their values (`dict[str, X]`).
    pub typing_mappings: HashSet<String>,
    /// Generic annotations whose first argument is a class the value is (`type[X]`, `Type[X]`).
    pub typing_classes: HashSet<String>,
    /// Base classes that make a class a structural interface (`typing.Protocol`).
    pub protocols: HashSet<String>,
    /// Annotations that say nothing of a value (`Any`, `object`): an `isinstance` test narrows a value
    /// annotated so as it narrows an unannotated one.
    pub typing_untyped: HashSet<String>,
    /// Decorators that declare one signature of a function (`typing.overload`): a call's literal
    /// arguments choose among them (`Literal[True]`).
    pub overloads: HashSet<String>,
    /// Container methods that return one of the items (`d.get(k)`, `d.pop(k)`).
    pub item_methods: HashSet<String>,
    /// Functions that return their first argument (`contextlib.closing(x)` is `x`).
    pub identity_functions: HashSet<String>,
    /// Calls whose result is iterated as instances of a class (`pathlib.Path.iterdir` yields `pathlib.Path`).
    pub iterates: HashMap<String, String>,
    /// What an `isinstance` test gives on a value whose class a parameter annotation (`content: bytes`)
    /// or a literal names: each such class with the classes its values are instances of. A test of
    /// classes all named here (keys or values) is decided for such a value.
    pub instances: HashMap<String, Vec<String>>,
    /// Classes no value of an `instances` class is an instance of (`os.PathLike`).
    pub instances_distinct: HashSet<String>,
    /// Decorators that mark a coroutine as an interface or stub.
    pub exempt_decorators: HashSet<String>,
    /// Decorators that memoize a function: chains through it are not reported.
    pub memoizers: HashSet<String>,
    /// Functions that name the current thread (`threading.get_ident`): a sync function's block under
    /// `if loop_thread != threading.get_ident():` runs off the event loop's thread, so no chain goes
    /// through it.
    pub thread_ids: HashSet<String>,
    /// Functions that give the current thread's event loop (`asyncio.get_running_loop`): on the loop,
    /// what they return is the running loop, so a sync function's branch for "no loop" or "a loop that
    /// is not running" does not run when a coroutine calls it.
    pub current_loop: HashSet<String>,
    /// Methods of an event loop true of the running loop (`is_running`).
    pub loop_true: HashSet<String>,
    /// Methods of an event loop false of the running loop (`is_closed`).
    pub loop_false: HashSet<String>,
    /// Functions that iterate the iterable passed to them before they return (`list`, `sum`, `next`):
    /// a generator function's body runs there.
    pub consumers: HashSet<String>,
    /// Functions that call the lambdas passed to them right away (`sorted(key=...)`).
    pub immediate_callers: HashSet<String>,
    /// Their last names (`sorted`, `map`), to pass over other calls without resolving them.
    pub immediate_caller_tails: HashSet<String>,
    /// The top-level modules the catalog describes (`requests`, `os`, `builtins`).
    library_roots: HashSet<String>,
    /// Thread locks whose `__enter__` is a hint when the block they guard does no waiting work.
    pub brief_locks: HashSet<String>,
    /// In-memory buffers (`io.BytesIO`): reading or writing one makes no I/O.
    pub memory_buffers: HashSet<String>,
    /// Callables that make no I/O when an argument is an in-memory buffer, with the class of what they
    /// then return (empty: nothing the analysis follows).
    memory_over: HashMap<String, String>,
    /// How the class of an opened file follows its mode (`[modes]`).
    binary_modes: Option<ModesData>,
    /// Arguments that tell a waiting call not to wait (`join(timeout=0)`, `acquire(blocking=False)`), as
    /// written without spaces: `name=value` for a keyword, `#N=value` for the N-th positional argument.
    pub nowait: HashMap<String, Vec<String>>,
    /// The arguments through which a call does its I/O (`load_verify_locations`: `cafile`, `capath`,
    /// or the first two positional ones, `#0`, `#1`): a call given none of them does none
    /// (`load_verify_locations(cadata=pem)` parses certificates held in memory).
    pub io_args: HashMap<String, Vec<String>>,
    /// Reads of a file, with the argument naming the file (`#0`, or `self` for the receiver) and then
    /// the forms of the mode argument (`mode`, `#1`): given a path built from the module's `__file__`
    /// (a file shipped with the package) and a reading mode, a small read (`checks::package_data`).
    pub package_reads: HashMap<String, Vec<String>>,
    /// Calls that put an object in non-blocking mode (`socket.socket` = `setblocking(False)`): after one
    /// on the same variable in the same function, that object's calls return at once.
    pub nonblocking: HashMap<String, Vec<String>>,
    /// Calls that wait only on an object whose constructor was given one of these arguments with a value
    /// above 0 (`queue.Queue.put` = `maxsize`, `#0`): on an object built without them they return at once.
    pub bounded_by: HashMap<String, Vec<String>>,
    /// Async drivers standing in for sync ones, by the sync `connect` call (or client `class`).
    pub counterparts: HashMap<String, Counterpart>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileData {
    rule: Option<String>,
    tier: Option<String>,
    instead: Option<String>,
    #[serde(default)]
    fixes: Option<Vec<FixKind>>,
    #[serde(default)]
    blocking: Vec<GroupData>,
    #[serde(default)]
    returns: HashMap<String, String>,
    #[serde(default)]
    attributes: HashMap<String, String>,
    #[serde(default)]
    aliases: HashMap<String, String>,
    offload: Option<OffloadData>,
    loop_apis: Option<NamesData>,
    frameworks: Option<FrameworksData>,
    cli: Option<CliData>,
    typing: Option<TypingData>,
    coroutines: Option<CoroutinesData>,
    chains: Option<ChainsData>,
    immediate: Option<ImmediateData>,
    memory: Option<MemoryData>,
    modes: Option<ModesData>,
    locks: Option<LocksData>,
    #[serde(default)]
    nowait: HashMap<String, Vec<String>>,
    #[serde(default)]
    io_args: HashMap<String, Vec<String>>,
    #[serde(default)]
    package_reads: HashMap<String, Vec<String>>,
    #[serde(default)]
    nonblocking: HashMap<String, Vec<String>>,
    #[serde(default)]
    bounded_by: HashMap<String, Vec<String>>,
    #[serde(default)]
    counterparts: Vec<Counterpart>,
}

/// `[modes]`: openers whose file object's class depends on the mode argument (binary or text).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModesData {
    /// Which positional argument is the mode (it may also be given as `mode=`), by opener.
    arguments: HashMap<String, usize>,
    /// The classes of a binary file opened to read, to write (or append, or create) and to update (`+`).
    read: String,
    write: String,
    update: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LocksData {
    brief: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemoryData {
    buffers: Vec<String>,
    #[serde(default)]
    over: HashMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImmediateData {
    callers: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChainsData {
    memoizers: Vec<String>,
    #[serde(default)]
    thread_ids: Vec<String>,
    #[serde(default)]
    current_loop: Vec<String>,
    #[serde(default)]
    loop_true: Vec<String>,
    #[serde(default)]
    loop_false: Vec<String>,
    #[serde(default)]
    consumers: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TypingData {
    unwrap: Vec<String>,
    #[serde(default)]
    unions: Vec<String>,
    #[serde(default)]
    items: Vec<String>,
    #[serde(default)]
    mappings: Vec<String>,
    #[serde(default)]
    classes: Vec<String>,
    #[serde(default)]
    protocols: Vec<String>,
    #[serde(default)]
    untyped: Vec<String>,
    #[serde(default)]
    overloads: Vec<String>,
    #[serde(default)]
    item_methods: Vec<String>,
    #[serde(default)]
    identity: Vec<String>,
    #[serde(default)]
    iterates: HashMap<String, String>,
    #[serde(default)]
    instances: HashMap<String, Vec<String>>,
    #[serde(default)]
    distinct: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CoroutinesData {
    exempt_decorators: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupData {
    names: Vec<String>,
    message: String,
    rule: Option<String>,
    tier: Option<String>,
    instead: Option<String>,
    fixes: Option<Vec<FixKind>>,
    #[serde(default, rename = "except")]
    except_names: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OffloadData {
    functions: Vec<String>,
    #[serde(default)]
    methods: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NamesData {
    names: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FrameworksData {
    app_classes: Vec<String>,
    route_methods: Vec<String>,
    dependency_markers: Vec<String>,
    route_constructors: Vec<String>,
    modules: Vec<String>,
    #[serde(default)]
    lifespan_keywords: Vec<String>,
    #[serde(default)]
    verbless_methods: Vec<String>,
    #[serde(default)]
    prefix_keywords: Vec<String>,
    #[serde(default)]
    include_methods: Vec<String>,
    #[serde(default)]
    mount_methods: Vec<String>,
    #[serde(default)]
    mount_constructors: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CliData {
    app_classes: Vec<String>,
    command_methods: Vec<String>,
    decorators: Vec<String>,
    runners: Vec<String>,
    modules: Vec<String>,
}

/// A user-configured blocking call (`extend-blocking-calls`).
#[derive(Clone, Debug, PartialEq)]
pub struct CustomCall {
    pub name: String,
    pub rule: Rule,
    pub message: Option<String>,
}

impl Catalog {
    /// The catalog bundled with loopsafe. Its files are checked by the test suite, so a failure here is
    /// a build defect, not a user error.
    pub fn bundled() -> &'static Catalog {
        static BUNDLED: OnceLock<Catalog> = OnceLock::new();
        BUNDLED.get_or_init(|| {
            Catalog::from_files(BUNDLED_FILES.iter().copied())
                .unwrap_or_else(|e| panic!("the bundled catalog is invalid: {e}"))
        })
    }

    pub fn from_files<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Catalog, String> {
        let mut cat = Catalog::default();
        for (file, text) in files {
            cat.add_file(text).map_err(|e| format!("{file}: {e}"))?;
        }
        cat.prefixes.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        let roots: HashSet<String> = cat
            .exact
            .keys()
            .chain(cat.prefixes.iter().map(|(p, _)| p))
            .chain(cat.returns.keys())
            .filter_map(|n| n.split('.').next())
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .collect();
        cat.library_roots = roots;
        Ok(cat)
    }

    /// Whether a qualified name lies in a library the catalog describes (so not in the user's project).
    /// A project that is itself one of those libraries is analysed with `--no-follow` semantics for its
    /// own names only where they collide; relative imports (`.x`) are never library names.
    pub fn is_library_name(&self, name: &str) -> bool {
        let root = name.split('.').next().unwrap_or(name);
        !root.is_empty() && self.library_roots.contains(root)
    }

    fn add_file(&mut self, text: &str) -> Result<(), String> {
        let data: FileData = toml::from_str(text).map_err(|e| e.to_string())?;
        let rule = data.rule.as_deref().map(parse_rule).transpose()?;
        let tier = data.tier.as_deref().map(parse_tier).transpose()?;
        for group in data.blocking {
            let rule = match group.rule.as_deref() {
                Some(r) => parse_rule(r)?,
                None => rule.ok_or("a [[blocking]] group needs a `rule` (in the group or the file)")?,
            };
            let tier = match group.tier.as_deref() {
                Some(t) => parse_tier(t)?,
                None => tier.unwrap_or(rule.info().default_tier),
            };
            let entry = Entry {
                rule,
                tier,
                message: group.message,
                instead: group.instead.or_else(|| data.instead.clone()).unwrap_or_default(),
                fixes: group.fixes.or_else(|| data.fixes.clone()).unwrap_or_default(),
                except: group.except_names,
            };
            self.add_entry(entry, group.names)?;
        }
        merge_unique(&mut self.returns, data.returns, "returns")?;
        merge_unique(&mut self.attributes, data.attributes, "attributes")?;
        merge_unique(&mut self.aliases, data.aliases, "aliases")?;
        if let Some(o) = data.offload {
            self.offload_functions.extend(o.functions);
            self.offload_methods.extend(o.methods);
        }
        if let Some(l) = data.loop_apis {
            self.loop_apis.extend(l.names);
        }
        if let Some(t) = data.typing {
            self.typing_unwrap.extend(t.unwrap);
            self.typing_unions.extend(t.unions);
            self.typing_items.extend(t.items);
            self.typing_mappings.extend(t.mappings);
            self.typing_classes.extend(t.classes);
            self.protocols.extend(t.protocols);
            self.typing_untyped.extend(t.untyped);
            self.overloads.extend(t.overloads);
            self.item_methods.extend(t.item_methods);
            self.identity_functions.extend(t.identity);
            self.iterates.extend(t.iterates);
            self.instances.extend(t.instances);
            self.instances_distinct.extend(t.distinct);
        }
        if let Some(i) = data.immediate {
            for c in &i.callers {
                self.immediate_caller_tails.insert(c.rsplit('.').next().unwrap_or(c).to_string());
            }
            self.immediate_callers.extend(i.callers);
        }
        if let Some(c) = data.chains {
            self.memoizers.extend(c.memoizers);
            self.thread_ids.extend(c.thread_ids);
            self.current_loop.extend(c.current_loop);
            self.loop_true.extend(c.loop_true);
            self.loop_false.extend(c.loop_false);
            self.consumers.extend(c.consumers);
        }
        if let Some(l) = data.locks {
            self.brief_locks.extend(l.brief);
        }
        for (name, forms) in data.nowait {
            self.nowait.entry(name).or_default().extend(forms);
        }
        for (name, args) in data.io_args {
            self.io_args.entry(name).or_default().extend(args);
        }
        for (name, args) in data.package_reads {
            self.package_reads.entry(name).or_default().extend(args);
        }
        for (class, forms) in data.nonblocking {
            self.nonblocking.entry(class).or_default().extend(forms);
        }
        for (name, args) in data.bounded_by {
            self.bounded_by.entry(name).or_default().extend(args);
        }
        for c in data.counterparts {
            let key = if c.connect.is_empty() { c.class.clone() } else { c.connect.clone() };
            let complete = if c.connect.is_empty() {
                !c.class.is_empty() && !c.constructors.is_empty() && !c.package.is_empty()
            } else {
                !c.to.is_empty() && !c.package.is_empty() && !c.close.is_empty()
            };
            if c.refused.is_none() && !complete {
                return Err(format!(
                    "the counterpart of `{key}` needs `to`, `package` and `close` (a `connect`) or `constructors` and `package` (a `class`)"
                ));
            }
            if self.counterparts.insert(key, c).is_some() {
                return Err("a `connect` or `class` has two [[counterparts]]".into());
            }
        }
        if let Some(m) = data.modes {
            if self.binary_modes.is_some() {
                return Err("[modes] is given twice".into());
            }
            self.binary_modes = Some(m);
        }
        if let Some(m) = data.memory {
            self.memory_buffers.extend(m.buffers);
            merge_unique(&mut self.memory_over, m.over, "memory.over")?;
        }
        if let Some(c) = data.coroutines {
            self.exempt_decorators.extend(c.exempt_decorators);
        }
        if let Some(f) = data.frameworks {
            let fw = &mut self.frameworks;
            fw.app_classes.extend(f.app_classes);
            fw.route_methods.extend(f.route_methods);
            fw.dependency_markers.extend(f.dependency_markers);
            fw.route_constructors.extend(f.route_constructors);
            fw.modules.extend(f.modules);
            fw.lifespan_keywords.extend(f.lifespan_keywords);
            fw.verbless_methods.extend(f.verbless_methods);
            fw.prefix_keywords.extend(f.prefix_keywords);
            fw.include_methods.extend(f.include_methods);
            fw.mount_methods.extend(f.mount_methods);
            fw.mount_constructors.extend(f.mount_constructors);
        }
        if let Some(c) = data.cli {
            let cli = &mut self.cli;
            cli.app_classes.extend(c.app_classes);
            cli.command_methods.extend(c.command_methods);
            cli.decorators.extend(c.decorators);
            cli.runner_tails.extend(c.runners.iter().map(|r| r.rsplit('.').next().unwrap_or(r).to_string()));
            cli.runners.extend(c.runners);
            cli.modules.extend(c.modules);
        }
        Ok(())
    }

    fn add_entry(&mut self, entry: Entry, names: Vec<String>) -> Result<(), String> {
        let id = self.entries.len();
        self.entries.push(entry);
        for name in names {
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(format!("`{name}` is not a qualified name"));
            }
            if let Some(prefix) = name.strip_suffix('*') {
                if prefix.contains('*') {
                    return Err(format!("`{name}`: `*` may only end a name"));
                }
                self.prefixes.push((prefix.to_string(), id));
            } else if self.exact.insert(name.clone(), id).is_some() {
                return Err(format!("`{name}` is listed twice"));
            }
        }
        Ok(())
    }

    /// This catalog plus the user's `extend-blocking-calls`.
    pub fn extended(&self, custom: &[CustomCall]) -> Catalog {
        if custom.is_empty() {
            return self.clone();
        }
        let mut cat = self.clone();
        for c in custom {
            let entry = Entry {
                rule: c.rule,
                tier: c.rule.info().default_tier,
                message: c.message.clone().unwrap_or_else(|| "`{callee}` is configured as blocking".into()),
                instead: String::new(),
                fixes: vec![FixKind::Offload],
                except: Vec::new(),
            };
            let id = cat.entries.len();
            cat.entries.push(entry);
            match c.name.strip_suffix('*') {
                Some(prefix) => cat.prefixes.push((prefix.to_string(), id)),
                None => {
                    cat.exact.insert(c.name.clone(), id);
                }
            }
        }
        cat.prefixes.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        cat
    }

    /// The catalog entry for a canonical qualified name, if calling it blocks.
    pub fn blocking(&self, name: &str) -> Option<&Entry> {
        if let Some(&id) = self.exact.get(name) {
            return Some(&self.entries[id]);
        }
        // A wildcard covers the public API below its prefix, not private attributes reached through
        // subclasses (`BaseClient.*` must not match `BaseClient._service_model.operation_model`).
        self.prefixes
            .iter()
            .filter(|(prefix, _)| {
                name.strip_prefix(prefix.as_str()).is_some_and(|rest| !rest.starts_with('_') && !rest.contains("._"))
            })
            .map(|&(_, id)| &self.entries[id])
            .find(|e| !e.except.iter().any(|x| x == name))
    }

    /// The class of what calling `name` returns.
    pub fn returns(&self, name: &str) -> Option<&str> {
        self.returns.get(name).map(String::as_str)
    }

    /// The class of `instance.attr` (or `instance[...]` when `attr` is `[]`) for an instance of `class`:
    /// an exact `Class.attr` entry, else — unless `Class.attr` is a known method — a `Class.*` entry.
    pub fn attribute(&self, class: &str, attr: &str) -> Option<&str> {
        let mut key = String::with_capacity(class.len() + attr.len() + 2);
        key.push_str(class);
        if attr != "[]" {
            key.push('.');
        }
        key.push_str(attr);
        if let Some(t) = self.attributes.get(&key) {
            return Some(t);
        }
        if attr == "[]" || self.knows(&key) {
            return None;
        }
        key.truncate(class.len());
        key.push_str(".*");
        self.attributes.get(&key).map(String::as_str)
    }

    /// Rewrites a qualified name to its canonical spelling (longest alias prefix, on dot boundaries).
    pub fn canonical(&self, name: &str) -> String {
        if self.aliases.is_empty() {
            return name.to_string();
        }
        let mut end = name.len();
        loop {
            let prefix = &name[..end];
            if let Some(canon) = self.aliases.get(prefix) {
                return format!("{canon}{}", &name[end..]);
            }
            match prefix.rfind('.') {
                Some(dot) => end = dot,
                None => return name.to_string(),
            }
        }
    }

    /// The top-level modules the catalog aliases onto the whole of `module` (`httpx2` for `httpx`): other
    /// distributions of the same API, in name order.
    pub fn alternatives_of(&self, module: &str) -> Vec<&str> {
        let mut alts: Vec<&str> =
            self.aliases.iter().filter(|(k, v)| *v == module && !k.contains('.')).map(|(k, _)| k.as_str()).collect();
        alts.sort_unstable();
        alts
    }

    /// Whether the catalog says anything about `name` (for `from module import *`).
    pub fn knows(&self, name: &str) -> bool {
        self.blocking(name).is_some()
            || self.returns.contains_key(name)
            || self.aliases.contains_key(name)
            || self.offload_functions.contains(name)
            || self.loop_apis.contains(name)
    }

    /// For a callable that makes no I/O over an in-memory buffer (`zipfile.ZipFile`, `json.dump`): the
    /// class of its result then (empty when the analysis follows none).
    /// Which positional argument of the opener `name` is its mode, when the class of the file object it
    /// returns follows the mode (`open(p, "rb")`).
    pub fn mode_argument(&self, name: &str) -> Option<usize> {
        self.binary_modes.as_ref()?.arguments.get(name).copied()
    }

    /// The class of the file object an opener returns for `mode`, when the mode is binary (`None` for a
    /// text mode: the opener's `[returns]` class stands).
    pub fn binary_class(&self, mode: &str) -> Option<&str> {
        let m = self.binary_modes.as_ref()?;
        if !mode.contains('b') {
            return None;
        }
        Some(if mode.contains('+') {
            &m.update
        } else if mode.contains(['w', 'a', 'x']) {
            &m.write
        } else {
            &m.read
        })
    }

    pub fn over_memory(&self, name: &str) -> Option<&str> {
        self.memory_over.get(name).map(String::as_str)
    }

    pub fn is_offloader(&self, name: &str) -> bool {
        self.offload_functions.contains(name)
    }

    /// Every blocking name pattern, for documentation and tests.
    pub fn blocking_names(&self) -> impl Iterator<Item = (String, &Entry)> {
        self.exact
            .iter()
            .map(|(n, &id)| (n.clone(), &self.entries[id]))
            .chain(self.prefixes.iter().map(|(p, id)| (format!("{p}*"), &self.entries[*id])))
    }
}

fn parse_rule(s: &str) -> Result<Rule, String> {
    Rule::from_name_or_code(s).ok_or_else(|| format!("unknown rule `{s}`"))
}

fn parse_tier(s: &str) -> Result<Tier, String> {
    Tier::parse(s).ok_or_else(|| format!("unknown tier `{s}` (expected critical, warning, info or hint)"))
}

fn merge_unique(into: &mut HashMap<String, String>, from: HashMap<String, String>, table: &str) -> Result<(), String> {
    for (k, v) in from {
        if let Some(old) = into.insert(k.clone(), v.clone())
            && old != v
        {
            return Err(format!("[{table}] `{k}` is given two values: `{old}` and `{v}`"));
        }
    }
    Ok(())
}
