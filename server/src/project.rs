//! The cross-module analysis: links per-file summaries into a call graph over the project, finds which
//! sync functions block (a fixpoint over the graph), and reports each coroutine's call to one of them
//! with the whole chain down to the blocking call.
//!
//! Pure: summaries and file paths in, findings out. Module names are derived from the paths alone:
//! packages are directories with an `__init__.py` among the given files, and namespace packages (PEP
//! 420) every other directory named like an identifier (see `DirNames`).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::analysis::summary::{
    BlockingSite, CallSite, Export, FileSummary, FunctionSummary, Loc, OverloadParam, Target,
};
use crate::analysis::{FileAnalysis, Finding, noqa_matches};
use crate::catalog::{Catalog, FixKind, display_name};
use crate::rules::{Rule, Tier};
use crate::settings::Settings;

/// How deep name resolution follows re-exports and base classes. A call whose resolution goes deeper
/// is left unresolved, and said so (`Project::cuts`).
pub const MAX_RESOLVE_DEPTH: u32 = 24;

/// The depth of a resolution in progress, and whether `MAX_RESOLVE_DEPTH` cut it short.
#[derive(Clone, Copy)]
struct Depth<'a> {
    n: u32,
    cut: &'a std::cell::Cell<bool>,
    /// The arguments of the call that made the object a call's target is a method of
    /// (`CallSite::made_by`): they choose the `@overload` whose result it is.
    made_by: Option<&'a [(Option<String>, Option<String>)]>,
}

impl<'a> Depth<'a> {
    fn new(cut: &'a std::cell::Cell<bool>) -> Self {
        Depth { n: 0, cut, made_by: None }
    }

    fn next(self) -> Self {
        Depth { n: self.n + 1, ..self }
    }

    /// Whether the bound is passed (then the resolution is marked as cut).
    fn over(self) -> bool {
        let over = self.n > MAX_RESOLVE_DEPTH;
        if over {
            self.cut.set(true);
        }
        over
    }
}

pub struct ProjectFile {
    /// The file's path (used to derive its module names).
    pub path: PathBuf,
    /// The path as shown to the user.
    pub display: String,
    /// The file's analysis; the project uses its summary.
    pub analysis: Arc<FileAnalysis>,
}

impl ProjectFile {
    pub fn summary(&self) -> &FileSummary {
        &self.analysis.summary
    }
}

/// One hop of a chain, placed in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainHop {
    pub file: usize,
    pub loc: Loc,
    pub name: String,
    /// The hop's position in the whole chain (0 for the coroutine's call).
    pub index: usize,
    /// For the one hop that stands for the calls a long chain leaves out (see `MAX_HOPS`): how many;
    /// it is placed at the first of them. 0 for a real hop.
    pub elided: usize,
}

/// A chain longer than this many hops is reported by its first `HEAD_HOPS` hops, one hop saying how
/// many calls were left out, and its last `TAIL_STEPS` hops: what a finding carries stays bounded
/// however deep the helpers go (a chain is computed once per function, as parent pointers).
pub const MAX_HOPS: usize = 16;
const HEAD_HOPS: usize = 8;
const TAIL_STEPS: u32 = 7;

/// Parameter values known at a function (name, literal as `summary::literal` writes it), sorted.
type Env = Vec<(String, String)>;

/// Whether a need of `needs` is decided the other way by the values `env` knows.
fn contradicted(needs: &[crate::analysis::summary::Need], env: &[(String, String)]) -> bool {
    !env.is_empty() && needs.iter().any(|n| env.iter().any(|(p, v)| p == &n.param && n.eval(v) == Some(false)))
}

/// What `Project::runnable_chain` found.
enum Runnable {
    /// The shortest chain can run (or the search gave up).
    Shortest,
    /// It cannot, but this one can.
    Other(Chain),
    /// No chain can run with the arguments passed.
    None,
}

/// A function's shortest chain, bounded (see `Project::chain`).
struct Chain {
    /// The first `head` steps, then (when `elided > 0`) the last `TAIL_STEPS`.
    steps: Vec<(FnId, Step)>,
    head: usize,
    /// How many steps are left out between the two.
    elided: usize,
    /// The first step left out.
    first_elided: (FnId, Step),
    /// The whole chain's length in steps.
    len: usize,
    memoized: bool,
    /// Through one-time work (see `Best::once`).
    once: bool,
}

/// A coroutine's call to a sync project function that blocks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainFinding {
    pub file: usize,
    pub start: Loc,
    pub end: Loc,
    pub rule: Rule,
    pub tier: Tier,
    pub message: String,
    /// The blocking API at the end of the chain.
    pub callee: String,
    pub instead: Option<String>,
    pub fixes: Vec<FixKind>,
    /// The coroutine making the call, and its route when visible.
    pub function: String,
    pub route: Option<String>,
    /// From the coroutine's call to the blocking call.
    pub hops: Vec<ChainHop>,
    /// One-time work that other coroutines reach too (a lazily created client): it is reported once,
    /// at the first call site, and these are the others (each named after its coroutine). At most
    /// `MAX_ALSO`; the message gives the whole count.
    pub also: Vec<ChainHop>,
}

/// At most this many other call sites of one-time work are listed on its finding.
pub const MAX_ALSO: usize = 100;

type FnId = usize;
/// A class: its file and its index in the file's summary.
type ClassId = (usize, usize);
/// A class's MRO (see `Project::mro`).
type Mro = Arc<Vec<ClassId>>;
/// Each project class's project subclasses (see `Project::subclasses`).
type Subclasses = Arc<HashMap<ClassId, Vec<ClassId>>>;

/// A computed MRO, whether `MAX_RESOLVE_DEPTH` cut it, and the files whose names computing it read.
type CachedMro = (Mro, bool, Arc<[u32]>);

thread_local! {
    /// While `recording` runs: the files whose module-level names (exports, `__all__`, what they bind)
    /// a resolution read.
    static READS: std::cell::RefCell<Option<Vec<u32>>> = const { std::cell::RefCell::new(None) };
}

/// Notes that a resolution read file `m`'s module-level names.
fn read(m: usize) {
    READS.with(|r| {
        if let Some(v) = r.borrow_mut().as_mut() {
            v.push(m as u32);
        }
    });
}

/// Runs `f`, giving the files whose module-level names it read (sorted, once each); they count as read
/// by a recording around this one too.
fn recording<T>(f: impl FnOnce() -> T) -> (T, Vec<u32>) {
    let outer = READS.with(|r| r.borrow_mut().replace(Vec::new()));
    let out = f();
    let mut reads = READS.with(|r| std::mem::replace(&mut *r.borrow_mut(), outer)).unwrap_or_default();
    reads.sort_unstable();
    reads.dedup();
    READS.with(|r| {
        if let Some(v) = r.borrow_mut().as_mut() {
            v.extend_from_slice(&reads);
        }
    });
    (out, reads)
}

/// The project's call graph resolved, and each function's shortest chain (see `Project::link`).
pub struct Links {
    edges: Vec<Vec<Option<FnId>>>,
    /// For each function, the calls (indexes in its `calls`) whose resolution `MAX_RESOLVE_DEPTH` cut.
    cut: Vec<Vec<usize>>,
    strict: Vec<Option<Best>>,
    loose: Vec<Option<Best>>,
    /// For each function, whether it is a coroutine run only as a command-line command (see
    /// `Project::cli_only`).
    cli: Vec<bool>,
    /// For each function, its calls of catalogued blocking APIs reached through another module's types
    /// (`CACHE.read_text()` with `CACHE = DATA / "cache"` imported): the call's index and the site. A
    /// function's blocking sites are its summary's, then these (`Project::site`).
    lib: Vec<Vec<(usize, BlockingSite)>>,
    /// For each function, the files whose module-level names resolving its calls read: when a file's
    /// exports change, only these functions are resolved again (`Project::replace_same_names`).
    reads: Vec<Vec<u32>>,
    /// One-time work and the coroutine call sites that share it (see `Project::one_time_work`).
    once: OnceWork,
    /// For each method of a protocol, the implementations a call of it may run (`Project::dispatch`).
    dispatch: HashMap<FnId, Vec<FnId>>,
    /// The routes whose label the project's routers change (`Project::route_labels`): the prefixes of
    /// the routers that include theirs, or of their own router when it is imported.
    routes: HashMap<FnId, String>,
}

/// Where a chain does one-time work (the first such place on it): a call behind a lazy-initialisation
/// guard, or a blocking call behind one (`self._client = boto3.client(...)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum OnceKey {
    Call(FnId, usize),
    Blocking(FnId, usize),
}

/// For each function, the one-time work its chain does, along its strict and its loose chain; and for
/// one-time work that several coroutine call sites reach, those sites (caller, call index), first by
/// file path and position. Only the first is reported, with the others as related information.
#[derive(Default)]
struct OnceWork {
    strict: Vec<Option<OnceKey>>,
    loose: Vec<Option<OnceKey>>,
    shared: HashMap<OnceKey, Vec<(FnId, usize)>>,
}

/// A function's shortest chain, as a parent pointer: its length in steps, its first step, and the
/// function on it from which `TAIL_STEPS` steps remain (itself when the chain is that short).
#[derive(Clone, Copy, Debug)]
struct Best {
    len: u32,
    step: Step,
    tail: FnId,
    /// The chain goes through a call behind a lazy-initialisation guard: one-time work.
    once: bool,
}

/// How a function reaches its blocking call: directly (the blocking site's index), or through a call
/// (the call site's index and the callee).
#[derive(Clone, Copy, Debug)]
enum Step {
    Blocking(usize),
    Call(usize, FnId),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Resolved {
    Function(FnId),
    Class(usize, usize),
    /// An instance of a project class (`client = Client()` exported, a typed attribute, what a function
    /// is annotated to return).
    Object(usize, usize),
    /// An instance of a catalogued class (`DATA = Path(...)` exported): its canonical name.
    Library(String),
    /// An attribute of one (`pathlib.Path.read_text`), by its qualified name.
    LibraryName(String),
}

/// A router or app of the project: its file and its name there (`Routing::routers`).
type RouterKey = (usize, String);

pub struct Project {
    files: Vec<ProjectFile>,
    /// Module name → files that can be imported under it.
    modules: HashMap<String, Vec<usize>>,
    /// The first component of every module name, to reject other libraries' names quickly.
    roots: HashSet<String>,
    /// For relative imports: each file's package.
    packages: Vec<String>,
    functions: Vec<(usize, usize)>,
    /// Each file's position, by path.
    file_by_path: HashMap<PathBuf, usize>,
    /// The ids of each file's functions (they are numbered file by file).
    file_functions: Vec<std::ops::Range<FnId>>,
    function_index: HashMap<(usize, String), FnId>,
    class_index: HashMap<(usize, String), usize>,
    export_index: HashMap<(usize, String), usize>,
    /// The project files each file star-imports (`from m import *`), resolved.
    stars: Vec<Vec<usize>>,
    /// Each class's MRO, once computed (see `Project::mro`).
    /// With whether `MAX_RESOLVE_DEPTH` cut it (set again at every use).
    /// And the files whose module-level names computing it read.
    mros: std::sync::Mutex<HashMap<ClassId, CachedMro>>,
    /// Each project class's project subclasses (the classes whose MRO has it after themselves), built
    /// when an awaited method call first needs them (`awaited_override`); dropped with `mros`.
    subclasses: std::sync::Mutex<Option<Subclasses>>,
    /// The catalog, when not the bundled one (`extend-blocking-calls`): what catalogued types'
    /// attributes are and which of their methods block (see `Project::library_call`).
    catalog: Option<Arc<Catalog>>,
}

/// One step of resolving a name (see `Project::resolve`).
enum Found {
    Resolved(Resolved),
    /// Another name for it: resolve this target, in this file.
    Alias(usize, Target),
}

impl Project {
    /// `root`, when known, is the project root (pyproject.toml, setup.cfg or .git): files are also
    /// importable by their path relative to it and to `root/src`.
    pub fn new(files: Vec<ProjectFile>, root: Option<&Path>) -> Project {
        let dirs_with_init: HashSet<PathBuf> = files
            .iter()
            .filter(|f| f.path.file_name().is_some_and(|n| n == "__init__.py"))
            .filter_map(|f| f.path.parent().map(Path::to_path_buf))
            .collect();
        let paths: Vec<&Path> = files.iter().map(|f| f.path.as_path()).collect();
        let mut dir_names = DirNames::new(&dirs_with_init, root, top_of(&paths));
        let mut modules: HashMap<String, Vec<usize>> = HashMap::new();
        let mut packages = Vec::with_capacity(files.len());
        for (i, f) in files.iter().enumerate() {
            let (names, package) = dir_names.file_names(&f.path, root);
            packages.push(package);
            for n in names {
                let list = modules.entry(n).or_default();
                if !list.contains(&i) {
                    list.push(i);
                }
            }
        }
        let roots = modules.keys().map(|m| m.split('.').next().unwrap_or(m).to_string()).collect();
        let mut functions = Vec::new();
        let mut file_functions = Vec::with_capacity(files.len());
        let mut function_index = HashMap::new();
        let mut class_index = HashMap::new();
        let mut export_index = HashMap::new();
        for (i, f) in files.iter().enumerate() {
            let first = functions.len();
            for (j, func) in f.summary().functions.iter().enumerate() {
                function_index.entry((i, func.qualname.clone())).or_insert(functions.len());
                functions.push((i, j));
            }
            file_functions.push(first..functions.len());
            for (j, c) in f.summary().classes.iter().enumerate() {
                class_index.entry((i, c.qualname.clone())).or_insert(j);
            }
            for (j, (name, _)) in f.summary().exports.iter().enumerate() {
                export_index.insert((i, name.clone()), j);
            }
        }
        let file_by_path = files.iter().enumerate().map(|(i, f)| (f.path.clone(), i)).collect();
        let mut project = Project {
            files,
            modules,
            roots,
            packages,
            file_by_path,
            functions,
            file_functions,
            function_index,
            class_index,
            export_index,
            stars: Vec::new(),
            mros: std::sync::Mutex::new(HashMap::new()),
            subclasses: std::sync::Mutex::new(None),
            catalog: None,
        };
        project.stars = (0..project.files.len())
            .map(|i| {
                let mut to: Vec<usize> = Vec::new();
                for m in &project.files[i].summary().stars {
                    let Some(abs) = project.absolute(i, m) else { continue };
                    if let Some(candidates) = project.modules.get(&abs) {
                        let c = project.closest(i, candidates);
                        if c != i && !to.contains(&c) {
                            to.push(c);
                        }
                    }
                }
                to
            })
            .collect();
        project
    }

    pub fn files(&self) -> &[ProjectFile] {
        &self.files
    }

    /// Uses `catalog` (the bundled one extended by the settings) to type values across modules.
    pub fn with_catalog(mut self, catalog: Arc<Catalog>) -> Project {
        self.catalog = Some(catalog);
        self
    }

    fn catalog(&self) -> &Catalog {
        self.catalog.as_deref().unwrap_or_else(|| Catalog::bundled())
    }

    fn function(&self, id: FnId) -> &FunctionSummary {
        let (file, idx) = self.functions[id];
        &self.files[file].summary().functions[idx]
    }

    /// What a call target in `file` refers to. Re-exports (`from .a import f` in a package, `g = f`,
    /// star imports) are followed in a loop, not by recursion, so a re-export chain as deep as the
    /// project's package tree is followed to its end; a cycle ends it (no more hops than exports).
    fn resolve(&self, file: usize, target: &Target, depth: Depth<'_>) -> Option<Resolved> {
        if depth.over() {
            return None;
        }
        let (mut file, mut target) = (file, target.clone());
        // Aliases that lead back to one already followed (`from .a import x` in `a` itself, which a
        // namespace package's many names make common) end the walk at once, not after every export.
        let mut seen: HashSet<(usize, Target)> = HashSet::new();
        for step in 0..=self.export_index.len() + self.files.len() {
            if step >= 4 && !seen.insert((file, target.clone())) {
                return None;
            }
            let found = match &target {
                Target::Local(name) => self.resolve_in_module(file, name, depth.next())?,
                Target::Name(q) => {
                    let abs = self.absolute(file, q)?;
                    let first = abs.split('.').next().unwrap_or(&abs);
                    if !self.roots.contains(first) {
                        return None;
                    }
                    // The longest prefix that is a module; the rest is a path inside it.
                    let mut end = abs.len();
                    loop {
                        let prefix = &abs[..end];
                        if let Some(candidates) = self.modules.get(prefix) {
                            if end == abs.len() {
                                return None; // a module is not callable
                            }
                            let m = self.closest(file, candidates);
                            break self.resolve_in_module(m, &abs[end + 1..], depth.next())?;
                        }
                        end = prefix.rfind('.')?;
                    }
                }
            };
            match found {
                Found::Resolved(r) => return Some(r),
                Found::Alias(f, t) => (file, target) = (f, t),
            }
        }
        None
    }

    /// `resolve`, when a step gives no further alias.
    fn resolved(&self, found: Found, depth: Depth<'_>) -> Option<Resolved> {
        match found {
            Found::Resolved(r) => Some(r),
            Found::Alias(f, t) => self.resolve(f, &t, depth.next()),
        }
    }

    /// Whether module `m` binds `name` itself (a function, a class, or another module-level name).
    fn binds(&self, m: usize, name: &str) -> bool {
        read(m);
        let key = (m, name.to_string());
        self.function_index.contains_key(&key)
            || self.class_index.contains_key(&key)
            || self.export_index.contains_key(&key)
    }

    /// The module that a star import in `m` takes `name` from, breadth first through star imports of
    /// star-imported modules (each module once, so cycles end). A star import binds the names in the
    /// module's literal `__all__`, or else those without a leading underscore.
    fn star_source(&self, m: usize, name: &str) -> Option<usize> {
        let mut seen: HashSet<usize> = HashSet::from([m]);
        let mut queue: VecDeque<usize> = VecDeque::from([m]);
        while let Some(at) = queue.pop_front() {
            for &next in &self.stars[at] {
                read(next);
                let exported = match &self.files[next].summary().all {
                    Some(all) => all.iter().any(|n| n == name),
                    None => !name.starts_with('_'),
                };
                if !exported || !seen.insert(next) {
                    continue;
                }
                if self.binds(next, name) {
                    return Some(next);
                }
                queue.push_back(next);
            }
        }
        None
    }

    /// `rest` is a dotted path inside module `m`: a function, a class, `Class.method`, or an exported
    /// name followed by attributes (then the name it stands for is returned, for `resolve` to follow).
    fn resolve_in_module(&self, m: usize, rest: &str, depth: Depth<'_>) -> Option<Found> {
        if depth.over() {
            return None;
        }
        read(m);
        if let Some(&f) = self.function_index.get(&(m, rest.to_string())) {
            return Some(Found::Resolved(Resolved::Function(f)));
        }
        if let Some(&c) = self.class_index.get(&(m, rest.to_string())) {
            return Some(Found::Resolved(Resolved::Class(m, c)));
        }
        let (head, tail) = match rest.rsplit_once('.') {
            Some((h, t)) => (h, Some(t)),
            None => (rest, None),
        };
        // `Class.method` inherited from a base, or `Outer.Inner.method`; an attribute of something typed
        // (`CACHE.read_text`, `get_client.messages` for `get_client().messages`, `Store.root`).
        if let Some(attr) = tail
            && let Some(found) = self.resolve_in_module(m, head, depth.next())
            && let Some(r) = self.resolved(found, depth.next())
            && let Some(a) = self.attribute(r, attr, depth.next())
        {
            return Some(Found::Resolved(a));
        }
        // An exported name: `from .services import fetch`, `client = Client()`.
        let (name, more) = match rest.split_once('.') {
            Some((n, more)) => (n, Some(more)),
            None => (rest, None),
        };
        let Some(&e) = self.export_index.get(&(m, name.to_string())) else {
            // Not bound here: maybe by a star import.
            if self.binds(m, name) || self.stars[m].is_empty() {
                return None;
            }
            return self.star_source(m, name).map(|from| Found::Alias(from, Target::Local(rest.to_string())));
        };
        match &self.files[m].summary().exports[e].1 {
            Export::Alias(t) => {
                let t = match more {
                    None => t.clone(),
                    Some(more) => match t {
                        Target::Local(n) => Target::Local(format!("{n}.{more}")),
                        Target::Name(n) => Target::Name(format!("{n}.{more}")),
                    },
                };
                Some(Found::Alias(m, t))
            }
            e @ (Export::Instance(_) | Export::Library(_)) => {
                let mut r = self.instance(m, e, depth.next())?;
                for attr in more.into_iter().flat_map(|more| more.split('.')) {
                    r = self.attribute(r, attr, depth.next())?;
                }
                Some(Found::Resolved(r))
            }
        }
    }

    /// The value an `Export::Instance` or `Export::Library` of `file` stands for.
    fn instance(&self, file: usize, e: &Export, depth: Depth<'_>) -> Option<Resolved> {
        match e {
            Export::Instance(class) => match self.resolve(file, class, depth.next())? {
                Resolved::Class(cf, c) => Some(Resolved::Object(cf, c)),
                // What a function returned (`return make_client()`, `self.c = make_client()` with
                // `make_client` imported): what it is annotated, or inferred, to return.
                Resolved::Function(f) => self.result_of(f, depth.next()),
                _ => None,
            },
            Export::Library(class) => Some(Resolved::Library(class.clone())),
            Export::Alias(_) => None,
        }
    }

    /// `value.attr`: a method or a typed attribute of a project class (through its bases), an
    /// attribute of what a function or property returns (`get_client().messages` is written
    /// `get_client.messages` in targets), an attribute of a catalogued instance.
    fn attribute(&self, value: Resolved, attr: &str, depth: Depth<'_>) -> Option<Resolved> {
        if depth.over() {
            return None;
        }
        match value {
            // A property stays the function it is (reading it runs it); what follows it is an attribute of
            // what it returns, as for any function.
            Resolved::Class(cf, c) | Resolved::Object(cf, c) => self
                .member(cf, c, attr, depth.next())
                .or_else(|| self.class_attr(cf, c, attr, depth.next()))
                .or_else(|| self.library_member(cf, c, attr, depth.next())),
            Resolved::Function(f) => {
                let r = self.result_of(f, depth.next())?;
                self.attribute(r, attr, depth.next())
            }
            Resolved::Library(t) => Some(match self.catalog().attribute(&t, attr) {
                Some(class) => Resolved::Library(class.to_string()),
                None => Resolved::LibraryName(format!("{t}.{attr}")),
            }),
            Resolved::LibraryName(q) => Some(Resolved::LibraryName(format!("{q}.{attr}"))),
        }
    }

    /// What calling (or awaiting) a function gives, from its return annotation: an instance, or a class
    /// (`-> type[X]`: a method called on it runs `X`'s, bound or not).
    fn result_of(&self, f: FnId, depth: Depth<'_>) -> Option<Resolved> {
        let f = self.overload_for(f, depth.made_by);
        let (file, _) = self.functions[f];
        match self.function(f).returns.as_ref()? {
            Export::Alias(class) => match self.resolve(file, class, depth.next())? {
                r @ Resolved::Class(..) => Some(r),
                _ => None,
            },
            e => self.instance(file, e, depth.next()),
        }
    }

    /// Among the `@overload`s of `f` (the first one, which names resolve to), the first whose parameters
    /// accept `args`, a call's arguments with their literals (`get_client(sync_client=True)` against
    /// `sync_client: Literal[True]`); `f` when there are none, no arguments, or none accepts them.
    fn overload_for(&self, f: FnId, args: Option<&[(Option<String>, Option<String>)]>) -> FnId {
        let Some(args) = args else { return f };
        let first = self.function(f);
        if first.overload.is_none() {
            return f;
        }
        let (file, _) = self.functions[f];
        self.file_functions[file]
            .clone()
            .find(|&g| {
                let s = self.function(g);
                s.qualname == first.qualname && s.overload.as_deref().is_some_and(|p| accepts(p, args))
            })
            .unwrap_or(f)
    }

    /// A typed attribute of a project class (class-level or `self.x = ...`), in the order of its MRO.
    fn class_attr(&self, file: usize, class: usize, attr: &str, depth: Depth<'_>) -> Option<Resolved> {
        if depth.over() {
            return None;
        }
        for &(cf, c) in self.mro(file, class, depth.next()).iter() {
            let c = &self.files[cf].summary().classes[c];
            if let Some((_, e)) = c.attrs.iter().find(|(n, _)| n == attr) {
                return self.instance(cf, e, depth.next());
            }
        }
        None
    }

    /// The blocking site a call makes when the project's types lead it to a catalogued blocking API
    /// (`CACHE.read_text()` with `CACHE` a `pathlib.Path` exported by another module).
    fn library_site(&self, resolved: &Resolved, call: &CallSite) -> Option<BlockingSite> {
        let q = match resolved {
            Resolved::Library(t) => format!("{t}.__call__"),
            Resolved::LibraryName(q) => q.clone(),
            _ => return None,
        };
        let q = self.catalog().canonical(&q);
        let entry = self.catalog().blocking(&q)?;
        let mut message = entry.message_for(&q);
        if let Some(g) = &call.once {
            // As `checks::once_note` words it for a call typed within its file.
            message
                .push_str(&format!("; it runs once, behind `{g}` (set on first use), so only the first call blocks"));
        }
        Some(BlockingSite {
            start: call.start,
            end: call.end,
            callee: display_name(&q).to_string(),
            rule: entry.rule,
            tier: if call.once.is_some() { Tier::Hint } else { entry.tier },
            message,
            instead: (!entry.instead.is_empty()).then(|| entry.instead.clone()),
            fixes: entry.fixes.clone(),
            once: call.once.is_some(),
            gate: call.gate.clone(),
            needs: call.needs.clone(),
        })
    }

    /// A function's blocking site `i`: its summary's, then those its calls reach through types (`lib`).
    fn site<'s>(&'s self, links: &'s Links, id: FnId, i: usize) -> &'s BlockingSite {
        self.site_in(&links.lib, id, i)
    }

    /// `site`, with the typed blocking sites given alone (while `Links` is being built).
    fn site_in<'s>(&'s self, lib: &'s [Vec<(usize, BlockingSite)>], id: FnId, i: usize) -> &'s BlockingSite {
        let own = &self.function(id).blocking;
        if i < own.len() { &own[i] } else { &lib[id][i - own.len()].1 }
    }

    /// A method of a class, looked up in the order of its MRO (C3, over its project base classes).
    fn member(&self, file: usize, class: usize, attr: &str, depth: Depth<'_>) -> Option<Resolved> {
        if depth.over() {
            return None;
        }
        for &(cf, c) in self.mro(file, class, depth.next()).iter() {
            let qualname = &self.files[cf].summary().classes[c].qualname;
            if let Some(&f) = self.function_index.get(&(cf, format!("{qualname}.{attr}"))) {
                return Some(Resolved::Function(f));
            }
        }
        None
    }

    /// What a project class inherits from a catalogued library class in its MRO (`class Api(httpx.Client)`:
    /// `Api().get` is `httpx.Client.get`), for a member no project class of the MRO defines.
    fn library_member(&self, file: usize, class: usize, attr: &str, depth: Depth<'_>) -> Option<Resolved> {
        if depth.over() {
            return None;
        }
        let t = self
            .mro(file, class, depth.next())
            .iter()
            .find_map(|&(cf, c)| self.files[cf].summary().classes[c].library.first().cloned())?;
        self.attribute(Resolved::Library(t), attr, depth.next())
    }

    /// What an awaited method call on an instance (`await self.read()`, `CallSite::awaited_method`)
    /// runs when the receiver's MRO gives a sync `callee`: the instance may be one of a project subclass
    /// whose MRO puts an `async def read` ahead of it (`class AsyncReader(Reader, AsyncMixin)`, with
    /// `Reader.run` doing `await self.read()`), and awaiting what a sync method returns is a `TypeError`
    /// unless it returns an awaitable, so such a call is taken to run that coroutine (the first such
    /// subclass's, by position): it runs none of its body on the loop. Without an async override in any
    /// subclass the sync method stays the callee (it may return an awaitable and block before).
    fn awaited_override(&self, file: usize, target: &Target, callee: FnId) -> FnId {
        let f = self.function(callee);
        if f.is_async || f.is_property {
            return callee;
        }
        let Target::Local(name) = target else { return callee };
        let Some((head, attr)) = name.rsplit_once('.') else { return callee };
        let no_cut = std::cell::Cell::new(false);
        let Some(Resolved::Class(cf, c)) = self.resolve(file, &Target::Local(head.to_string()), Depth::new(&no_cut))
        else {
            return callee;
        };
        let subclasses = self.subclasses();
        for &(sf, sc) in subclasses.get(&(cf, c)).into_iter().flatten() {
            if let Some(Resolved::Function(g)) = self.member(sf, sc, attr, Depth::new(&no_cut))
                && g != callee
                && self.function(g).is_async
            {
                return g;
            }
        }
        callee
    }

    /// What a call awaited on a union-typed value (`CallSite::alternatives`) runs when its first
    /// member's method is `callee` and sync: the first member's method that is a coroutine, if one is
    /// (awaiting what a sync method returns would raise); else `callee`.
    fn awaited_member(&self, file: usize, alternatives: &[Target], callee: FnId) -> FnId {
        if alternatives.is_empty() || self.function(callee).is_async {
            return callee;
        }
        let no_cut = std::cell::Cell::new(false);
        alternatives
            .iter()
            .filter_map(|t| self.resolve(file, t, Depth::new(&no_cut)))
            .filter_map(|r| self.callee(r, &no_cut))
            .find(|&g| self.function(g).is_async)
            .unwrap_or(callee)
    }

    /// Each project class's project subclasses (see `Project::subclasses`), in file and class order.
    fn subclasses(&self) -> Subclasses {
        if let Some(s) = self.subclasses.lock().expect("subclasses lock").as_ref() {
            return s.clone();
        }
        let no_cut = std::cell::Cell::new(false);
        let mut out: HashMap<ClassId, Vec<ClassId>> = HashMap::new();
        for (sf, file) in self.files.iter().enumerate() {
            for sc in 0..file.summary().classes.len() {
                for &base in self.mro(sf, sc, Depth::new(&no_cut)).iter().skip(1) {
                    out.entry(base).or_default().push((sf, sc));
                }
            }
        }
        let out = Arc::new(out);
        *self.subclasses.lock().expect("subclasses lock") = Some(out.clone());
        out
    }

    /// A project class's method resolution order (C3), itself first, over the bases the project
    /// resolves. Memoized; a cycle ends it, and a hierarchy C3 cannot order falls back to depth-first
    /// order.
    fn mro(&self, file: usize, class: usize, depth: Depth<'_>) -> Mro {
        if let Some((m, cut, reads)) = self.mros.lock().expect("mro lock").get(&(file, class)) {
            if *cut {
                depth.cut.set(true);
            }
            for &f in reads.iter() {
                read(f as usize);
            }
            return m.clone();
        }
        // Recorded whether or not a caller records, since the result is kept for later ones that do.
        let ((out, cut), reads) = recording(|| self.mro_uncached(file, class, depth));
        self.mros.lock().expect("mro lock").insert((file, class), (out.clone(), cut, reads.into()));
        out
    }

    /// `mro`, computed.
    fn mro_uncached(&self, file: usize, class: usize, depth: Depth<'_>) -> (Mro, bool) {
        self.mros
            .lock()
            .expect("mro lock")
            .insert((file, class), (Arc::new(vec![(file, class)]), false, Arc::from([])));
        // Whether this MRO is cut short, apart from what was cut before it started.
        let before = depth.cut.replace(false);
        let mut seqs: Vec<Vec<(usize, usize)>> = Vec::new();
        let mut direct = Vec::new();
        if !depth.over() {
            for base in &self.files[file].summary().classes[class].bases {
                if let Some(Resolved::Class(bf, b)) = self.resolve(file, base, depth.next())
                    && (bf, b) != (file, class)
                {
                    seqs.push(self.mro(bf, b, depth.next()).to_vec());
                    direct.push((bf, b));
                }
            }
        }
        let mut out = vec![(file, class)];
        let depth_first: Vec<(usize, usize)> = seqs.iter().flatten().copied().collect();
        seqs.push(direct);
        match crate::analysis::resolve::c3(seqs) {
            Some(rest) => out.extend(rest),
            None => {
                for item in depth_first {
                    if !out.contains(&item) && out.len() < crate::analysis::resolve::MAX_MRO {
                        out.push(item);
                    }
                }
            }
        }
        let out = Arc::new(out);
        let cut = depth.cut.get();
        depth.cut.set(before || cut);
        (out, cut)
    }

    /// The function a call runs: a function, or a class's `__init__`. `cut` is set when
    /// `MAX_RESOLVE_DEPTH` cut the resolution short.
    fn callee(&self, resolved: Resolved, cut: &std::cell::Cell<bool>) -> Option<FnId> {
        match resolved {
            Resolved::Function(f) => Some(f),
            Resolved::Class(cf, c) => match self.member(cf, c, "__init__", Depth::new(cut))? {
                Resolved::Function(f) => Some(f),
                _ => None,
            },
            Resolved::Object(cf, c) => match self.member(cf, c, "__call__", Depth::new(cut))? {
                Resolved::Function(f) => Some(f),
                _ => None,
            },
            Resolved::Library(_) | Resolved::LibraryName(_) => None,
        }
    }

    /// A possibly relative dotted name made absolute from `file`'s package.
    fn absolute(&self, file: usize, q: &str) -> Option<String> {
        let dots = q.chars().take_while(|&c| c == '.').count();
        if dots == 0 {
            return Some(q.to_string());
        }
        let mut base: Vec<&str> = self.packages[file].split('.').filter(|p| !p.is_empty()).collect();
        for _ in 1..dots {
            base.pop()?;
        }
        let rest = &q[dots..];
        if base.is_empty() {
            return (!rest.is_empty()).then(|| rest.to_string());
        }
        Some(if rest.is_empty() { base.join(".") } else { format!("{}.{rest}", base.join(".")) })
    }

    /// Of several files importable under one name, the one nearest to the importing file.
    fn closest(&self, from: usize, candidates: &[usize]) -> usize {
        if candidates.len() == 1 {
            return candidates[0];
        }
        let here = &self.files[from].path;
        *candidates
            .iter()
            .max_by_key(|&&c| {
                here.components().zip(self.files[c].path.components()).take_while(|(a, b)| a == b).count()
            })
            .unwrap_or(&candidates[0])
    }

    /// Links the summaries and reports every coroutine's call to a sync project function that blocks.
    pub fn chain_findings(&self, settings: &Settings) -> Vec<ChainFinding> {
        let links = self.link(settings);
        self.findings(&links, None, settings)
    }

    /// The position of `file` in the project, by path.
    pub fn file_index(&self, path: &Path) -> Option<usize> {
        self.file_by_path.get(path).copied()
    }

    /// Replaces a file's analysis by one of the same shape (`FileSummary::same_shape`): the links stay
    /// valid, only positions move. Returns false, changing nothing, when the shape differs.
    pub fn replace_same_shape(&mut self, file: usize, analysis: Arc<FileAnalysis>) -> bool {
        if !self.files[file].summary().same_shape(&analysis.summary) {
            return false;
        }
        self.files[file].analysis = analysis;
        true
    }

    /// Resolves every call and finds each sync function's shortest chain to a blocking call.
    pub fn link(&self, settings: &Settings) -> Links {
        let (mut edges, mut cut, mut lib, mut reads) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for id in 0..self.functions.len() {
            let ((e, c, l), r) = recording(|| self.edges_of(id));
            edges.push(e);
            cut.push(c);
            lib.push(l);
            reads.push(r);
        }
        // Shortest chains through functions that block on every call; then, for what is left, chains
        // through memoized functions, which block on their first call only (reported as hints).
        let dispatch = self.dispatch();
        let strict = self.shortest_chains(&edges, &lib, &dispatch, settings, false);
        let loose = self.shortest_chains(&edges, &lib, &dispatch, settings, true);
        let cli = self.cli_only(&edges, &dispatch);
        let once = self.one_time_work(&edges, &lib, &strict, &loose);
        let routes = self.route_labels();
        Links { edges, cut, strict, loose, cli, once, lib, reads, dispatch, routes }
    }

    /// The one-time work each function's chains do, and the coroutine call sites that share each (see
    /// `OnceWork`). A call site behind a guard of its own, or with a `# noqa`, shares nothing: it is
    /// reported as before. Linear: each function's key is computed once, from its chain's next step.
    fn one_time_work(
        &self,
        edges: &[Vec<Option<FnId>>],
        lib: &[Vec<(usize, BlockingSite)>],
        strict: &[Option<Best>],
        loose: &[Option<Best>],
    ) -> OnceWork {
        let keys = |best: &[Option<Best>]| {
            let mut memo: Vec<Option<Option<OnceKey>>> = vec![None; best.len()];
            let mut stack = Vec::new();
            for start in 0..best.len() {
                let mut at = start;
                // Down the chain to a function already known or the chain's own end…
                let end = loop {
                    if let Some(k) = memo[at] {
                        break k;
                    }
                    let Some(b) = best[at] else { break None };
                    let f = self.function(at);
                    match b.step {
                        Step::Call(ci, _) if f.calls[ci].once.is_some() => break Some(OnceKey::Call(at, ci)),
                        Step::Call(_, next) => {
                            stack.push(at);
                            at = next;
                        }
                        Step::Blocking(bi) => {
                            break self.site_in(lib, at, bi).once.then_some(OnceKey::Blocking(at, bi));
                        }
                    }
                };
                memo[at] = Some(end);
                // …and the functions on the way take its key.
                for id in stack.drain(..) {
                    memo[id] = Some(end);
                }
            }
            memo.into_iter().map(Option::flatten).collect::<Vec<_>>()
        };
        let (strict_keys, loose_keys) = (keys(strict), keys(loose));
        let mut shared: HashMap<OnceKey, Vec<(FnId, usize)>> = HashMap::new();
        for (caller, calls) in edges.iter().enumerate() {
            let a = self.function(caller);
            if !a.is_async {
                continue;
            }
            for (i, callee) in calls.iter().enumerate() {
                let (Some(c), site) = (*callee, &a.calls[i]) else { continue };
                if site.once.is_some() || site.noqa.is_some() {
                    continue;
                }
                let key = if strict[c].is_some() { strict_keys[c] } else { loose_keys[c] };
                if let Some(k) = key {
                    shared.entry(k).or_default().push((caller, i));
                }
            }
        }
        shared.retain(|_, sites| sites.len() > 1);
        for sites in shared.values_mut() {
            sites.sort_by(|&(a, i), &(b, j)| {
                let place =
                    |f: FnId, c: usize| (&self.files[self.functions[f].0].path, self.function(f).calls[c].start.offset);
                place(a, i).cmp(&place(b, j))
            });
        }
        OnceWork { strict: strict_keys, loose: loose_keys, shared }
    }

    /// The coroutine call sites sharing the one-time work that `caller`'s call `i` (to `callee`) does,
    /// when there are several.
    fn sharing<'a>(&self, links: &'a Links, caller: FnId, i: usize, callee: FnId) -> Option<&'a [(FnId, usize)]> {
        let site = &self.function(caller).calls[i];
        if site.once.is_some() || site.noqa.is_some() {
            return None;
        }
        let key = if links.strict[callee].is_some() { links.once.strict[callee] } else { links.once.loose[callee] };
        links.once.shared.get(&key?).map(Vec::as_slice)
    }

    /// Coroutines run only as command-line commands, alone on an event loop made for them, or by an
    /// application's lifespan, while no request is served: the commands and lifespans themselves
    /// (`FunctionSummary::cli`), then every coroutine that is not a route and whose callers
    /// in the project (one at least) are all such coroutines. A worklist over the call graph: each
    /// function joins when its last caller does, so a cycle of helpers no command reaches stays out.
    ///
    /// A call of a protocol's method counts as a call of each implementation's (`dispatch`): a
    /// command that runs `get_provisioner(kind).provision()` is a caller of every registered
    /// provisioner's `provision`.
    fn cli_only(&self, edges: &[Vec<Option<FnId>>], dispatch: &HashMap<FnId, Vec<FnId>>) -> Vec<bool> {
        let n = self.functions.len();
        let callees = |id: FnId| {
            edges[id]
                .iter()
                .flatten()
                .flat_map(move |&c| std::iter::once(c).chain(dispatch.get(&c).into_iter().flatten().copied()))
        };
        let mut cli = vec![false; n];
        let mut callers_left = vec![0u32; n];
        for caller in 0..n {
            for callee in callees(caller) {
                if callee != caller {
                    callers_left[callee] += 1;
                }
            }
        }
        let mut queue: Vec<FnId> = (0..n).filter(|&id| self.function(id).cli).collect();
        for &id in &queue {
            cli[id] = true;
        }
        while let Some(id) = queue.pop() {
            // A lifespan runs once, but a coroutine it hands to another call (`asyncio.create_task(
            // watch())`) may run as a task while requests are served: only what it awaits joins.
            let f = self.function(id);
            let spawned = |ci: usize| f.lifespan && f.calls[ci].argument;
            let reached = edges[id]
                .iter()
                .enumerate()
                .filter(|&(ci, _)| !spawned(ci))
                .filter_map(|(_, e)| *e)
                .flat_map(|c| std::iter::once(c).chain(dispatch.get(&c).into_iter().flatten().copied()));
            for callee in reached {
                if callee == id {
                    continue;
                }
                callers_left[callee] -= 1;
                let f = self.function(callee);
                if callers_left[callee] == 0 && !cli[callee] && f.is_async && f.route.is_none() {
                    cli[callee] = true;
                    queue.push(callee);
                }
            }
        }
        cli
    }

    /// For each method of a protocol class (`ClassSummary::protocol`), the same method of the classes
    /// that implement it: those its own module imports (`FileSummary::registers`, in any scope: a
    /// registry of implementations) that define every method the protocol declares (inherited or not,
    /// but not the protocol's own), and the project's classes that name the protocol as a base
    /// (`class FileLockManager(LockManager)`), for each method they define. A call resolved to the
    /// protocol's method runs one of them.
    fn dispatch(&self) -> HashMap<FnId, Vec<FnId>> {
        let mut out: HashMap<FnId, Vec<FnId>> = HashMap::new();
        let no_cut = std::cell::Cell::new(false);
        // The protocols' methods: their functions named `Protocol.name`.
        let methods_of = |m: usize, qualname: &str| -> Vec<(FnId, String)> {
            let prefix = format!("{qualname}.");
            self.file_functions[m]
                .clone()
                .filter_map(|id| {
                    let name = self.function(id).qualname.strip_prefix(&prefix)?;
                    (!name.contains('.')).then(|| (id, name.to_string()))
                })
                .collect()
        };
        // Classes that subclass a protocol by name: found by the base's last name first (cheap), then
        // resolved.
        let names: HashSet<&str> = self
            .files
            .iter()
            .flat_map(|f| f.summary().classes.iter().filter(|c| c.protocol))
            .map(|c| c.qualname.rsplit('.').next().unwrap_or(&c.qualname))
            .collect();
        if !names.is_empty() {
            let mut seen: HashSet<(usize, usize, usize, usize)> = HashSet::new();
            for (cf, file) in self.files.iter().enumerate() {
                for (c, class) in file.summary().classes.iter().enumerate() {
                    for base in &class.bases {
                        let (Target::Name(q) | Target::Local(q)) = base;
                        if !names.contains(q.rsplit('.').next().unwrap_or(q)) {
                            continue;
                        }
                        let Some(Resolved::Class(pm, pc)) = self.resolve(cf, base, Depth::new(&no_cut)) else {
                            continue;
                        };
                        let protocol = &self.files[pm].summary().classes[pc];
                        if !protocol.protocol || (pm, pc) == (cf, c) || !seen.insert((pm, pc, cf, c)) {
                            continue;
                        }
                        let methods = methods_of(pm, &protocol.qualname);
                        for (p, name) in &methods {
                            if let Some(Resolved::Function(f)) = self.member(cf, c, name, Depth::new(&no_cut))
                                && !methods.iter().any(|(q, _)| *q == f)
                            {
                                out.entry(*p).or_default().push(f);
                            }
                        }
                    }
                }
            }
        }
        for (m, file) in self.files.iter().enumerate() {
            let summary = file.summary();
            if summary.registers.is_empty() {
                continue;
            }
            for (pc, class) in summary.classes.iter().enumerate().filter(|(_, c)| c.protocol) {
                let methods = methods_of(m, &class.qualname);
                if methods.is_empty() {
                    continue;
                }
                let mut seen: HashSet<(usize, usize)> = HashSet::new();
                for target in &summary.registers {
                    let Some(Resolved::Class(cf, c)) = self.resolve(m, target, Depth::new(&no_cut)) else { continue };
                    if (cf, c) == (m, pc) || !seen.insert((cf, c)) {
                        continue;
                    }
                    let own: Option<Vec<FnId>> = methods
                        .iter()
                        .map(|(_, name)| match self.member(cf, c, name, Depth::new(&no_cut))? {
                            Resolved::Function(f) if !methods.iter().any(|&(p, _)| p == f) => Some(f),
                            _ => None,
                        })
                        .collect();
                    let Some(own) = own else { continue };
                    for (&(p, _), f) in methods.iter().zip(own) {
                        let list = out.entry(p).or_default();
                        if !list.contains(&f) {
                            list.push(f);
                        }
                    }
                }
            }
        }
        for list in out.values_mut() {
            list.sort_unstable();
            list.dedup();
        }
        out
    }

    /// The findings of `file`'s own analysis as the project sees them: a blocking call inside a
    /// coroutine that only command-line commands reach (`cli_only`, through any file) is a hint, like
    /// one in a command itself, and says why (`demoted`); a route is shown with the prefixes of the
    /// routers serving it (`rerouted`). Borrowed, unchanged, when the file has no such coroutine nor
    /// route (the common case).
    pub fn file_findings<'a>(&self, links: &Links, file: usize, findings: &'a [Finding]) -> Cow<'a, [Finding]> {
        let helpers = self.command_helpers(links, file);
        let demote = !helpers.is_empty() && findings.iter().any(|f| demoted(&helpers, f).is_some());
        let reroute = findings.iter().any(|f| self.rerouted(links, file, f).is_some());
        if !demote && !reroute {
            return Cow::Borrowed(findings);
        }
        Cow::Owned(
            findings
                .iter()
                .map(|f| {
                    let f = demoted(&helpers, f).unwrap_or_else(|| f.clone());
                    self.rerouted(links, file, &f).unwrap_or(f)
                })
                .collect(),
        )
    }

    /// The coroutines of `file` (by qualified name) that only command-line commands reach, through
    /// any file, and that are neither commands themselves (their own file already made their findings
    /// hints) nor routes. A coroutine a route or another coroutine also awaits is not one.
    pub fn command_helpers(&self, links: &Links, file: usize) -> Vec<&str> {
        self.file_functions[file]
            .clone()
            .filter(|&id| links.cli[id])
            .map(|id| self.function(id))
            .filter(|f| f.is_async && f.route.is_none() && !f.cli)
            .map(|f| f.qualname.as_str())
            .collect()
    }

    /// What each call of a function resolves to, which calls `MAX_RESOLVE_DEPTH` left unresolved, and
    /// the calls that types lead to a catalogued blocking API.
    #[allow(clippy::type_complexity)]
    fn edges_of(&self, id: FnId) -> (Vec<Option<FnId>>, Vec<usize>, Vec<(usize, BlockingSite)>) {
        let (file, idx) = self.functions[id];
        let f = &self.files[file].summary().functions[idx];
        let mut cut = Vec::new();
        let mut lib = Vec::new();
        let edges = f
            .calls
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let was_cut = std::cell::Cell::new(false);
                let depth = Depth { made_by: c.made_by.as_deref(), ..Depth::new(&was_cut) };
                let resolved = self.resolve(file, &c.target, depth);
                if !c.access
                    && let Some(site) = resolved.as_ref().and_then(|r| self.library_site(r, c))
                {
                    lib.push((i, site));
                }
                let callee = resolved.and_then(|r| self.callee(r, &was_cut));
                if was_cut.get() {
                    cut.push(i);
                }
                let callee = callee?;
                let callee = if c.awaited_method { self.awaited_override(file, &c.target, callee) } else { callee };
                let callee = self.awaited_member(file, &c.alternatives, callee);
                // Reading an attribute runs only a property; calling a generator function runs its body
                // only where what it returns is iterated.
                let f = self.function(callee);
                ((!c.access || f.is_property) && (!f.generator || c.iterated)).then_some(callee)
            })
            .collect();
        (edges, cut, lib)
    }

    /// The calls whose resolution `MAX_RESOLVE_DEPTH` cut short (re-exports or base classes followed
    /// deeper than that): the file, where the call is, and a message. Chains through them may be missing.
    pub fn cuts(&self, links: &Links) -> Vec<(usize, Loc, String)> {
        let mut out = Vec::new();
        for (id, calls) in links.cut.iter().enumerate() {
            let (file, _) = self.functions[id];
            for &i in calls {
                let call = &self.function(id).calls[i];
                // `C()` and `C().m()` start at the same place: one warning there.
                if out
                    .last()
                    .is_some_and(|(f, l, _): &(usize, Loc, String)| *f == file && l.offset == call.start.offset)
                {
                    continue;
                }
                out.push((
                    file,
                    call.start,
                    format!(
                        "resolving `{}` across the project takes more than {MAX_RESOLVE_DEPTH} steps (re-exports, base \
                         classes): the call is not followed, so findings through it may be missing",
                        match &call.target {
                            Target::Local(n) | Target::Name(n) => n,
                        }
                    ),
                ));
            }
        }
        out
    }

    /// Replaces a file's analysis when its functions and classes are the same (names,
    /// `@property`-ness, return types, star imports), however its calls, blocking calls and other
    /// module-level names (exports, `__all__`) changed, and brings `links` up to date: the file's own
    /// calls that changed are resolved again, and when its module-level names changed, the calls of
    /// every function whose resolution read them (`Links::reads`); the shortest chains are recomputed
    /// when what they read changed, without resolving the rest of the project again. Returns false,
    /// changing nothing, when those functions or classes differ (the project must then be built again).
    pub fn replace_same_names(
        &mut self,
        file: usize,
        analysis: Arc<FileAnalysis>,
        links: &mut Links,
        settings: &Settings,
    ) -> bool {
        let (old, new) = (self.files[file].summary(), &analysis.summary);
        let names_changed = old.exports != new.exports || old.all != new.all;
        // Routers resolve through module-level names.
        let routing_changed = names_changed || old.routing != new.routing;
        if old.classes != new.classes
            || old.stars != new.stars
            || old.registers != new.registers
            || old.functions.len() != new.functions.len()
            || old.functions.iter().zip(&new.functions).any(|(a, b)| {
                a.qualname != b.qualname
                    || a.is_property != b.is_property
                    || a.returns != b.returns
                    || a.overload != b.overload
                    || a.generator != b.generator
            })
        {
            return false;
        }
        let old = std::mem::replace(&mut self.files[file].analysis, analysis);
        // The functions whose calls read this file's module-level names are resolved again.
        let mut readers: Vec<FnId> = Vec::new();
        if names_changed {
            self.export_index.retain(|(f, _), _| *f != file);
            for (j, (name, _)) in self.files[file].summary().exports.iter().enumerate() {
                self.export_index.insert((file, name.clone()), j);
            }
            // Base classes may resolve through those names.
            self.mros.lock().expect("mro lock").clear();
            *self.subclasses.lock().expect("subclasses lock") = None;
            readers =
                (0..self.functions.len()).filter(|&id| links.reads[id].binary_search(&(file as u32)).is_ok()).collect();
        }
        // An awaited method call reads which subclasses override the method with a coroutine
        // (`awaited_override`): every class's bases, and every method's kind.
        let flipped = old
            .summary
            .functions
            .iter()
            .zip(&self.files[file].summary().functions)
            .any(|(a, b)| a.is_async != b.is_async);
        if names_changed || flipped {
            readers.extend(
                (0..self.functions.len()).filter(|&id| {
                    self.function(id).calls.iter().any(|c| c.awaited_method || !c.alternatives.is_empty())
                }),
            );
            readers.sort_unstable();
            readers.dedup();
        }
        // A keystroke changes one function: only the functions whose call targets changed are resolved
        // again, and the chains are searched again only when what the search reads changed.
        let mut same_chains = true;
        // Which coroutines run only as commands reads the edges and each function's kind.
        // It reads protocols' implementations too (`dispatch`), which other modules' names resolve.
        let mut same_cli = !names_changed;
        // Which call sites share one-time work reads the chains, the edges and coroutines' call sites.
        let mut same_once = true;
        for &id in &readers {
            if self.file_functions[file].contains(&id) {
                continue;
            }
            let ((e, c, l), r) = recording(|| self.edges_of(id));
            if e != links.edges[id]
                || !l.iter().map(|(_, b)| (b.rule, b.tier)).eq(links.lib[id].iter().map(|(_, b)| (b.rule, b.tier)))
            {
                (same_chains, same_cli, same_once) = (false, false, false);
            }
            (links.edges[id], links.cut[id], links.lib[id], links.reads[id]) = (e, c, l, r);
        }
        for id in self.file_functions[file].clone() {
            let (o, n) = (&old.summary.functions[self.functions[id].1], self.function(id));
            let same_calls = o.calls.len() == n.calls.len()
                && o.calls.iter().zip(&n.calls).all(|(a, b)| {
                    a.target == b.target
                        && a.access == b.access
                        && a.iterated == b.iterated
                        && a.awaited_method == b.awaited_method
                        && a.alternatives == b.alternatives
                });
            let edges = if same_calls && readers.binary_search(&id).is_err() {
                None
            } else {
                let (e, r) = recording(|| self.edges_of(id));
                links.reads[id] = r;
                Some(e)
            };
            let new_edges = edges.as_ref().is_some_and(|(e, _, l)| {
                *e != links.edges[id]
                    || !l.iter().map(|(_, b)| (b.rule, b.tier)).eq(links.lib[id].iter().map(|(_, b)| (b.rule, b.tier)))
            });
            if !same_chains || (o.is_async && n.is_async) {
                // The search starts from and goes through sync functions only.
            } else if (o.is_async, o.offloaded, o.memoized) != (n.is_async, n.offloaded, n.memoized)
                || !o.blocking.iter().map(|b| (b.rule, b.tier)).eq(n.blocking.iter().map(|b| (b.rule, b.tier)))
                || !o.calls.iter().map(|c| c.once.is_some()).eq(n.calls.iter().map(|c| c.once.is_some()))
                || new_edges
            {
                same_chains = false;
            }
            if new_edges
                || (o.is_async, o.cli, o.lifespan, &o.route) != (n.is_async, n.cli, n.lifespan, &n.route)
                || (n.lifespan && !o.calls.iter().map(|c| c.argument).eq(n.calls.iter().map(|c| c.argument)))
            {
                same_cli = false;
            }
            if new_edges
                || o.is_async != n.is_async
                || !o.blocking.iter().map(|b| b.once).eq(n.blocking.iter().map(|b| b.once))
                || !o.calls.iter().map(|c| (&c.once, &c.noqa)).eq(n.calls.iter().map(|c| (&c.once, &c.noqa)))
            {
                same_once = false;
            }
            if let Some(e) = edges {
                (links.edges[id], links.cut[id], links.lib[id]) = e;
            }
        }
        if names_changed {
            // Protocols' implementations resolve through module-level names (`dispatch`).
            let dispatch = self.dispatch();
            if dispatch != links.dispatch {
                links.dispatch = dispatch;
                (same_chains, same_cli, same_once) = (false, false, false);
            }
        }
        if !same_chains {
            links.strict = self.shortest_chains(&links.edges, &links.lib, &links.dispatch, settings, false);
            links.loose = self.shortest_chains(&links.edges, &links.lib, &links.dispatch, settings, true);
        }
        if !same_cli {
            links.cli = self.cli_only(&links.edges, &links.dispatch);
        }
        if !same_chains || !same_once {
            links.once = self.one_time_work(&links.edges, &links.lib, &links.strict, &links.loose);
        }
        if routing_changed {
            links.routes = self.route_labels();
        }
        true
    }

    /// The routes whose label differs from their file's own (`FunctionSummary::route`) once the
    /// project's routers are known: a route is served at its path behind its router's prefix, then the
    /// prefix of each router including that one (`include_router(r, prefix=...)`, `mount(...)`) and
    /// that router's own, up to a router nothing includes. A router included in several places is shown
    /// at its first include (files by path, then source order).
    fn route_labels(&self) -> HashMap<FnId, String> {
        let mut out = HashMap::new();
        if self.files.iter().all(|f| f.summary().routing.routes.is_empty()) {
            return out;
        }
        let mut own: HashMap<(usize, &str), &str> = HashMap::new();
        for (i, f) in self.files.iter().enumerate() {
            for (name, prefix) in &f.summary().routing.routers {
                own.insert((i, name), prefix);
            }
        }
        let mut order: Vec<usize> = (0..self.files.len()).collect();
        order.sort_by(|&a, &b| self.files[a].path.cmp(&self.files[b].path));
        // Each router's first include: the including router (when known) and the include's prefix.
        let mut up: HashMap<RouterKey, (Option<RouterKey>, &str)> = HashMap::new();
        for &i in &order {
            for m in &self.files[i].summary().routing.mounts {
                let Some(child) = self.router_key(i, &m.child, &own) else { continue };
                let parent = m.parent.as_ref().and_then(|p| self.router_key(i, p, &own));
                up.entry(child).or_insert((parent, &m.prefix));
            }
        }
        for (i, f) in self.files.iter().enumerate() {
            for s in &f.summary().routing.routes {
                let Some(mut at) = self.router_key(i, &s.router, &own) else { continue };
                let mut path = format!("{}{}", own.get(&(at.0, at.1.as_str())).copied().unwrap_or(""), s.path);
                let mut seen = HashSet::from([at.clone()]);
                while let Some((parent, prefix)) = up.get(&at) {
                    path.insert_str(0, prefix);
                    let Some(parent) = parent else { break };
                    path.insert_str(0, own.get(&(parent.0, parent.1.as_str())).copied().unwrap_or(""));
                    if !seen.insert(parent.clone()) {
                        break;
                    }
                    at = parent.clone();
                }
                let Some(&id) = self.function_index.get(&(i, s.function.clone())) else { continue };
                let label = crate::analysis::summary::route_label(s.verb.as_deref(), Some(&path));
                if let Some(label) = label
                    && self.function(id).route.as_ref() != Some(&label)
                {
                    out.insert(id, label);
                }
            }
        }
        out
    }

    /// The router `target` (in `file`) is, as its file and `Routing::routers` key, following imports
    /// and module-level aliases.
    fn router_key(&self, file: usize, target: &Target, own: &HashMap<(usize, &str), &str>) -> Option<RouterKey> {
        let (mut file, mut target) = (file, target.clone());
        for _ in 0..16 {
            match target {
                Target::Local(name) => {
                    if own.contains_key(&(file, name.as_str())) {
                        return Some((file, name));
                    }
                    let &e = self.export_index.get(&(file, name))?;
                    match &self.files[file].summary().exports[e].1 {
                        Export::Alias(t) => target = t.clone(),
                        _ => return None,
                    }
                }
                Target::Name(q) => {
                    let abs = self.absolute(file, &q)?;
                    let (module, name) = abs.rsplit_once('.')?;
                    let candidates = self.modules.get(module)?;
                    file = self.closest(file, candidates);
                    target = Target::Local(name.to_string());
                }
            }
        }
        None
    }

    /// A finding of `file`'s own analysis with its route as the project serves it (`route_labels`);
    /// `None` when that is the one it has.
    pub fn rerouted(&self, links: &Links, file: usize, f: &Finding) -> Option<Finding> {
        if links.routes.is_empty() || f.route.is_none() {
            return None;
        }
        let id = *self.function_index.get(&(file, f.function.clone()?))?;
        let label = links.routes.get(&id)?;
        let mut f = f.clone();
        f.route = Some(label.clone());
        Some(f)
    }

    /// The chain findings of the coroutines in `only` (a file), or of the whole project.
    pub fn findings(&self, links: &Links, only: Option<usize>, settings: &Settings) -> Vec<ChainFinding> {
        let edges = &links.edges;
        let callers = match only {
            Some(file) => self.file_functions[file].clone(),
            None => 0..self.functions.len(),
        };
        let mut out = Vec::new();
        // Each file's `per-file-ignores`, read when a group of one-time work needs them.
        let mut ignored: HashMap<usize, Vec<crate::settings::Selector>> = HashMap::new();
        for caller in callers {
            let calls = &edges[caller];
            let a = self.function(caller);
            if !a.is_async {
                continue;
            }
            let (file, _) = self.functions[caller];
            out.extend(self.typed_findings(links, caller, settings));
            for (i, callee) in calls.iter().enumerate() {
                let Some(callee) = *callee else { continue };
                let callee = self.dispatched(links, callee);
                let Some(chain) = self.chain(links, callee, HEAD_HOPS - 1) else { continue };
                let site: &CallSite = &a.calls[i];
                // The arguments passed along the chain may rule a step out (`get_instance_fn(value)` never
                // reaches what needs `config_file_path`): then another chain that can run, or none.
                let chain = match self.runnable_chain(links, site, callee, settings) {
                    Runnable::Shortest => chain,
                    Runnable::Other(c) => c,
                    Runnable::None => continue,
                };
                let memoized = chain.memoized;
                if !site.falsy.is_empty() && self.skipped(links, callee, &site.falsy) {
                    continue;
                }
                // Behind a first-use guard here, or through one further down the chain.
                let once = site.once.clone().or_else(|| {
                    chain.once.then(|| {
                        chain
                            .steps
                            .iter()
                            .find_map(|&(at, step)| match step {
                                Step::Call(ci, _) => self.function(at).calls[ci].once.clone(),
                                Step::Blocking(_) => None,
                            })
                            .unwrap_or_default()
                    })
                });
                let mut hops = Vec::with_capacity(MAX_HOPS + 1);
                hops.push(ChainHop { file, loc: site.start, name: self.display_name(callee), index: 0, elided: 0 });
                let mut end = None;
                for (k, &(at, step)) in chain.steps.iter().enumerate() {
                    let (f_file, _) = self.functions[at];
                    let f = self.function(at);
                    let index = if k < chain.head { k + 1 } else { k + 1 + chain.elided };
                    if k == chain.head && chain.elided > 0 {
                        let (f_file, _) = self.functions[chain.first_elided.0];
                        let loc = self.step_loc(links, chain.first_elided.0, chain.first_elided.1);
                        let n = chain.elided;
                        let name = format!("… {n} more call{} …", if n == 1 { "" } else { "s" });
                        hops.push(ChainHop { file: f_file, loc, name, index: k + 1, elided: n });
                    }
                    match step {
                        Step::Call(ci, next) => hops.push(ChainHop {
                            file: f_file,
                            loc: f.calls[ci].start,
                            name: self.display_name(next),
                            index,
                            elided: 0,
                        }),
                        Step::Blocking(bi) => {
                            let b = self.site(links, at, bi);
                            hops.push(ChainHop {
                                file: f_file,
                                loc: b.start,
                                name: b.callee.clone(),
                                index,
                                elided: 0,
                            });
                            end = Some(b);
                        }
                    }
                }
                let Some(b) = end else { continue };
                // The search starts only from blocking calls of enabled rules; a `# noqa` at the call ends it.
                if site.noqa.as_ref().is_some_and(|codes| noqa_matches(codes, b.rule)) {
                    continue;
                }
                // One-time work several coroutines reach (a lazily created client) blocks once, whichever
                // comes first: one finding, at the first call site whose file's `per-file-ignores` keep
                // the rule, listing the others.
                let sharing = self.sharing(links, caller, i, callee);
                if let Some(s) = sharing {
                    let mut kept = |&&(c, _): &&(FnId, usize)| {
                        let file = self.functions[c].0;
                        let off = ignored.entry(file).or_insert_with(|| settings.ignored_in(&self.files[file].path));
                        !off.iter().any(|sel| sel.matches(b.rule))
                    };
                    if s.iter().find(|x| kept(x)) != Some(&(caller, i)) {
                        continue;
                    }
                }
                let also: Vec<ChainHop> = sharing.map_or_else(Vec::new, |s| {
                    s.iter()
                        .filter(|&&x| x != (caller, i))
                        .take(MAX_ALSO)
                        .map(|&(c, ci)| ChainHop {
                            file: self.functions[c].0,
                            loc: self.function(c).calls[ci].start,
                            name: format!("also reached from `{}`", self.display_name(c)),
                            index: 0,
                            elided: 0,
                        })
                        .collect()
                });
                let helper = &hops[0].name;
                let depth = chain.len;
                let mut message = format!(
                    "`{helper}` is synchronous and blocks the event loop {depth} call{} down: {}",
                    if depth == 1 { "" } else { "s" },
                    b.message
                );
                if memoized {
                    message.push_str(" (through a memoized function: only its first call blocks)");
                }
                match &once {
                    Some(g) if !g.is_empty() => message.push_str(&format!(
                        " (one-time work behind `{g}`, set on first use: only the first call blocks)"
                    )),
                    Some(_) => message
                        .push_str(" (through one-time work behind a first-use guard: only the first call blocks)"),
                    None => {}
                }
                if let Some(s) = sharing {
                    message.push_str(&format!(
                        "; {} coroutine call sites reach this one-time work: it is reported once, at the first",
                        s.len()
                    ));
                }
                // A command-line command runs alone on its loop: what it blocks delays no other task.
                let cli = links.cli[caller] && a.route.is_none();
                if cli {
                    message.push_str(&if a.lifespan {
                        crate::analysis::summary::lifespan_note(&a.qualname)
                    } else {
                        crate::analysis::cli_note(&a.qualname, a.cli)
                    });
                }
                out.push(ChainFinding {
                    file,
                    start: site.start,
                    end: site.end,
                    rule: b.rule,
                    tier: if memoized || once.is_some() || cli { Tier::Hint } else { settings.tier(b.rule, b.tier) },
                    message,
                    callee: b.callee.clone(),
                    instead: Some(format!(
                        "offload the call (`await asyncio.to_thread({helper}, ...)`), make the route a plain `def`, or make `{helper}` async"
                    )),
                    fixes: vec![FixKind::Offload],
                    function: a.qualname.clone(),
                    route: links.routes.get(&caller).or(a.route.as_ref()).cloned(),
                    hops,
                    also,
                });
            }
        }
        out.sort_by_key(|x| (x.file, x.start.offset));
        out
    }

    /// The function a call of `callee` runs whose chain a finding shows: `callee` itself when it blocks,
    /// else, for a protocol's method, the implementation (`dispatch`) whose chain reaches the worst
    /// blocking call (highest tier, then the shortest chain, then the first by id).
    fn dispatched(&self, links: &Links, callee: FnId) -> FnId {
        if links.strict[callee].is_some() || links.loose[callee].is_some() {
            return callee;
        }
        let Some(impls) = links.dispatch.get(&callee) else { return callee };
        let rank = |id: FnId| {
            let (best, memoized) = match (links.strict[id], links.loose[id]) {
                (Some(b), _) => (b, false),
                (None, Some(b)) => (b, true),
                _ => return None,
            };
            let mut at = id;
            let mut b = best;
            for _ in 0..=best.len {
                match b.step {
                    Step::Call(_, next) => {
                        at = next;
                        b = (if memoized { links.loose[at] } else { links.strict[at] })?;
                    }
                    Step::Blocking(bi) => {
                        let tier = if memoized || best.once { Tier::Hint } else { self.site(links, at, bi).tier };
                        return Some((tier, std::cmp::Reverse(best.len), std::cmp::Reverse(id)));
                    }
                }
            }
            None
        };
        impls
            .iter()
            .copied()
            .filter_map(|id| rank(id).map(|r| (r, id)))
            .max_by_key(|(r, _)| *r)
            .map_or(callee, |(_, id)| id)
    }

    /// Whether the chain from coroutine call `site` into `callee` can run with the arguments passed along
    /// it: each call passes literals (or leaves parameters at literal defaults, or passes on a
    /// parameter whose value is known), and a step that needs a parameter tested the other way (`Need`)
    /// is not taken. The shortest chain is walked first; when a step of it is ruled out, a bounded
    /// depth-first search looks for another from there (best step first), giving up (and keeping the
    /// shortest chain) past `BUDGET` functions visited.
    fn runnable_chain(&self, links: &Links, site: &CallSite, callee: FnId, settings: &Settings) -> Runnable {
        const BUDGET: usize = 400;
        const MAX_DEPTH: usize = 48;
        let best = if links.strict[callee].is_some() { &links.strict } else { &links.loose };
        let memoized = links.strict[callee].is_none();
        let env = self.env_of(site, callee, &[], true);
        if env.is_empty() {
            return Runnable::Shortest;
        }
        // The whole shortest chain, with the values known at each function.
        let mut at = callee;
        let mut env_at = env.clone();
        let mut ruled_out = None;
        for k in 0..MAX_DEPTH * 4 {
            let Some(b) = best[at] else { return Runnable::Shortest };
            let f = self.function(at);
            match b.step {
                Step::Blocking(bi) => {
                    if contradicted(&self.site(links, at, bi).needs, &env_at) {
                        ruled_out = Some(k);
                    }
                    break;
                }
                Step::Call(ci, next) => {
                    if contradicted(&f.calls[ci].needs, &env_at) {
                        ruled_out = Some(k);
                        break;
                    }
                    env_at = self.env_of(&f.calls[ci], next, &env_at, false);
                    at = next;
                }
            }
        }
        if ruled_out.is_none() {
            return Runnable::Shortest;
        }
        // Search from the callee for a chain every step of which can run.
        let mut budget = BUDGET;
        let mut failed: HashSet<(FnId, Env)> = HashSet::new();
        let mut path: Vec<(FnId, Step)> = Vec::new();
        let mut on_path: HashSet<FnId> = HashSet::new();
        let mut cycles = 0;
        match self.search(
            links,
            best,
            settings,
            callee,
            env,
            &mut budget,
            &mut failed,
            &mut path,
            &mut on_path,
            &mut cycles,
        ) {
            Some(true) => {}
            Some(false) => return Runnable::None,
            None => return Runnable::Shortest,
        }
        let len = path.len();
        let head = HEAD_HOPS - 1;
        let once = path
            .iter()
            .any(|&(at, step)| matches!(step, Step::Call(ci, _) if self.function(at).calls[ci].once.is_some()));
        if len <= head + TAIL_STEPS as usize + 1 {
            let first_elided = path[0];
            return Runnable::Other(Chain { head: len, elided: 0, first_elided, len, memoized, once, steps: path });
        }
        let first_elided = path[head];
        let elided = len - head - TAIL_STEPS as usize;
        let steps: Vec<(FnId, Step)> = path[..head].iter().chain(&path[head + elided..]).copied().collect();
        Runnable::Other(Chain { steps, head, elided, first_elided, len, memoized, once })
    }

    /// One function of `runnable_chain`'s search: whether a chain from `at`, with parameter values
    /// `env`, reaches a blocking call every step of which can run (pushed on `path`); `None` when the
    /// budget ran out. A failure is remembered (`failed`) only when no step of it was refused for
    /// going back into the path (`cycles` counts those): from another path that step may run.
    #[allow(clippy::too_many_arguments)]
    fn search(
        &self,
        links: &Links,
        best: &[Option<Best>],
        settings: &Settings,
        at: FnId,
        env: Env,
        budget: &mut usize,
        failed: &mut HashSet<(FnId, Env)>,
        path: &mut Vec<(FnId, Step)>,
        on_path: &mut HashSet<FnId>,
        cycles: &mut usize,
    ) -> Option<bool> {
        if on_path.contains(&at) || path.len() >= 48 {
            *cycles += 1;
            return Some(false);
        }
        if failed.contains(&(at, env.clone())) {
            return Some(false);
        }
        let cycles_before = *cycles;
        if *budget == 0 {
            return None;
        }
        *budget -= 1;
        let f = self.function(at);
        let mut steps: Vec<Step> = Vec::new();
        if let Some(b) = best[at] {
            steps.push(b.step);
        }
        let n_sites = f.blocking.len() + links.lib[at].len();
        steps.extend((0..n_sites).map(Step::Blocking));
        for (ci, e) in links.edges[at].iter().enumerate() {
            if let Some(g) = *e
                && best[g].is_some()
            {
                steps.push(Step::Call(ci, g));
            }
        }
        on_path.insert(at);
        for step in steps {
            match step {
                Step::Blocking(bi) => {
                    let b = self.site(links, at, bi);
                    if !settings.enabled(b.rule) || contradicted(&b.needs, &env) {
                        continue;
                    }
                    if bi >= f.blocking.len() {
                        let ci = links.lib[at][bi - f.blocking.len()].0;
                        if f.calls[ci].noqa.as_ref().is_some_and(|codes| noqa_matches(codes, b.rule)) {
                            continue;
                        }
                    }
                    path.push((at, step));
                    on_path.remove(&at);
                    return Some(true);
                }
                Step::Call(ci, g) => {
                    let call = &f.calls[ci];
                    let g_fn = self.function(g);
                    if contradicted(&call.needs, &env) || g_fn.is_async || g_fn.offloaded {
                        continue;
                    }
                    let env_g = self.env_of(call, g, &env, false);
                    path.push((at, step));
                    match self.search(links, best, settings, g, env_g, budget, failed, path, on_path, cycles) {
                        Some(true) => {
                            on_path.remove(&at);
                            return Some(true);
                        }
                        Some(false) => {
                            path.pop();
                        }
                        None => {
                            on_path.remove(&at);
                            return None;
                        }
                    }
                }
            }
        }
        on_path.remove(&at);
        if *cycles == cycles_before {
            failed.insert((at, env));
        }
        Some(false)
    }

    /// The values a call gives the parameters of function `g` it calls: the parameters of its own
    /// function it passes on whose values `env` knows, and, at the coroutine's call (`first`), its
    /// literal arguments and `g`'s literal defaults for those it does not pass; and for any other
    /// parameter annotated with a class of `[typing.instances]`, that class (`:builtins.bytes`).
    /// Nothing when it passes `*args`/`**kwargs` or `g` keeps no parameters.
    ///
    /// Literals further down are not used: litellm's `get_secret("FRIENDLI_TOKEN")` cannot take the
    /// `oidc/` branch the chain shows, but with a hosted secret manager configured it waits on the
    /// network in a branch no chain names (an untyped client), and 8 of the 33 labelled findings
    /// (about 240 sites) would go with it.
    fn env_of(&self, call: &CallSite, g: FnId, env: &[(String, String)], first: bool) -> Env {
        let Some(params) = &self.function(g).params else { return Vec::new() };
        if call.splat {
            return Vec::new();
        }
        let mut out: Env = Vec::new();
        let mut passed: Vec<&str> = Vec::new();
        let mut positional = params.iter().filter(|p| p.positional);
        for (kw, value) in &call.args {
            let name = match kw {
                Some(k) => Some(k.as_str()),
                None => positional.next().map(|p| p.name.as_str()),
            };
            let Some(name) = name else { continue };
            passed.push(name);
            let v = match value.as_deref() {
                Some(v) if v.starts_with('=') => env.iter().find(|(p, _)| p == &v[1..]).map(|(_, x)| x.clone()),
                Some(v) if first => Some(v.to_string()),
                _ => None,
            };
            if let Some(v) = v {
                out.push((name.to_string(), v));
            }
        }
        for p in params {
            if first
                && !passed.contains(&p.name.as_str())
                && let Some(d) = &p.default
            {
                out.push((p.name.clone(), d.clone()));
            }
        }
        // A parameter annotated with a class the `isinstance` tests know (`content: bytes`) holds one
        // when nothing above says what it holds.
        for p in params {
            if let Some(class) = &p.instance
                && !out.iter().any(|(n, _)| n == &p.name)
            {
                out.push((p.name.clone(), format!(":{class}")));
            }
        }
        out.sort();
        out.dedup();
        // A parameter a rebinding the values do not rule out may hold anything after it.
        let g = self.function(g);
        if !g.rebound.is_empty() {
            let known = out.clone();
            out.retain(|(p, _)| {
                g.rebound
                    .iter()
                    .filter(|(n, _)| n == p)
                    .all(|(_, sites)| sites.iter().all(|needs| contradicted(needs, &known)))
            });
        }
        out
    }

    /// Whether function `id` blocks only in blocks of `if P:` whose parameter `P` a call passes as false
    /// (`falsy`: `_send_heartbeats(self, join_on_exit=False)` around `if join_on_exit: thread.join()`):
    /// then that call runs none of it. Every blocking call, typed blocking call and call of a function
    /// that blocks must be so.
    fn skipped(&self, links: &Links, id: FnId, falsy: &[String]) -> bool {
        let f = self.function(id);
        let off = |gate: &Option<String>| gate.as_ref().is_some_and(|p| falsy.contains(p));
        let blocks = |g: FnId| {
            std::iter::once(g)
                .chain(links.dispatch.get(&g).into_iter().flatten().copied())
                .any(|g| links.strict[g].is_some() || links.loose[g].is_some())
        };
        f.blocking.iter().all(|b| off(&b.gate))
            && links.lib[id].iter().all(|(ci, _)| off(&f.calls[*ci].gate))
            && links.edges[id].iter().enumerate().all(|(ci, e)| e.is_none_or(|g| !blocks(g)) || off(&f.calls[ci].gate))
    }

    /// A coroutine's own calls of blocking APIs that only the project's types reveal (`CACHE.read_text()`
    /// with `CACHE` a `pathlib.Path` another module exports): reported as a call made in the coroutine,
    /// which its file's analysis alone could not type.
    fn typed_findings(&self, links: &Links, caller: FnId, settings: &Settings) -> Vec<ChainFinding> {
        let a = self.function(caller);
        let (file, _) = self.functions[caller];
        let mut out = Vec::new();
        for (ci, b) in &links.lib[caller] {
            let site = &a.calls[*ci];
            if !settings.enabled(b.rule) || site.noqa.as_ref().is_some_and(|codes| noqa_matches(codes, b.rule)) {
                continue;
            }
            let mut message = b.message.clone();
            // A command-line command runs alone on its loop: what it blocks delays no other task.
            let cli = links.cli[caller] && a.route.is_none();
            if cli {
                message.push_str(&if a.lifespan {
                    crate::analysis::summary::lifespan_note(&a.qualname)
                } else {
                    crate::analysis::cli_note(&a.qualname, a.cli)
                });
            }
            let hop = ChainHop { file, loc: b.start, name: b.callee.clone(), index: 0, elided: 0 };
            out.push(ChainFinding {
                file,
                start: b.start,
                end: b.end,
                rule: b.rule,
                tier: if cli || site.once.is_some() { Tier::Hint } else { settings.tier(b.rule, b.tier) },
                message,
                callee: b.callee.clone(),
                instead: b.instead.clone(),
                fixes: vec![FixKind::Offload],
                function: a.qualname.clone(),
                route: links.routes.get(&caller).or(a.route.as_ref()).cloned(),
                hops: vec![hop],
                also: Vec::new(),
            });
        }
        out
    }

    /// Breadth first from the functions that block themselves: each function's chain to the worst
    /// blocking call it reaches (highest tier, then the shortest chain; the first in source order among
    /// equals) of an enabled rule, through sync functions (memoized ones too if `memoized`). One search
    /// per tier, worst first: a function reached by one keeps that chain.
    fn shortest_chains(
        &self,
        edges: &[Vec<Option<FnId>>],
        lib: &[Vec<(usize, BlockingSite)>],
        dispatch: &HashMap<FnId, Vec<FnId>>,
        settings: &Settings,
        memoized: bool,
    ) -> Vec<Option<Best>> {
        let runs_here = |id: FnId| {
            let f = self.function(id);
            !f.is_async && !f.offloaded && (memoized || !f.memoized)
        };
        // Each function's own worst blocking call: its tier and index.
        let own: Vec<Option<(Tier, usize)>> = (0..self.functions.len())
            .map(|id| {
                if !runs_here(id) {
                    return None;
                }
                let mut worst: Option<(Tier, usize)> = None;
                let f = self.function(id);
                // Its own sites, then those its calls reach through types (see `Project::site`); a
                // `# noqa` at such a call silences it, as it does a site of its own.
                let typed = lib[id]
                    .iter()
                    .map(|(ci, b)| (b, f.calls[*ci].noqa.as_ref().is_some_and(|codes| noqa_matches(codes, b.rule))));
                for (i, (b, noqa)) in f.blocking.iter().map(|b| (b, false)).chain(typed).enumerate() {
                    if noqa || !settings.enabled(b.rule) {
                        continue;
                    }
                    let t = settings.tier(b.rule, b.tier);
                    if worst.is_none_or(|(w, _)| t > w) {
                        worst = Some((t, i));
                    }
                }
                worst
            })
            .collect();
        let mut callers: Vec<Vec<(FnId, usize)>> = vec![Vec::new(); self.functions.len()];
        for (caller, calls) in edges.iter().enumerate() {
            if !runs_here(caller) {
                continue;
            }
            for (i, callee) in calls.iter().enumerate() {
                let Some(callee) = *callee else { continue };
                // A protocol's method runs one of its implementations (`dispatch`).
                for callee in std::iter::once(callee).chain(dispatch.get(&callee).into_iter().flatten().copied()) {
                    if callee != caller && runs_here(callee) {
                        callers[callee].push((caller, i));
                    }
                }
            }
        }
        let mut best: Vec<Option<Best>> = vec![None; self.functions.len()];
        let mut queue = VecDeque::new();
        for tier in [Tier::Critical, Tier::Warning, Tier::Info, Tier::Hint] {
            for (id, slot) in best.iter_mut().enumerate() {
                if slot.is_none()
                    && let Some((t, i)) = own[id]
                    && t == tier
                {
                    *slot = Some(Best { len: 1, step: Step::Blocking(i), tail: id, once: false });
                    queue.push_back(id);
                }
            }
            // One-time work (a call behind `if self._client is None`) blocks once: it is a hint, so
            // chains cross such calls only in the hint search, from every function that blocks.
            if tier == Tier::Hint {
                for id in 0..best.len() {
                    let Some(b) = best[id] else { continue };
                    for &(caller, call) in &callers[id] {
                        if best[caller].is_none() && self.function(caller).calls[call].once.is_some() {
                            let len = b.len + 1;
                            let tail = if len <= TAIL_STEPS { caller } else { b.tail };
                            best[caller] = Some(Best { len, step: Step::Call(call, id), tail, once: true });
                            queue.push_back(caller);
                        }
                    }
                }
            }
            while let Some(id) = queue.pop_front() {
                let b = best[id].expect("queued functions have a chain");
                for &(caller, call) in &callers[id] {
                    let once = self.function(caller).calls[call].once.is_some();
                    if best[caller].is_none() && (!once || tier == Tier::Hint) {
                        let len = b.len + 1;
                        let tail = if len <= TAIL_STEPS { caller } else { b.tail };
                        best[caller] = Some(Best { len, step: Step::Call(call, id), tail, once: once || b.once });
                        queue.push_back(caller);
                    }
                }
            }
        }
        best
    }

    /// For a function that blocks (by its index in its file's summary): its chain as Markdown lines,
    /// `name` then each hop down to the blocking call.
    pub fn blocking_chain(&self, links: &Links, file: usize, index: usize) -> Option<String> {
        let chain = self.chain(links, self.file_functions[file].start + index, HEAD_HOPS)?;
        let memoized = chain.memoized;
        let mut out = String::new();
        for (k, (at, step)) in chain.steps.into_iter().enumerate() {
            if k == chain.head && chain.elided > 0 {
                let (at, step) = chain.first_elided;
                let l = self.step_loc(links, at, step).line + 1;
                let path = self.files[self.functions[at].0].display.as_str();
                out.push_str(&format!("1. … {} more calls ({path}:{l}) …\n", chain.elided));
            }
            let (f_file, _) = self.functions[at];
            let f = self.function(at);
            let path = self.files[f_file].display.as_str();
            match step {
                Step::Call(ci, next) => {
                    let l = f.calls[ci].start.line + 1;
                    out.push_str(&format!("1. calls `{}` ({path}:{l})\n", self.display_name(next)));
                }
                Step::Blocking(bi) => {
                    let b = self.site(links, at, bi);
                    out.push_str(&format!("1. calls `{}` ({path}:{}): {}\n", b.callee, b.start.line + 1, b.message));
                    if let Some(instead) = &b.instead {
                        out.push_str(&format!("\nInstead: {instead}\n"));
                    }
                }
            }
        }
        if memoized {
            out.push_str("\nIt is memoized: only its first call blocks.\n");
        }
        Some(out)
    }

    /// The shortest chain from `start` to a blocking call, bounded: each function on it with the step
    /// it takes (the last a `Step::Blocking`), all of them when the chain is short, else its first
    /// `head` steps and its last `TAIL_STEPS`, with how many were left out between. Work and size are
    /// bounded by `head + TAIL_STEPS` whatever the chain's length (its tail is a parent pointer).
    fn chain(&self, links: &Links, start: FnId, head: usize) -> Option<Chain> {
        let (best, memoized) = match (links.strict[start], links.loose[start]) {
            (Some(_), _) => (&links.strict, false),
            (None, Some(_)) => (&links.loose, true),
            _ => return None,
        };
        let first = best[start]?;
        let len = first.len as usize;
        let short = len <= head + TAIL_STEPS as usize + 1;
        let mut steps = Vec::with_capacity(len.min(head + TAIL_STEPS as usize + 1));
        let walk = |from: FnId, count: usize, steps: &mut Vec<(FnId, Step)>| -> Option<FnId> {
            let mut at = from;
            for _ in 0..count {
                let b = best[at]?;
                steps.push((at, b.step));
                match b.step {
                    Step::Call(_, next) => at = next,
                    Step::Blocking(_) => return None,
                }
            }
            Some(at)
        };
        if short {
            walk(start, len, &mut steps);
            let head = steps.len();
            return Some(Chain {
                steps,
                head,
                elided: 0,
                first_elided: (start, first.step),
                len,
                memoized,
                once: first.once,
            });
        }
        let after_head = walk(start, head, &mut steps)?;
        let first_elided = (after_head, best[after_head]?.step);
        let tail = first.tail;
        walk(tail, TAIL_STEPS as usize, &mut steps);
        matches!(steps.last(), Some((_, Step::Blocking(_)))).then_some(Chain {
            steps,
            head,
            elided: len - head - TAIL_STEPS as usize,
            first_elided,
            len,
            memoized,
            once: first.once,
        })
    }

    /// Where a function takes a step: its call's or its blocking call's position.
    fn step_loc(&self, links: &Links, at: FnId, step: Step) -> Loc {
        let f = self.function(at);
        match step {
            Step::Call(ci, _) => f.calls[ci].start,
            Step::Blocking(bi) => self.site(links, at, bi).start,
        }
    }

    /// `module.function` or `module.Class.method`, as users write them.
    fn display_name(&self, id: FnId) -> String {
        let (file, _) = self.functions[id];
        let f = self.function(id);
        let module = self.modules_of(file);
        let short = module.rsplit('.').next().unwrap_or(&module);
        if short.is_empty() || short == "__init__" { f.qualname.clone() } else { format!("{short}.{}", f.qualname) }
    }

    fn modules_of(&self, file: usize) -> String {
        let p = &self.files[file].path;
        let stem = p.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
        if stem == "__init__" {
            self.packages[file].clone()
        } else if self.packages[file].is_empty() {
            stem
        } else {
            format!("{}.{stem}", self.packages[file])
        }
    }
}

/// A finding inside one of `helpers` (`Project::command_helpers`) made a hint, saying why; `None` when
/// it is not a blocking call above `hint` in one of them.
/// Whether an `@overload`'s parameters accept a call's arguments (keyword or positional, with the
/// literal each passes, if any): every argument binds a parameter once, a literal one of a parameter
/// annotated `Literal[...]` is one it allows, and every parameter without a default is passed.
fn accepts(params: &[OverloadParam], args: &[(Option<String>, Option<String>)]) -> bool {
    let mut given = vec![false; params.len()];
    let mut positional = params.iter().enumerate().filter(|(_, p)| p.positional).map(|(i, _)| i);
    let star = params.iter().any(|p| p.name == "*");
    let kwstar = params.iter().any(|p| p.name == "**");
    for (keyword, lit) in args {
        let i = match keyword {
            None => match positional.next() {
                Some(i) => i,
                None if star => continue,
                None => return false,
            },
            Some(k) => match params.iter().position(|p| p.name == *k && p.name != "*" && p.name != "**") {
                Some(i) => i,
                None if kwstar => continue,
                None => return false,
            },
        };
        if given[i] {
            return false;
        }
        given[i] = true;
        if let (Some(allowed), Some(l)) = (&params[i].literals, lit)
            && !allowed.contains(l)
        {
            return false;
        }
    }
    params.iter().zip(&given).all(|(p, &g)| g || p.default)
}

pub fn demoted(helpers: &[&str], f: &Finding) -> Option<Finding> {
    let inside = f.function.as_deref().is_some_and(|n| helpers.contains(&n));
    if !inside || !f.rule.is_blocking() || f.tier <= Tier::Hint {
        return None;
    }
    let mut f = f.clone();
    f.tier = Tier::Hint;
    let name = f.function.clone().unwrap_or_default();
    f.message.push_str(&crate::analysis::cli_note(&name, false));
    Some(f)
}

/// The dotted names directories can be imported under, computed once per directory (parents first).
///
/// A directory with an `__init__.py` is a regular package; one without is a namespace package (PEP
/// 420), so every directory whose name is an identifier is a package. Where the import root is is not
/// known from paths alone, so a namespace directory is named from every ancestor it may be imported
/// from: `a/b/c` (no `__init__.py`) is `c`, `b.c` and `a.b.c`. A regular package inside a regular
/// package is named only through its parent, as Python imports it. The walk up stops at the project
/// root and `root/src` (they are import roots, not packages), at `top` (above the project's files), and
/// at a name that is not an identifier. Longest name first.
struct DirNames<'a> {
    dirs_with_init: &'a HashSet<PathBuf>,
    stops: Vec<PathBuf>,
    top: Option<PathBuf>,
    memo: HashMap<PathBuf, Vec<String>>,
}

/// At most this many names per directory (the deepest namespace chains are cut from the top).
const MAX_DIR_NAMES: usize = 16;

impl<'a> DirNames<'a> {
    fn new(dirs_with_init: &'a HashSet<PathBuf>, root: Option<&Path>, top: Option<PathBuf>) -> Self {
        let stops = root.map(|r| vec![r.to_path_buf(), r.join("src")]).unwrap_or_default();
        DirNames { dirs_with_init, stops, top, memo: HashMap::new() }
    }

    fn own_name(&self, d: &Path) -> Option<String> {
        if self.stops.iter().any(|s| s == d) || self.top.as_deref() == Some(d) {
            return None;
        }
        let n = d.file_name()?.to_str()?;
        is_identifier(n).then(|| n.to_string())
    }

    fn names(&mut self, d: &Path) -> &[String] {
        if !self.memo.contains_key(d) {
            // The ancestors not named yet, nearest first; then named from the farthest down.
            let mut pending: Vec<&Path> = Vec::new();
            let mut at = Some(d);
            while let Some(x) = at {
                if self.memo.contains_key(x) {
                    break;
                }
                pending.push(x);
                if self.own_name(x).is_none() {
                    break;
                }
                at = x.parent();
            }
            for x in pending.into_iter().rev() {
                let names = match self.own_name(x) {
                    None => Vec::new(),
                    Some(own) => {
                        let parent: &[String] = x.parent().and_then(|p| self.memo.get(p)).map_or(&[], Vec::as_slice);
                        let regular_in_regular = self.dirs_with_init.contains(x)
                            && x.parent().is_some_and(|p| self.dirs_with_init.contains(p))
                            && !parent.is_empty();
                        let mut names: Vec<String> = parent.iter().map(|p| format!("{p}.{own}")).collect();
                        if !regular_in_regular {
                            names.push(own);
                        }
                        names.sort_by_key(|n| std::cmp::Reverse(n.len()));
                        names.truncate(MAX_DIR_NAMES);
                        names
                    }
                };
                self.memo.insert(x.to_path_buf(), names);
            }
        }
        &self.memo[d]
    }

    /// A file's module names, longest first (then the ones from the project root and `root/src`), and
    /// its package for relative imports (its directory's longest name; the package itself for an
    /// `__init__.py`).
    fn file_names(&mut self, path: &Path, root: Option<&Path>) -> (Vec<String>, String) {
        let mut names = Vec::new();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else { return (names, String::new()) };
        let is_init = stem == "__init__";
        let dir_names: Vec<String> = path.parent().map(|d| self.names(d).to_vec()).unwrap_or_default();
        let package = dir_names.first().cloned().unwrap_or_default();
        if is_init {
            names.extend(dir_names);
        } else {
            names.extend(dir_names.iter().map(|p| format!("{p}.{stem}")));
            // Importable by its own name when its directory is on the path (a script beside it).
            let in_package = path.parent().is_some_and(|d| self.dirs_with_init.contains(d));
            if !in_package && !names.iter().any(|n| n == stem) {
                names.push(stem.to_string());
            }
        }
        root_names(path, is_init, root, &mut names);
        (names, package)
    }
}

/// The directory above every file's directory: where imports of the project's namespace packages are
/// assumed to start when no project root says so.
fn top_of(paths: &[&Path]) -> Option<PathBuf> {
    let mut common: Option<PathBuf> = None;
    for p in paths {
        let d = p.parent()?;
        common = Some(match common {
            None => d.to_path_buf(),
            Some(c) => c.components().zip(d.components()).take_while(|(a, b)| a == b).map(|(a, _)| a).collect(),
        });
    }
    common?.parent().map(Path::to_path_buf)
}

/// The dotted names a file can be imported under: from its packages, regular and namespace (see
/// `DirNames`), then relative to the project root and to `root/src`.
pub fn module_names(path: &Path, dirs_with_init: &HashSet<PathBuf>, root: Option<&Path>) -> Vec<String> {
    DirNames::new(dirs_with_init, root, None).file_names(path, root).0
}

/// Adds the names of `path` relative to the project root and to `root/src`.
fn root_names(path: &Path, is_init: bool, root: Option<&Path>, names: &mut Vec<String>) {
    if let Some(root) = root {
        for base in [root.join("src"), root.to_path_buf()] {
            if let Ok(rel) = path.strip_prefix(&base) {
                let mut comps: Vec<String> =
                    rel.components().map(|c| c.as_os_str().to_string_lossy().to_string()).collect();
                if let Some(last) = comps.last_mut() {
                    *last = last.trim_end_matches(".py").to_string();
                }
                if is_init {
                    comps.pop();
                }
                let valid = !comps.is_empty() && comps.iter().all(|c| is_identifier(c));
                let name = comps.join(".");
                if valid && !names.contains(&name) {
                    names.push(name);
                }
            }
        }
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_') && chars.all(|c| c.is_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn file(path: &str, text: &str) -> ProjectFile {
        let settings = Settings::default();
        let analysis = crate::analysis::analyze_source_file(text, Catalog::bundled(), &settings, true);
        ProjectFile { path: PathBuf::from(path), display: path.to_string(), analysis: Arc::new(analysis) }
    }

    /// Relinking one file in place gives what building the project again gives.
    #[test]
    fn replacing_a_file_with_the_same_names_relinks_like_a_rebuild() {
        let settings = Settings::default();
        let api = "from helpers import pause, idle\n\n\nasync def handler():\n    pause()\n    idle()\n";
        let versions = [
            "import time\n\n\ndef pause():\n    time.sleep(1)\n\n\ndef idle():\n    pass\n",
            // Same names: `idle` starts blocking and `pause` blocks through it; then neither blocks.
            "import time\n\n\ndef pause():\n    idle()\n\n\ndef idle():\n    time.sleep(1)\n",
            "import time\n\n\ndef pause():\n    pass\n\n\ndef idle():\n    pass\n",
            // A new function: the project is built again.
            "import time\n\n\ndef pause():\n    pass\n\n\ndef idle():\n    pause2()\n\n\ndef pause2():\n    time.sleep(1)\n",
        ];
        let build = |helpers: &str| Project::new(vec![file("/p/api.py", api), file("/p/helpers.py", helpers)], None);
        let mut project = build(versions[0]);
        let mut links = project.link(&settings);
        let mut relinked = 0;
        for helpers in &versions[1..] {
            let fresh = build(helpers);
            let fresh_links = fresh.link(&settings);
            let new = fresh.files()[1].analysis.clone();
            if project.replace_same_names(1, new, &mut links, &settings) {
                relinked += 1;
            } else {
                project = build(helpers);
                links = project.link(&settings);
            }
            assert_eq!(project.findings(&links, None, &settings), fresh.findings(&fresh_links, None, &settings));
        }
        // The last version adds a function: a rebuild; the others relink in place.
        assert_eq!(relinked, 2);
        // Calls typed in the coroutine (the chain search, of sync functions only, is kept), then in a
        // sync function (searched again).
        let helpers = versions[3];
        for api in [
            "from helpers import pause, idle\n\n\nasync def handler():\n    pause()\n    idle()\n    idle()\n",
            "from helpers import pause, idle\n\n\nasync def handler():\n    idle()\n",
        ] {
            let fresh = Project::new(vec![file("/p/api.py", api), file("/p/helpers.py", helpers)], None);
            let fresh_links = fresh.link(&settings);
            assert!(project.replace_same_names(0, fresh.files()[0].analysis.clone(), &mut links, &settings));
            assert_eq!(project.findings(&links, None, &settings), fresh.findings(&fresh_links, None, &settings));
        }
        let helpers = "import time\n\n\ndef pause():\n    pass\n\n\ndef idle():\n    pause()\n\n\ndef pause2():\n    time.sleep(1)\n";
        let api = "from helpers import pause, idle\n\n\nasync def handler():\n    idle()\n";
        let fresh = Project::new(vec![file("/p/api.py", api), file("/p/helpers.py", helpers)], None);
        let fresh_links = fresh.link(&settings);
        assert!(project.replace_same_names(1, fresh.files()[1].analysis.clone(), &mut links, &settings));
        assert_eq!(project.findings(&links, None, &settings), fresh.findings(&fresh_links, None, &settings));
    }

    /// A module-level name typed in a file (issue 13): only the functions whose calls read that file's
    /// names are resolved again, and the links equal a rebuild's, through a re-export in a third file.
    #[test]
    fn a_new_module_level_name_relinks_its_readers_like_a_rebuild() {
        let settings = Settings::default();
        let api = "from helpers import client, pause\nfrom other import slow\n\n\nasync def handler():\n    client.get('u')\n    pause()\n\n\nasync def alone():\n    slow()\n";
        let reexport = "from helpers import client as c\n\n\nasync def via():\n    c.get('u')\n";
        let other = "import time\n\n\ndef slow():\n    time.sleep(1)\n";
        let versions = [
            "import time\n\n\ndef pause():\n    time.sleep(1)\n",
            // `client` appears (a blocking session), then goes, then comes back as a name of no known type.
            "import time\nimport requests\n\nclient = requests.Session()\n\n\ndef pause():\n    time.sleep(1)\n",
            "import time\nimport requests\n\n\ndef pause():\n    time.sleep(1)\n",
            "import time\nimport requests\n\nclient = 1\n\n\ndef pause():\n    time.sleep(1)\n",
        ];
        let build = |helpers: &str| {
            Project::new(
                vec![
                    file("/p/api.py", api),
                    file("/p/helpers.py", helpers),
                    file("/p/other.py", other),
                    file("/p/reexport.py", reexport),
                ],
                None,
            )
        };
        let mut project = build(versions[0]);
        let mut links = project.link(&settings);
        // `alone` reads only `other`'s names, `via` reads `helpers`' through its import.
        let helpers_id = 1u32;
        let reads_helpers = |links: &Links, name: &str| {
            let id = project_fn(&project, name);
            links.reads[id].contains(&helpers_id)
        };
        fn project_fn(p: &Project, name: &str) -> FnId {
            (0..p.functions.len()).find(|&id| p.function(id).qualname == name).expect("a function of that name")
        }
        assert!(reads_helpers(&links, "handler") && reads_helpers(&links, "via") && !reads_helpers(&links, "alone"));
        let mut found = Vec::new();
        for helpers in &versions[1..] {
            let fresh = build(helpers);
            let fresh_links = fresh.link(&settings);
            assert!(project.replace_same_names(1, fresh.files()[1].analysis.clone(), &mut links, &settings));
            let got = project.findings(&links, None, &settings);
            assert_eq!(got, fresh.findings(&fresh_links, None, &settings));
            assert_eq!(links.edges, fresh_links.edges);
            assert_eq!(links.reads, fresh_links.reads);
            found.push(got.len());
        }
        // The session's `get` is found in `handler` and `via` while `client` is one.
        assert!(found[0] > found[1], "findings per version: {found:?}");
    }

    #[test]
    fn one_time_work_shared_by_coroutines_relinks_like_a_rebuild() {
        // A lazily created client reached from one coroutine, then from a second (folded into the
        // first's finding), then from a second behind a guard of its own (reported on its own).
        let settings = Settings::default();
        let clients = "import boto3\n\n_s3 = None\n\n\ndef get_s3():\n    global _s3\n    if _s3 is None:\n        _s3 = boto3.client(\"s3\")\n    return _s3\n";
        let api = |second: &str| {
            format!(
                "from clients import get_s3\n\n_b = None\n\n\nasync def first():\n    return get_s3()\n\n\n\
                 async def second():\n    global _b\n    {second}\n"
            )
        };
        let build = |api: &str| Project::new(vec![file("/p/api.py", api), file("/p/clients.py", clients)], None);
        let mut project = build(&api("pass"));
        let mut links = project.link(&settings);
        assert_eq!(project.findings(&links, None, &settings).len(), 1);
        for (second, n, also) in [
            ("return get_s3()", 1, 1),
            ("if _b is None:\n        _b = get_s3()", 2, 0),
            ("return get_s3()", 1, 1),
            ("pass", 1, 0),
        ] {
            let fresh = build(&api(second));
            let fresh_links = fresh.link(&settings);
            let new = fresh.files()[0].analysis.clone();
            if !project.replace_same_names(0, new, &mut links, &settings) {
                project = build(&api(second));
                links = project.link(&settings);
            }
            let found = project.findings(&links, None, &settings);
            assert_eq!(found, fresh.findings(&fresh_links, None, &settings), "after `{second}`");
            assert_eq!(found.len(), n, "after `{second}`");
            assert_eq!(found[0].also.len(), also, "after `{second}`");
        }
    }

    #[test]
    fn an_include_prefix_edited_in_place_relinks_the_routes_like_a_rebuild() {
        // `main.py` includes `steps.py`'s router under a prefix; an edit of that prefix (the summary's
        // routing changes, nothing else) relinks in place, and the route shown in `steps.py` follows.
        let settings = Settings::default();
        let steps = "import time\nfrom fastapi import APIRouter\n\nrouter = APIRouter(prefix=\"/steps\")\n\n\n\
                     @router.get(f\"/{{step_id}}/runs\")\nasync def runs(step_id: str):\n    time.sleep(1)\n";
        let main = |prefix: &str| {
            format!(
                "from fastapi import FastAPI\n\nfrom steps import router\n\napp = FastAPI()\n\
                 app.include_router(router, prefix=\"{prefix}\")\n"
            )
        };
        let build = |main: &str| Project::new(vec![file("/p/main.py", main), file("/p/steps.py", steps)], None);
        let route = |project: &Project, links: &Links| {
            let findings = &project.files()[1].analysis.findings;
            project.file_findings(links, 1, findings).iter().map(|f| f.route.clone()).collect::<Vec<_>>()
        };
        let mut project = build(&main("/api"));
        let mut links = project.link(&settings);
        assert_eq!(route(&project, &links), [Some("GET /api/steps/{step_id}/runs".to_string())]);
        for prefix in ["/v2", ""] {
            let fresh = build(&main(prefix));
            let fresh_links = fresh.link(&settings);
            assert!(!project.replace_same_shape(0, fresh.files()[0].analysis.clone()));
            assert!(project.replace_same_names(0, fresh.files()[0].analysis.clone(), &mut links, &settings));
            assert_eq!(route(&project, &links), [Some(format!("GET {prefix}/steps/{{step_id}}/runs"))]);
            assert_eq!(route(&project, &links), route(&fresh, &fresh_links));
        }
    }

    #[test]
    fn a_route_awaiting_a_command_helper_in_place_relinks_like_a_rebuild() {
        // `work` is awaited by a command only (its chain is a hint), then by a route too (critical):
        // an edit of a coroutine alone, which the chain search skips, still reclassifies commands.
        let settings = Settings::default();
        let helpers = "import time\n\n\nasync def work():\n    pause()\n\n\ndef pause():\n    time.sleep(1)\n";
        let api = |route_body: &str| {
            format!(
                "import typer\nfrom fastapi import FastAPI\nfrom helpers import work\n\ncli = typer.Typer()\n\
                 api = FastAPI()\n\n\n@cli.command()\nasync def main():\n    await work()\n\n\n\
                 @api.get(\"/\")\nasync def route():\n    {route_body}\n"
            )
        };
        let build = |api: &str| Project::new(vec![file("/p/api.py", api), file("/p/helpers.py", helpers)], None);
        let mut project = build(&api("pass"));
        let mut links = project.link(&settings);
        for body in ["await work()", "pass"] {
            let fresh = build(&api(body));
            let fresh_links = fresh.link(&settings);
            assert!(project.replace_same_names(0, fresh.files()[0].analysis.clone(), &mut links, &settings));
            assert_eq!(links.cli, fresh_links.cli, "after `{body}`");
            assert_eq!(project.findings(&links, None, &settings), fresh.findings(&fresh_links, None, &settings));
        }
    }
}
