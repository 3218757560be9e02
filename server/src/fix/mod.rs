//! The fix engine: the rewrites a developer would make by hand for a finding.
//!
//! Pure like the analysis core: source text + tree + a [`Target`] (what a diagnostic's `data` says:
//! rule, callee, fix kinds, the call's byte range, direct or chain) + catalog + [`Options`] in,
//! [`Fix`]es with byte-range edits out. No I/O, no LSP types. Which fixes apply to which API is the
//! catalog's `fixes` data; this module only knows Python syntax and how each kind of fix is written.
//!
//! Every fix is checked before it is offered, on the statements it edits only (so that the cost of a
//! fix does not grow with the file): they must parse without any ERROR or MISSING node that they did
//! not have, and keep to the grammar CPython enforces where tree-sitter's is more lenient (`await
//! await x`, `await` outside a coroutine, argument order, a keyword or parameter given twice): see
//! [`verify`]. Where a rewrite would change what the code
//! means (a call used as a context manager, a result iterated on the loop, a call inside a lambda or a
//! generator expression), the fix is not offered, and where it can explain why it says so
//! ([`Refusal`]).

mod block;
mod chain;
mod db;
mod httpx;
mod imports;
mod kinds;
mod verify;
mod workspace;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Range;

use serde::{Deserialize, Serialize};
use tree_sitter::{Node, Tree};

use crate::analysis::{self, Finding};
use crate::catalog::{Catalog, FixKind};
use crate::rules::Rule;
use crate::settings::{OffloadFlavor, Settings};

pub use imports::Imports;
pub use workspace::{
    FileEdits, MadeAsync, Parsed, Read, Tries, WorkspaceFile, make_async_everywhere, make_async_tried, make_async_with,
    make_sync_everywhere, make_sync_with,
};

/// Whether applying a fix keeps the program's behaviour (bar the blocking).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Applicability {
    Safe,
    Unsafe,
}

/// What a fix does, for clients that group or filter them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FixId {
    Offload,
    MakeSync,
    Httpx,
    AsyncSleep,
    AsyncFile,
    /// A sync database connection made its async driver's (`sqlite3` → `aiosqlite`).
    AsyncDriver,
    /// A whole sync `with` block moved into a nested function run in a thread.
    OffloadBlock,
    /// The sync functions of a chain made `async def`, their calls awaited, the blocking call replaced.
    MakeAsync,
    Noqa,
}

impl FixId {
    /// Fixes that `--fix` and `source.fixAll` apply to one file (a suppression is only ever chosen by
    /// hand; a chain is made async only across the workspace, `make_async_everywhere`, since its
    /// functions may be called from other files).
    pub fn is_automatic(self) -> bool {
        !matches!(self, FixId::Noqa | FixId::MakeAsync)
    }

    /// The package a fix's rewrite brings in that a project may not have (the editor's title says so
    /// when the project does not declare it). The async file fix is only offered where anyio is.
    pub fn package(self) -> Option<&'static str> {
        match self {
            FixId::Httpx => Some("httpx"),
            _ => None,
        }
    }
}

/// Replace `range` (bytes of the original text) by `text`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Edit {
    pub range: Range<usize>,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fix {
    pub id: FixId,
    pub title: String,
    pub applicability: Applicability,
    /// Sorted, non-overlapping edits of the target's file.
    pub edits: Vec<Edit>,
}

/// A fix as `--output-format json` lists it: edits with 1-based lines and character columns. Typed,
/// not a JSON value, so that a report of many fixes holds only their text and numbers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReportedFix {
    pub title: String,
    pub kind: FixId,
    pub applicability: Applicability,
    pub edits: Vec<ReportedEdit>,
    /// For a fix shared by several findings (see [`Shared`]): the fingerprint of the finding (in the same
    /// file) whose fix lists the edits, which are then left out here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_as: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReportedEdit {
    pub start: ReportedPosition,
    pub end: ReportedPosition,
    pub content: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ReportedPosition {
    pub line: usize,
    pub column: usize,
}

/// A fix that is not offered, and why (shown by editors as a disabled action).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub id: FixId,
    pub title: String,
    pub reason: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Fixes {
    /// Safest first; the suppression last.
    pub fixes: Vec<Fix>,
    pub refused: Vec<Refusal>,
    /// The fixes in `fixes` (one of each kind) that rewrite a whole block, and so fix every finding in
    /// it: a request on a session can have both the httpx rewrite and the whole-block offload.
    pub shared: Vec<Shared>,
}

/// A fix that rewrites a whole block and so fixes every finding in it: the httpx rewrite of a
/// `with requests.Session() as s:` block, shared by every request on `s`. In a sharing context
/// ([`FileContext::sharing`]) only the first finding asked about a block gets the fix's edits (built and
/// checked once); the others get it with no edits, so that the fixes of a file's findings hold each
/// edit once, not the block's whole rewrite once per finding (quadratic in the block's size).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Shared {
    pub id: FixId,
    /// The block's first byte.
    pub block: usize,
}

/// The block-wide fix of the block `key` (a node id; `block`, its first byte), memoized in `memo`: built
/// by `build` and checked once, since every finding of the block asks for it and it fixes them all. In
/// a sharing context only the first finding asking gets its edits (see [`Shared`]). Whether a fix was
/// offered (else `out` has the refusal, if any).
fn shared_fix(
    ctx: &FileContext<'_>,
    memo: &std::cell::RefCell<std::collections::HashMap<usize, Fixes>>,
    key: usize,
    block: usize,
    build: impl FnOnce(&mut Fixes),
    out: &mut Fixes,
) -> bool {
    let mut memo = memo.borrow_mut();
    let (known, first) = match memo.entry(key) {
        std::collections::hash_map::Entry::Occupied(e) => (e.into_mut(), false),
        std::collections::hash_map::Entry::Vacant(e) => {
            let mut fixes = Fixes::default();
            build(&mut fixes);
            fixes.fixes.retain_mut(|f| {
                normalize(&mut f.edits);
                !f.edits.is_empty() && !ctx.breaks_syntax(&f.edits)
            });
            (e.insert(fixes), true)
        }
    };
    for fix in &known.fixes {
        out.shared.push(Shared { id: fix.id, block });
        if first || !ctx.sharing {
            out.fixes.push(fix.clone());
        } else {
            let (id, title, applicability) = (fix.id, fix.title.clone(), fix.applicability);
            out.fixes.push(Fix { id, title, applicability, edits: Vec::new() });
        }
    }
    out.refused.extend(known.refused.iter().cloned());
    !known.fixes.is_empty()
}

/// What a fix is for: everything a diagnostic's `data` carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub rule: Rule,
    /// The blocking API (at the end of the chain for a chain finding).
    pub callee: Option<String>,
    pub kinds: Vec<FixKind>,
    /// The call (whole call or its callee expression), or for a finding on a function its name.
    pub range: Range<usize>,
    /// A call to a sync project function that blocks further down.
    pub chain: bool,
}

impl Target {
    pub fn from_finding(f: &Finding, chain: bool) -> Target {
        Target {
            rule: f.rule,
            callee: f.callee.clone(),
            kinds: f.fix_kinds.clone(),
            range: f.call_range.clone().unwrap_or_else(|| f.range.clone()),
            chain,
        }
    }
}

/// What the fixes depend on beyond the file: the `offload` setting and the project's dependencies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub offload: OffloadFlavor,
    /// `anyio` can be imported (a dependency of the project, or of FastAPI/Starlette/httpx).
    pub anyio_available: bool,
    /// The module the httpx rewrite writes `AsyncClient` from in a file that imports neither httpx nor
    /// an alternative distribution of its API: one the project depends on instead of httpx (`httpx2`),
    /// or `None` for `httpx`.
    pub http_module: Option<String>,
}

impl Options {
    pub fn new(settings: &Settings, anyio_available: bool) -> Options {
        Options { offload: settings.offload, anyio_available, http_module: None }
    }

    pub fn with_http_module(mut self, module: Option<String>) -> Options {
        self.http_module = module;
        self
    }
}

/// The byte ranges of the `function_definition`s that FastAPI/Starlette run as routes or dependencies.
pub type Endpoints = HashSet<(usize, usize)>;

/// A file's [`Endpoints`].
pub fn endpoints(text: &str, tree: &Tree, catalog: &Catalog) -> Endpoints {
    analysis::endpoint_ranges(text, tree, catalog).into_iter().map(|r| (r.start, r.end)).collect()
}

/// One file, read once for all the fixes asked of it.
pub struct FileContext<'a> {
    pub text: &'a str,
    pub tree: &'a Tree,
    pub catalog: &'a Catalog,
    pub options: &'a Options,
    imports: Imports,
    /// The `function_definition` ranges that FastAPI/Starlette run as routes or dependencies: given by
    /// the caller ([`FileContext::with_endpoints`]) or else found on first use (a query of the whole file,
    /// an analysis: the context of a chain's rewritten file, built once per chain, seldom asks).
    /// (Two fields: a cell of a borrowed value would make the context invariant in `'a`.)
    endpoints: Option<Cow<'a, Endpoints>>,
    found_endpoints: std::cell::OnceCell<Endpoints>,
    verifier: verify::Verifier,
    /// The module's top-level nodes, in order (for [`FileContext::up`]).
    tops: Vec<Node<'a>>,
    /// Where each of `tops` starts (bisected without a call into tree-sitter per step).
    top_starts: Vec<usize>,
    /// Per-file facts that fixes of many findings share, computed at most once (see `kinds`).
    pub(crate) memo: kinds::Memo,
    /// Whether a fix shared by several findings comes with its edits for the first one only ([`Shared`]).
    sharing: bool,
    /// The file's shared tables (parents, call list), when the caller built them ([`FileContext::with_tables`]).
    tables: Option<&'a FileTables<'a>>,
    /// Parents found by [`FileContext::up`]'s descents (every step of each), by node id: a fix climbs
    /// from a few nodes, through the same ancestors. Emptied when it grows past [`MAX_KEPT_PARENTS`].
    parents: std::cell::RefCell<std::collections::HashMap<usize, RawNode, std::hash::BuildHasherDefault<IdHasher>>>,
    /// The id of the tree's root (which has no parent).
    root_id: usize,
}

/// A node of a context's tree without its lifetime, for the context's cache of parents (a cell of
/// `Node<'a>` would make the context invariant in `'a`). Made back into a node only by the context
/// whose tree it is ([`FileContext::up`]).
#[derive(Clone, Copy)]
struct RawNode(tree_sitter::ffi::TSNode);

// SAFETY: a `TSNode` is all that a `Node` holds, and tree-sitter declares `Node` `Send` and `Sync` (the
// tree it points into is immutable).
unsafe impl Send for RawNode {}
unsafe impl Sync for RawNode {}

/// What a [`FileContext`] reads of its file up front: the imports and the module's top-level nodes (with
/// where each starts). Read once for the contexts of one file's threads ([`FileContext::with_parts`]).
#[derive(Clone)]
pub struct FileParts<'a> {
    imports: Imports,
    tops: Vec<Node<'a>>,
    top_starts: Vec<usize>,
}

impl<'a> FileParts<'a> {
    pub fn of(text: &str, tree: &'a Tree) -> FileParts<'a> {
        let root = tree.root_node();
        let mut c = root.walk();
        let tops: Vec<Node<'a>> = root.children(&mut c).collect();
        let top_starts = tops.iter().map(|t| t.start_byte()).collect();
        FileParts { imports: Imports::scan(text, tree), tops, top_starts }
    }
}

/// The most parents a context keeps from its descents (bounded memory on any file; room for the
/// statements of the findings it is fixing, small enough to stay in the processor's caches).
const MAX_KEPT_PARENTS: usize = 1 << 12;

/// Facts about one file that all its contexts share (the threads fixing its findings), for contexts that
/// fix many findings: every node's parent, found in one walk (they ask for hundreds of thousands of
/// parents, and [`FileContext::up`] without it descends from a top-level statement each time; keyed by
/// node id), and the file's call list for make-sync (one walk of the file, not one per context).
pub struct FileTables<'a> {
    map: std::collections::HashMap<usize, Node<'a>, std::hash::BuildHasherDefault<IdHasher>>,
    /// The first line where each name is called (see `kinds::called_in_file`).
    pub(crate) calls: std::sync::OnceLock<std::collections::HashMap<String, usize>>,
    /// Every call of a plain name, in tree order: its 1-based line and the name's identifier (found in
    /// the same walk as the parents, for `calls`: not a walk of the file of its own).
    pub(crate) call_sites: Vec<(usize, Node<'a>)>,
    /// For tables made by [`FileTables::lazy`] (no walk, no parents, no call list): where each name stands
    /// before a `(` in the file, found on the first question ([`call_candidates`]).
    lazy: Option<std::sync::OnceLock<CallCandidates>>,
}

/// Where each name stands right before a `(` (blanks, comments and line continuations between), in text
/// order, by the name's hash ([`name_key`]; a cell of borrowed names would make the tables invariant):
/// a superset of the file's calls of plain names, each to be checked on the text and the tree.
type CallCandidates = std::collections::HashMap<u64, Vec<usize>, std::hash::BuildHasherDefault<IdHasher>>;

/// The key of a name in [`CallCandidates`].
fn name_key(name: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(name.as_bytes())
}

/// The [`CallCandidates`] of the context's text: from each `(` back over blanks of its line to the run of
/// ASCII letters, digits and `_` before them, when that run starts with a letter or `_` after a byte
/// that is neither (it is then a whole token: the grammar's identifiers are such runs). Anything else
/// before a `(` (a line break, a line continuation or a comment between, a non-ASCII character, a run
/// starting with a digit) is looked up on the tree: the `(` opening a call's arguments, and the call's
/// function when it is an identifier. Every call of a plain name is found, with other runs (in strings,
/// comments, definitions, attributes) that the tree then rules out.
fn call_candidates(ctx: &FileContext<'_>) -> CallCandidates {
    let text = ctx.text;
    let b = text.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = CallCandidates::default();
    let k = kind_ids();
    for open in memchr::memchr_iter(b'(', b) {
        let mut end = open;
        while end > 0 && matches!(b[end - 1], b' ' | b'\t' | 0x0b | 0x0c) {
            end -= 1;
        }
        let mut start = end;
        while start > 0 && word(b[start - 1]) {
            start -= 1;
        }
        let plain = start < end && !b[start].is_ascii_digit() && (start == 0 || b[start - 1].is_ascii());
        if plain {
            out.entry(name_key(&text[start..end])).or_default().push(start);
            continue;
        }
        if start == end && end > 0 && !matches!(b[end - 1], b'\n' | b'\r' | b'\\') && b[end - 1].is_ascii() {
            // A bracket, an operator, a quote... before the `(`: no name is called with it.
            continue;
        }
        // On the tree: the `(` of a call's arguments, and the call's function.
        let function = verify::descendant_around(ctx, &(open..open + 1))
            .filter(|p| p.start_byte() == open && p.end_byte() == open + 1)
            .and_then(|p| ctx.up(p))
            .and_then(|args| ctx.up(args).map(|call| (args, call)))
            .filter(|(args, call)| {
                call.kind_id() == k.call && call.child_by_field_name("arguments").map(|a| a.id()) == Some(args.id())
            })
            .and_then(|(_, call)| call.child_by_field_id(k.function))
            .filter(|f| f.kind_id() == k.identifier);
        if let Some(f) = function {
            out.entry(name_key(ctx.node_text(f))).or_default().push(f.start_byte());
        }
    }
    for offsets in out.values_mut() {
        offsets.sort_unstable();
        offsets.dedup();
    }
    out
}

impl<'a> FileTables<'a> {
    /// Tables that hold nothing up front, for contexts that fix a file's findings once (JSON output):
    /// each context finds the parents its fixes ask for by descending from their top-level statement
    /// (kept per context, [`FileContext::up`]), and make-sync's question whether a function is called in
    /// the file is answered from [`call_candidates`] checked on the tree, not from a walk of every node.
    pub fn lazy() -> FileTables<'a> {
        FileTables {
            map: Default::default(),
            calls: std::sync::OnceLock::new(),
            call_sites: Vec::new(),
            lazy: Some(std::sync::OnceLock::new()),
        }
    }

    pub fn of(tree: &'a Tree) -> FileTables<'a> {
        let root = tree.root_node();
        let mut map = std::collections::HashMap::with_capacity_and_hasher(root.descendant_count(), Default::default());
        let mut call_sites = Vec::new();
        // Kinds and field compared by id: this visits every node of the file.
        let k = kind_ids();
        // Depth first, in tree order (the call list's order): each node's children read by index
        // ([`children`]), pushed last first. (A tree cursor's steps cost about 750 instructions a node
        // here, index reads about half that.)
        let mut stack: Vec<Node<'a>> = vec![root];
        let mut kids: Vec<Node<'a>> = Vec::new();
        while let Some(node) = stack.pop() {
            if node.kind_id() == k.call
                && let Some(f) = node.child_by_field_id(k.function).filter(|f| f.kind_id() == k.identifier)
            {
                call_sites.push((node.start_position().row + 1, f));
            }
            kids.clear();
            kids.extend(children(node, false));
            for &c in &kids {
                map.insert(c.id(), node);
            }
            stack.extend(kids.iter().rev());
        }
        FileTables { map, calls: std::sync::OnceLock::new(), call_sites, lazy: None }
    }
}

/// Nodes with at most this many children have them read by index ([`children`]).
const FEW_CHILDREN: u32 = 16;

/// The children of `n` in order, as `n.children(&mut n.walk())` gives them (its named children only,
/// as `named_children` gives them, when `named`). A cursor made for a node allocates, and each of its
/// steps costs hundreds of instructions; `child(i)` looks from the first child each time (through hidden
/// nodes by their counts), which is cheaper for the few children most nodes have. A node with many
/// children is read with a cursor (linear).
pub(crate) fn children(n: Node<'_>, named: bool) -> Children<'_> {
    let count = if named { n.named_child_count() as u32 } else { n.child_count() };
    if count <= FEW_CHILDREN {
        Children::Few { node: n, next: 0, count, named }
    } else {
        let mut c = n.walk();
        let all: Vec<Node<'_>> = if named { n.named_children(&mut c).collect() } else { n.children(&mut c).collect() };
        Children::Many(all.into_iter())
    }
}

/// The iterator of [`children`].
pub(crate) enum Children<'t> {
    Few { node: Node<'t>, next: u32, count: u32, named: bool },
    Many(std::vec::IntoIter<Node<'t>>),
}

impl<'t> Iterator for Children<'t> {
    type Item = Node<'t>;

    fn next(&mut self) -> Option<Node<'t>> {
        match self {
            Children::Few { node, next, count, named } => {
                while *next < *count {
                    let i = *next;
                    *next += 1;
                    let child = if *named { node.named_child(i) } else { node.child(i) };
                    if child.is_some() {
                        return child;
                    }
                }
                None
            }
            Children::Many(all) => all.next(),
        }
    }
}

/// Node kinds and fields the fixes compare often, by id (a node's `kind()` measures and checks its
/// name's C string each time).
pub(crate) struct KindIds {
    pub call: u16,
    pub identifier: u16,
    pub function_definition: u16,
    pub function: u16,
}

pub(crate) fn kind_ids() -> &'static KindIds {
    static IDS: std::sync::OnceLock<KindIds> = std::sync::OnceLock::new();
    IDS.get_or_init(|| {
        let language = crate::syntax::language();
        KindIds {
            call: language.id_for_node_kind("call", true),
            identifier: language.id_for_node_kind("identifier", true),
            function_definition: language.id_for_node_kind("function_definition", true),
            function: language.field_id_for_name("function").map_or(0, |f| f.get()),
        }
    })
}

/// [`kind_of`] as a method: `node.kind_name()` is `node.kind()`, read from a table.
/// `node.field(name)` is `node.child_by_field_name(name)`, the field's id found in a table (tree-sitter
/// compares the name with each of the language's field names in C, for every call).
pub(crate) trait KindName<'t> {
    fn kind_name(&self) -> &'t str;
    fn field(&self, name: &str) -> Option<Node<'t>>;
}

impl<'t> KindName<'t> for Node<'t> {
    #[inline]
    fn kind_name(&self) -> &'t str {
        kind_of(*self)
    }

    #[inline]
    fn field(&self, name: &str) -> Option<Node<'t>> {
        static FIELDS: std::sync::OnceLock<Vec<(&'static str, u16)>> = std::sync::OnceLock::new();
        let fields = FIELDS.get_or_init(|| {
            let language = crate::syntax::language();
            (1..=language.field_count() as u16)
                .filter_map(|id| {
                    let name = language.field_name_for_id(id)?;
                    // Leaked once: the language's few dozen field names.
                    Some((&*Box::leak(name.to_string().into_boxed_str()), id))
                })
                .collect()
        });
        match fields.iter().find(|(n, _)| *n == name) {
            Some(&(_, id)) => self.child_by_field_id(id),
            None => self.child_by_field_name(name),
        }
    }
}

/// A node's kind, as `Node::kind` gives it, from a table of the language's kind names (no C string
/// measured and checked per call: the fixes ask hundreds of thousands of times).
pub(crate) fn kind_of<'t>(node: Node<'t>) -> &'t str {
    static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    let names = NAMES.get_or_init(|| {
        let language = crate::syntax::language();
        // Leaked once: a few hundred short names, for the life of the process.
        (0..language.node_kind_count() as u16)
            .map(|id| &*Box::leak(language.node_kind_for_id(id).unwrap_or("").to_string().into_boxed_str()))
            .collect()
    });
    names.get(node.kind_id() as usize).copied().unwrap_or_else(|| node.kind())
}

/// A hasher for node ids (addresses): one multiplication, its high bits turned down to the low ones.
#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

impl<'a> FileContext<'a> {
    /// A context on `text` (parsed as `tree`); its [`endpoints`] are found when a fix first asks.
    pub fn new(text: &'a str, tree: &'a Tree, catalog: &'a Catalog, options: &'a Options) -> FileContext<'a> {
        Self::build(text, tree, catalog, options, None)
    }

    /// [`FileContext::new`] with the file's [`endpoints`] already known: several contexts on one file
    /// (threads sharing out its findings) find them once, not each (it is an analysis of the file).
    pub fn with_endpoints(
        text: &'a str,
        tree: &'a Tree,
        catalog: &'a Catalog,
        options: &'a Options,
        endpoints: Cow<'a, Endpoints>,
    ) -> FileContext<'a> {
        Self::build(text, tree, catalog, options, Some(endpoints))
    }

    /// [`FileContext::with_endpoints`] with the file's imports and top-level statements already read
    /// ([`FileParts`]): the contexts of one file's threads read them once.
    pub fn with_parts(
        text: &'a str,
        tree: &'a Tree,
        catalog: &'a Catalog,
        options: &'a Options,
        endpoints: Cow<'a, Endpoints>,
        parts: FileParts<'a>,
    ) -> FileContext<'a> {
        Self::build_from(text, tree, catalog, options, Some(endpoints), parts)
    }

    fn build(
        text: &'a str,
        tree: &'a Tree,
        catalog: &'a Catalog,
        options: &'a Options,
        endpoints: Option<Cow<'a, Endpoints>>,
    ) -> FileContext<'a> {
        Self::build_from(text, tree, catalog, options, endpoints, FileParts::of(text, tree))
    }

    fn build_from(
        text: &'a str,
        tree: &'a Tree,
        catalog: &'a Catalog,
        options: &'a Options,
        endpoints: Option<Cow<'a, Endpoints>>,
        parts: FileParts<'a>,
    ) -> FileContext<'a> {
        let FileParts { imports, tops, top_starts } = parts;
        FileContext {
            text,
            tree,
            catalog,
            options,
            imports,
            endpoints,
            found_endpoints: std::cell::OnceCell::new(),
            verifier: verify::Verifier::default(),
            tops,
            top_starts,
            memo: kinds::Memo::default(),
            sharing: false,
            tables: None,
            parents: Default::default(),
            root_id: tree.root_node().id(),
        }
    }

    /// This context, sharing `tables` (built on this context's tree) with the file's other contexts.
    pub fn with_tables(mut self, tables: &'a FileTables<'a>) -> Self {
        self.tables = Some(tables);
        self
    }

    /// This context, giving a fix shared by several findings (a [`Shared`] one) with its edits to the
    /// first finding asked about it only, and with no edits to the others: for callers that apply or list
    /// the fixes of every finding of the file (`fix_all`, JSON output), not for one finding's quick fix.
    pub fn sharing(mut self) -> Self {
        self.sharing = true;
        self
    }

    /// The file's shared tables, when the caller built them ([`FileContext::with_tables`]).
    pub(crate) fn tables(&self) -> Option<&'a FileTables<'a>> {
        self.tables
    }

    /// A node's parent. tree-sitter's `parent()` searches down from the root, through every top-level
    /// statement before the node's: its cost grows with the file, and a fix asks for many parents. Here
    /// the top-level statement is found by bisection, and the search starts from it.
    pub(crate) fn up(&self, node: Node<'a>) -> Option<Node<'a>> {
        if node.id() == self.root_id {
            return None;
        }
        if let Some(&parent) = self.tables.filter(|p| !p.map.is_empty()).and_then(|p| p.map.get(&node.id())) {
            return Some(parent);
        }
        if let Some(&RawNode(parent)) = self.parents.borrow().get(&node.id()) {
            // SAFETY: the cache holds only nodes of `self.tree` (put there below), which lives for `'a`.
            return Some(unsafe { Node::from_raw(parent) });
        }
        let (start, end) = (node.start_byte(), node.end_byte());
        let i = self.top_starts.partition_point(|&t| t <= start);
        let Some(mut cur) = i.checked_sub(1).map(|i| self.tops[i]).filter(|t| t.end_byte() >= end) else {
            return node.parent();
        };
        if cur.id() == node.id() {
            return Some(self.tree.root_node());
        }
        // Each step's parent is kept: the climbs that follow (to the function, the statement, the
        // module) find them without descending again.
        let mut parents = self.parents.borrow_mut();
        if parents.len() >= MAX_KEPT_PARENTS {
            parents.clear();
        } else if parents.capacity() == 0 {
            parents.reserve(MAX_KEPT_PARENTS);
        }
        for _ in 0..kinds::MAX_NODES {
            match cur.child_with_descendant(node) {
                Some(next) if next.id() == node.id() => {
                    parents.insert(next.id(), RawNode(cur.into_raw()));
                    return Some(cur);
                }
                Some(next) => {
                    parents.insert(next.id(), RawNode(cur.into_raw()));
                    cur = next;
                }
                None => break,
            }
        }
        node.parent()
    }

    /// Every fix for `target`, safest first; each checked to parse.
    pub fn fixes(&self, target: &Target) -> Fixes {
        self.fixes_of(target, false)
    }

    /// The fixes `--fix`, `source.fixAll` and JSON output list: all but the suppression.
    pub fn automatic_fixes(&self, target: &Target) -> Fixes {
        self.fixes_of(target, true)
    }

    fn fixes_of(&self, target: &Target, automatic_only: bool) -> Fixes {
        let mut out = Fixes::default();
        if target.range.end > self.text.len() || target.range.start > target.range.end {
            return out;
        }
        kinds::collect(self, target, !automatic_only, &mut out);
        if automatic_only {
            out.fixes.retain(|f| f.id.is_automatic());
        }
        let shared = std::mem::take(&mut out.shared);
        out.fixes.retain_mut(|f| {
            if f.edits.is_empty() && shared.iter().any(|s| s.id == f.id) {
                // A shared fix, checked when its first finding was asked about.
                return true;
            }
            normalize(&mut f.edits);
            !f.edits.is_empty() && !self.breaks_syntax(&f.edits)
        });
        out.fixes.sort_by_key(|f| (f.id == FixId::Noqa, f.applicability));
        out.shared = shared;
        out
    }

    /// Whether the (sorted) edits break the code where they apply (see [`verify`]).
    fn breaks_syntax(&self, edits: &[Edit]) -> bool {
        self.verifier.breaks(self, edits)
    }

    /// The one module-level statement `name = constructor(...)` of the file: the statement, the call,
    /// the identifier on the left, and the constructor's canonical qualified name. `None` when the
    /// module binds `name` that way more than once, or its first such binding is not a call of a name
    /// the imports qualify. (A module-level client or session that a fix converts.)
    pub(crate) fn module_constructed(&self, name: &str) -> Option<(Node<'a>, Node<'a>, Node<'a>, String)> {
        // Every top-level binding found in one pass over the module, on the first question.
        let bound = self.memo.constructed.get_or_init(|| {
            let mut bound: HashMap<String, Option<(usize, String)>> = HashMap::new();
            for (i, stmt) in self.tops.iter().enumerate().filter(|(_, s)| s.is_named()) {
                let Some(a) = stmt
                    .named_child(0)
                    .filter(|a| stmt.kind_name() == "expression_statement" && a.kind_name() == "assignment")
                else {
                    continue;
                };
                let Some(left) = a.field("left").filter(|l| l.kind_name() == "identifier") else { continue };
                match bound.entry(self.node_text(left).to_string()) {
                    // Bound twice: not one client.
                    std::collections::hash_map::Entry::Occupied(mut e) => {
                        e.insert(None);
                    }
                    std::collections::hash_map::Entry::Vacant(e) => {
                        let q = a
                            .field("right")
                            .filter(|r| r.kind_name() == "call")
                            .and_then(|ctor| ctor.field("function"))
                            .and_then(|f| self.imports.qualified(self.node_text(f)));
                        e.insert(q.map(|q| (i, self.catalog.canonical(&q))));
                    }
                }
            }
            bound
        });
        let (i, q) = bound.get(name)?.as_ref()?;
        let stmt = self.tops[*i];
        let a = stmt.named_child(0)?;
        Some((stmt, a.field("right")?, a.field("left")?, q.clone()))
    }

    /// The smallest `call` node for the target: the call itself, or the call whose callee it is.
    pub(crate) fn call_node(&self, range: &Range<usize>) -> Option<Node<'a>> {
        // From the top-level statement around the range, not from the root (the same node).
        let mut node = verify::descendant_around(self, range)?;
        for _ in 0..64 {
            let is_call = node.kind_name() == "call"
                && (node.byte_range() == *range || node.field("function").is_some_and(|f| f.byte_range() == *range));
            if is_call {
                return Some(node);
            }
            if node.byte_range() != *range && node.byte_range().len() > range.len() {
                // Only the node itself or its direct parent can be the call.
                let p = self.up(node)?;
                return (p.kind_name() == "call" && p.field("function")?.byte_range() == *range).then_some(p);
            }
            node = self.up(node)?;
        }
        None
    }

    /// The imports as seen at `site`: the module's, and those of the functions around it (see
    /// [`Imports::at`]).
    pub(crate) fn imports_at(&self, site: Node<'_>) -> Cow<'_, Imports> {
        let function_definition = kind_ids().function_definition;
        let mut locals = Vec::new();
        // The ancestors' ids, made a set only when a function around the site imports something.
        let mut ancestors = Vec::new();
        let mut n = self.up(site);
        for _ in 0..4096 {
            let Some(cur) = n else { break };
            ancestors.push(cur.id());
            if cur.kind_id() == function_definition {
                let mut memo = self.memo.local_imports.borrow_mut();
                locals.extend(
                    memo.entry(cur.id()).or_insert_with(|| imports::local_imports(self.text, cur)).iter().cloned(),
                );
            }
            n = self.up(cur);
        }
        if locals.is_empty() {
            Cow::Borrowed(&self.imports)
        } else {
            let ancestors: HashSet<usize> = ancestors.into_iter().collect();
            Cow::Owned(self.imports.at(&locals, &ancestors, site.start_byte()))
        }
    }

    pub(crate) fn is_endpoint(&self, def: Node<'_>) -> bool {
        let known = match &self.endpoints {
            Some(e) => e,
            None => self.found_endpoints.get_or_init(|| endpoints(self.text, self.tree, self.catalog)),
        };
        known.contains(&(def.start_byte(), def.end_byte()))
    }

    pub(crate) fn node_text(&self, n: Node<'_>) -> &'a str {
        &self.text[n.byte_range()]
    }
}

/// Sorts edits and merges insertions at the same point (imports added by one fix).
fn normalize(edits: &mut Vec<Edit>) {
    edits.sort_by_key(|e| (e.range.start, e.range.end));
    edits.dedup();
    let mut out: Vec<Edit> = Vec::with_capacity(edits.len());
    for e in edits.drain(..) {
        if let Some(last) = out.last_mut()
            && last.range.is_empty()
            && e.range.is_empty()
            && last.range.start == e.range.start
        {
            last.text.push_str(&e.text);
            continue;
        }
        out.push(e);
    }
    *edits = out;
}

/// Applies sorted edits; `None` when two overlap.
pub fn apply(text: &str, edits: &[Edit]) -> Option<String> {
    let mut out = String::with_capacity(text.len() + edits.iter().map(|e| e.text.len()).sum::<usize>());
    let mut at = 0;
    for e in edits {
        if e.range.start < at || e.range.end > text.len() {
            return None;
        }
        out.push_str(text.get(at..e.range.start)?);
        out.push_str(&e.text);
        at = e.range.end;
    }
    out.push_str(text.get(at..)?);
    Some(out)
}

/// The tree of `new`, the text `edits` (sorted, not overlapping, as [`apply`] takes them) make of `text`,
/// parsed incrementally from `tree` (the tree of `text`): the unchanged parts of the file are reused, so
/// the cost grows with the edits, not with the file (a chain's rewritten file is parsed once per chain
/// tried, a file's many chains once each). tree-sitter's incremental parse gives the tree a fresh parse
/// gives (the language server relies on it for every keystroke).
pub(crate) fn reparse(text: &str, tree: &Tree, edits: &[Edit], new: &str) -> Option<Tree> {
    use tree_sitter::{InputEdit, Point};
    // The points of the edits' ends in `text`, in one pass (the edits are sorted).
    let mut points: Vec<(Point, Point)> = Vec::with_capacity(edits.len());
    let (mut at, mut row, mut line_start) = (0usize, 0usize, 0usize);
    let bytes = text.as_bytes();
    let mut point_of = |offset: usize| {
        let offset = offset.min(bytes.len()).max(at);
        for (i, &b) in bytes[at..offset].iter().enumerate() {
            if b == b'\n' {
                row += 1;
                line_start = at + i + 1;
            }
        }
        at = offset;
        Point::new(row, offset - line_start)
    };
    for e in edits {
        let start = point_of(e.range.start);
        let end = point_of(e.range.end);
        points.push((start, end));
    }
    let mut old = tree.clone();
    // Last edit first: the offsets and points of the edits before it are still those of `text`.
    for (e, (start, end)) in edits.iter().zip(points).rev() {
        let new_end = match e.text.rfind('\n') {
            Some(last) => Point::new(start.row + e.text.matches('\n').count(), e.text.len() - last - 1),
            None => Point::new(start.row, start.column + e.text.len()),
        };
        old.edit(&InputEdit {
            start_byte: e.range.start,
            old_end_byte: e.range.end,
            new_end_byte: e.range.start + e.text.len(),
            start_position: start,
            old_end_position: end,
            new_end_position: new_end,
        });
    }
    crate::syntax::parse(new, Some(&old))
}

/// Counts ERROR and MISSING nodes (bounded walk).
pub fn error_count(tree: &Tree) -> usize {
    let mut count = 0;
    if !tree.root_node().has_error() {
        return 0;
    }
    crate::syntax::walk_preorder(tree.root_node(), |n| {
        if n.is_error() || n.is_missing() {
            count += 1;
        }
        n.has_error() && !n.is_error()
    });
    count
}

/// Whether `new` has more ERROR/MISSING nodes than the original had.
pub fn introduces_syntax_error(before: usize, new: &str) -> bool {
    match crate::syntax::parse(new, None) {
        Some(tree) => error_count(&tree) > before,
        None => true,
    }
}

/// The result of fixing one file's text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FixedText {
    pub text: String,
    /// Fixes applied, over all rounds.
    pub applied: usize,
    /// The fix titles applied, in order (for reports and tests).
    pub titles: Vec<String>,
}

/// How far `fix_all` iterates before it gives up converging.
pub const MAX_ROUNDS: usize = 10;

/// Applies every automatic fix of the allowed applicability, round after round, until a round changes
/// nothing (at most [`MAX_ROUNDS`]). The first round also fixes `extra` targets (chain findings, which
/// need the whole project to be found); later rounds re-analyse the text itself, and chain targets not
/// yet fixed are carried over, moved by the edits made before them.
pub fn fix_all(
    text: &str,
    extra: Vec<Target>,
    catalog: &Catalog,
    settings: &Settings,
    options: &Options,
    allow_unsafe: bool,
) -> FixedText {
    fix_all_until(text, extra, catalog, settings, options, allow_unsafe, &|| false)
}

/// [`fix_all`] that stops between steps (rounds and findings) once `cancelled` returns true: the
/// language server's `source.fixAll` when its request is cancelled. What it returns then is a partial
/// result, to be thrown away.
pub fn fix_all_until(
    text: &str,
    extra: Vec<Target>,
    catalog: &Catalog,
    settings: &Settings,
    options: &Options,
    allow_unsafe: bool,
    cancelled: &dyn Fn() -> bool,
) -> FixedText {
    fix_rounds(text, extra, Vec::new(), catalog, settings, options, &automatic(allow_unsafe), true, cancelled)
}

/// [`fix_all`] that leaves the findings of `skip` alone (`check --fix --baseline`: what the baseline
/// holds is not reported, so it is not fixed either). A skipped finding is matched by rule and range,
/// followed through the edits of each round.
pub fn fix_all_except(
    text: &str,
    extra: Vec<Target>,
    skip: Vec<Target>,
    catalog: &Catalog,
    settings: &Settings,
    options: &Options,
    allow_unsafe: bool,
) -> FixedText {
    fix_rounds(text, extra, skip, catalog, settings, options, &automatic(allow_unsafe), true, &|| false)
}

/// The choice of `--fix` (with `--unsafe-fixes`: `allow_unsafe`): a finding's first automatic fix.
fn automatic(allow_unsafe: bool) -> impl Fn(&Fix) -> bool {
    move |f: &Fix| f.id.is_automatic() && (allow_unsafe || f.applicability == Applicability::Safe)
}

/// [`fix_all`] with the choice of fix made by `choose` (the first fix of a finding it accepts).
///
/// Linear in the number of findings: each round parses and analyses the text once, each fix is checked
/// on the statements it edits (with the edits already chosen there), conflicts are looked up among the
/// chosen edits by position, and the text is rebuilt once per round.
pub fn fix_all_with(
    text: &str,
    extra: Vec<Target>,
    catalog: &Catalog,
    settings: &Settings,
    options: &Options,
    choose: &dyn Fn(&Fix) -> bool,
) -> FixedText {
    fix_rounds(text, extra, Vec::new(), catalog, settings, options, choose, false, &|| false)
}

/// The rounds of [`fix_all_with`]; `automatic_only`: no suppression is computed (`choose` takes none);
/// `cancelled` is asked before each round and each finding (see [`fix_all_until`]).
#[allow(clippy::too_many_arguments)]
fn fix_rounds(
    text: &str,
    extra: Vec<Target>,
    skip: Vec<Target>,
    catalog: &Catalog,
    settings: &Settings,
    options: &Options,
    choose: &dyn Fn(&Fix) -> bool,
    automatic_only: bool,
    cancelled: &dyn Fn() -> bool,
) -> FixedText {
    let mut current = text.to_string();
    let mut carried = extra;
    let mut skip = skip;
    let mut result = FixedText::default();
    // Names the rewritten calls were reached through (`time` of `time.sleep`), used when the round began.
    let mut reached_through: BTreeSet<String> = BTreeSet::new();
    for _ in 0..MAX_ROUNDS {
        if cancelled() {
            break;
        }
        let Some(tree) = crate::syntax::parse(&current, None) else { break };
        let tables = FileTables::of(&tree);
        // The findings and the routes from one query of the file.
        let (findings, ranges) = analysis::analyze_with_endpoints(&current, &tree, catalog, settings);
        let endpoints = Cow::Owned(ranges.into_iter().map(|r| (r.start, r.end)).collect());
        let ctx =
            FileContext::with_endpoints(&current, &tree, catalog, options, endpoints).sharing().with_tables(&tables);
        let mut targets: Vec<Target> = findings.iter().map(|f| Target::from_finding(f, false)).collect();
        targets.extend(carried.iter().cloned());
        if !skip.is_empty() {
            let skipped: HashSet<(Rule, usize, usize)> =
                skip.iter().map(|t| (t.rule, t.range.start, t.range.end)).collect();
            targets.retain(|t| !skipped.contains(&(t.rule, t.range.start, t.range.end)));
        }
        let mut chosen = Chosen::default();
        let mut titles = Vec::new();
        // Functions made sync this round: no other fix may edit inside them in the same round (an
        // `await` added there would end up in a plain `def`); the next round re-analyses them.
        let mut sync_regions: HashSet<(usize, usize)> = HashSet::new();
        // Blocks whose shared fix (`Shared`) was chosen this round.
        let mut blocks: HashSet<usize> = HashSet::new();
        for t in &targets {
            if cancelled() {
                result.text = current;
                return result;
            }
            let fixes = ctx.fixes_of(t, automatic_only);
            let shared = fixes.shared;
            let Some(fix) = fixes.fixes.into_iter().find(|f| choose(f)) else {
                continue;
            };
            let block = shared.iter().find(|s| s.id == fix.id).map(|s| s.block);
            if fix.edits.is_empty() {
                // The rewrite of a whole block, which an earlier finding in it brought in: it fixes this
                // finding too (its edits were checked with the others then).
                if block.is_some_and(|b| blocks.contains(&b)) {
                    titles.push(fix.title);
                }
                continue;
            }
            let region = (fix.id == FixId::MakeSync).then(|| made_sync_def(&ctx, &fix)).flatten();
            let exclusive = match &region {
                Some(r) => !chosen.any_inside(r, &fix.edits),
                None => fix.edits.iter().all(|e| !in_sync_region(&ctx, e, &sync_regions)),
            };
            if !exclusive || !chosen.compatible(&fix.edits) {
                continue;
            }
            // Each fix was checked on its own; where it shares a statement with fixes already chosen,
            // they must be right together too.
            let together = verify::regions(&ctx, &fix.edits).into_iter().all(|r| {
                let others = chosen.inside(&r.range);
                others.is_empty() || {
                    let mut all: Vec<Edit> = others;
                    all.extend(fix.edits.iter().cloned());
                    normalize_keep(&mut all);
                    verify::well_formed(&current, &all) && !ctx.verifier.breaks_region(&ctx, &r, &all)
                }
            });
            if together {
                if let Some(name) = rewritten_root_name(&ctx, t, &fix.edits) {
                    reached_through.insert(name);
                }
                if fix.id == FixId::MakeAsync {
                    reached_through.extend(chain::replaced_import_names(&ctx, &fix.edits));
                }
                chosen.add(&fix.edits);
                titles.push(fix.title);
                sync_regions.extend(region.map(|r| (r.start, r.end)));
                blocks.extend(block);
            }
        }
        if chosen.is_empty() {
            break;
        }
        let edits = chosen.into_edits();
        let Some(next) = apply(&current, &edits) else { break };
        carried = shift_targets(carried, &edits);
        skip = shift_targets(skip, &edits);
        result.applied += titles.len();
        result.titles.extend(titles);
        current = next;
    }
    if !reached_through.is_empty() && !cancelled() {
        current = drop_unused_imports(current, &reached_through, catalog, options);
    }
    result.text = current;
    result
}

/// The name a fix's target call is reached through (`time` of `time.sleep(1)`), when one of the fix's
/// edits rewrites the call. Whether an import of it became unused is decided once, after all rounds
/// (`drop_unused_imports`): asking here would walk the whole file once per fix.
fn rewritten_root_name(ctx: &FileContext<'_>, t: &Target, edits: &[Edit]) -> Option<String> {
    if !edits.iter().any(|e| e.range.start <= t.range.start && t.range.end <= e.range.end) {
        return None;
    }
    let node = ctx.tree.root_node().descendant_for_byte_range(t.range.start, t.range.end)?;
    let callee = if node.kind_name() == "call" { node.field("function")? } else { node };
    Some(ctx.node_text(kinds::root_identifier(callee)?).to_string())
}

/// After fix-all: a top-level import of one of `names` that nothing uses any more goes, as the
/// single-fix path does for the last use (several fixes in one round each left a use to the others).
fn drop_unused_imports(text: String, names: &BTreeSet<String>, catalog: &Catalog, options: &Options) -> String {
    let Some(tree) = crate::syntax::parse(&text, None) else { return text };
    let ctx = FileContext::new(&text, &tree, catalog, options);
    // Only a name a top-level import of that one name binds can have an unused import (what
    // `unused_import` looks for first): the others are not asked, each a look through every top-level
    // statement (`names` holds every helper a chain offloads: names x statements).
    let imported = kinds::singly_imported(&ctx);
    let mut edits = Vec::new();
    for name in names.iter().filter(|n| imported.contains(n.as_str())) {
        if let Some(stmt) = kinds::unused_import(&ctx, name, None) {
            kinds::remove_statement(&ctx, stmt, &mut edits);
        }
    }
    normalize_keep(&mut edits);
    match apply(&text, &edits) {
        Some(new) if !introduces_syntax_error(error_count(&tree), &new) => new,
        _ => text,
    }
}

/// The edits chosen in a round, by position: non-overlapping but for identical edits, kept once.
#[derive(Default)]
struct Chosen {
    edits: BTreeMap<(usize, usize), String>,
}

impl Chosen {
    fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }

    /// Whether `new` edits can join: no overlap, except identical edits; two different insertions at
    /// one point conflict (their order would be arbitrary).
    fn compatible(&self, new: &[Edit]) -> bool {
        new.iter().all(|n| {
            // Chosen edits are sorted by start and by end: only those ending at or after `n` starts, and
            // starting at or before it ends, can touch it.
            for ((start, end), text) in self.edits.range(..=(n.range.end, usize::MAX)).rev() {
                if *end < n.range.start {
                    break;
                }
                let c = Edit { range: *start..*end, text: text.clone() };
                if !compatible(std::slice::from_ref(&c), std::slice::from_ref(n)) {
                    return false;
                }
            }
            true
        })
    }

    /// The chosen edits inside `r`.
    fn inside(&self, r: &Range<usize>) -> Vec<Edit> {
        self.edits
            .range((r.start, 0)..=(r.end, usize::MAX))
            .filter(|((_, end), _)| *end <= r.end)
            .map(|((start, end), text)| Edit { range: *start..*end, text: text.clone() })
            .collect()
    }

    /// Whether a chosen edit other than one of `own` lies inside `r`.
    fn any_inside(&self, r: &Range<usize>, own: &[Edit]) -> bool {
        self.edits.range((r.start, 0)..=(r.end, usize::MAX)).any(|((start, end), text)| {
            *end <= r.end && !own.iter().any(|o| o.range == (*start..*end) && o.text == *text)
        })
    }

    fn add(&mut self, edits: &[Edit]) {
        for e in edits {
            self.edits.insert((e.range.start, e.range.end), e.text.clone());
        }
    }

    fn into_edits(self) -> Vec<Edit> {
        self.edits.into_iter().map(|((start, end), text)| Edit { range: start..end, text }).collect()
    }
}

/// Whether an edit lies in a function made sync this round (looked up through its enclosing functions).
fn in_sync_region(ctx: &FileContext<'_>, e: &Edit, regions: &HashSet<(usize, usize)>) -> bool {
    if regions.is_empty() {
        return false;
    }
    let mut n = ctx.tree.root_node().descendant_for_byte_range(e.range.start, e.range.end);
    for _ in 0..4096 {
        let Some(cur) = n else { return false };
        if cur.kind_name() == "function_definition" && regions.contains(&(cur.start_byte(), cur.end_byte())) {
            return true;
        }
        n = ctx.up(cur);
    }
    false
}

/// Moves targets through applied (sorted) edits, keeping their order; drops those an edit touched.
fn shift_targets(targets: Vec<Target>, edits: &[Edit]) -> Vec<Target> {
    let mut order: Vec<usize> = (0..targets.len()).collect();
    order.sort_by_key(|&i| targets[i].range.start);
    let mut shifted: Vec<Option<Target>> = targets.into_iter().map(Some).collect();
    let (mut k, mut delta) = (0usize, 0isize);
    for i in order {
        let Some(t) = shifted[i].take() else { continue };
        while k < edits.len() && edits[k].range.end <= t.range.start {
            delta += edits[k].text.len() as isize - edits[k].range.len() as isize;
            k += 1;
        }
        // The next edit either starts after the target or touches it.
        if k < edits.len() && edits[k].range.start < t.range.end {
            continue;
        }
        shifted[i] = Some(Target {
            range: (t.range.start as isize + delta) as usize..(t.range.end as isize + delta) as usize,
            ..t
        });
    }
    shifted.into_iter().flatten().collect()
}

/// The `function_definition` a make-sync fix edits (its first edit removes the `async` token).
fn made_sync_def(ctx: &FileContext<'_>, fix: &Fix) -> Option<Range<usize>> {
    let e = fix.edits.iter().find(|e| e.text.is_empty())?;
    let token = ctx.tree.root_node().descendant_for_byte_range(e.range.start, e.range.start + 1)?;
    let def = ctx.up(token).filter(|d| d.kind_name() == "function_definition")?;
    Some(def.byte_range())
}

/// Sorts and de-duplicates edits of several fixes (identical import insertions are kept once).
fn normalize_keep(edits: &mut Vec<Edit>) {
    edits.sort_by_key(|e| (e.range.start, e.range.end));
    edits.dedup();
}

/// Whether `new` edits can join `chosen`: no overlap, except identical edits; two different insertions
/// at one point conflict (their order would be arbitrary).
fn compatible(chosen: &[Edit], new: &[Edit]) -> bool {
    let inside = |point: usize, r: &Range<usize>| r.start < point && point < r.end;
    new.iter().all(|n| {
        chosen.iter().all(|c| {
            c == n
                || !((c.range.is_empty() && n.range.is_empty() && c.range.start == n.range.start)
                    || (c.range.start < n.range.end && n.range.start < c.range.end)
                    || (c.range.is_empty() && inside(c.range.start, &n.range))
                    || (n.range.is_empty() && inside(n.range.start, &c.range)))
        })
    })
}

/// What makes two blank lines after a definition that replaces a statement ending at `end`: the line
/// breaks missing before the next code (none when the file ends there).
pub(super) fn blank_lines_after(text: &str, end: usize, nl: &str) -> String {
    let rest = text[end..].trim_start_matches([' ', '\t']);
    let rest = rest.strip_prefix("\r\n").or_else(|| rest.strip_prefix('\n')).unwrap_or(rest);
    let blank = rest.split_inclusive('\n').take_while(|l| l.trim().is_empty()).count();
    if blank < rest.split_inclusive('\n').count() { nl.repeat(2usize.saturating_sub(blank)) } else { String::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix_all_text(text: &str, allow_unsafe: bool) -> String {
        let settings = Settings::default();
        fix_all(text, Vec::new(), Catalog::bundled(), &settings, &Options::default(), allow_unsafe).text
    }

    /// Every node of a tree with its kind, byte range and points, in document order.
    fn nodes_of(tree: &Tree) -> Vec<(String, Range<usize>, tree_sitter::Point, tree_sitter::Point)> {
        let mut out = Vec::new();
        crate::syntax::walk_preorder(tree.root_node(), |n| {
            out.push((n.kind().to_string(), n.byte_range(), n.start_position(), n.end_position()));
            true
        });
        out
    }

    #[test]
    fn an_incremental_reparse_gives_the_tree_of_a_fresh_parse() {
        let text = "import time\n\n\ndef pause():\n    time.sleep(1)\n\n\ndef step():\n    pause()  # é\n    return 1\n\n\nasync def main():\n    return step()\n";
        let at = |s: &str| text.find(s).unwrap();
        let cases: Vec<Vec<Edit>> = vec![
            vec![Edit { range: at("def pause")..at("def pause"), text: "async ".into() }],
            vec![
                Edit { range: 0..0, text: "import asyncio\n".into() },
                Edit { range: at("def pause")..at("def pause"), text: "async ".into() },
                Edit { range: at("time.sleep")..at("(1)"), text: "await asyncio.sleep".into() },
                Edit { range: at("def step")..at("def step"), text: "async ".into() },
                Edit { range: at("pause()  #")..at("pause()  #"), text: "await ".into() },
                Edit { range: at("step()\n")..at("step()\n"), text: "await (\n        ".into() },
                Edit { range: text.len() - 1..text.len() - 1, text: "\n    )".into() },
            ],
            vec![Edit { range: at("    return 1\n")..at("\n\nasync def main"), text: "".into() }],
            vec![
                Edit { range: at("import time")..at("import time") + 11, text: "import asyncio".into() },
                Edit { range: at("import time") + 11..at("import time") + 11, text: "\nimport time".into() },
            ],
        ];
        let tree = crate::syntax::parse(text, None).unwrap();
        for edits in cases {
            let new = apply(text, &edits).unwrap();
            let fresh = crate::syntax::parse(&new, None).unwrap();
            let incremental = reparse(text, &tree, &edits, &new).unwrap();
            assert_eq!(nodes_of(&incremental), nodes_of(&fresh), "{new}");
        }
    }

    #[test]
    fn crlf_files_keep_their_line_endings() {
        let text = "import time\r\n\r\n\r\nasync def f():\r\n    time.sleep(1)\r\n";
        assert_eq!(
            fix_all_text(text, false),
            // `import time`, used no more, gives its place to `import asyncio`.
            "import asyncio\r\n\r\n\r\nasync def f():\r\n    await asyncio.sleep(1)\r\n"
        );
    }

    #[test]
    fn an_import_goes_after_the_docstring_and_future_imports() {
        let text = "\"\"\"Doc.\"\"\"\nfrom __future__ import annotations\n\nimport time\n\n\nasync def f():\n    time.sleep(1)\n";
        assert_eq!(
            fix_all_text(text, false),
            "\"\"\"Doc.\"\"\"\nfrom __future__ import annotations\n\nimport asyncio\n\n\nasync def f():\n    await asyncio.sleep(1)\n"
        );
        // No import at all: after the docstring.
        let text = "\"\"\"Doc.\"\"\"\n\n\nasync def f(p):\n    return input(p)\n";
        assert_eq!(
            fix_all_text(text, false),
            "\"\"\"Doc.\"\"\"\nimport asyncio\n\n\nasync def f(p):\n    return await asyncio.to_thread(input, p)\n"
        );
    }

    #[test]
    fn no_await_lands_in_a_function_made_sync_in_the_same_round() {
        let text = "import json\n\nfrom fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.get(\"/o\")\nasync def o():\n    with open(\"c.json\") as f:\n        return json.load(f)[\"options\"]\n";
        let fixed = fix_all_text(text, true);
        assert!(fixed.contains("\ndef o():"), "{fixed}");
        assert!(!fixed.contains("await"), "{fixed}");
    }

    #[test]
    fn overlapping_and_identical_edits() {
        let e = |a: usize, b: usize, t: &str| Edit { range: a..b, text: t.into() };
        assert!(compatible(&[e(0, 0, "import x\n")], &[e(0, 0, "import x\n")]), "identical imports merge");
        assert!(!compatible(&[e(0, 0, "import x\n")], &[e(0, 0, "import y\n")]), "two insertions at one point");
        assert!(!compatible(&[e(5, 10, "a")], &[e(8, 12, "b")]));
        assert!(!compatible(&[e(5, 10, "a")], &[e(7, 7, "b")]), "an insertion inside a replacement");
        assert!(compatible(&[e(5, 10, "a")], &[e(10, 12, "b")]));
        assert_eq!(apply("abcdef", &[e(1, 2, "X"), e(4, 4, "Y")]).as_deref(), Some("aXcdYef"));
        assert_eq!(apply("abcdef", &[e(1, 3, "X"), e(2, 4, "Y")]), None);
        let t = Target { rule: Rule::BlockingHttp, callee: None, kinds: Vec::new(), range: 10..14, chain: true };
        let shift = |t: &Target, edits: &[Edit]| shift_targets(vec![t.clone()], edits).pop().map(|t| t.range);
        assert_eq!(shift(&t, &[e(0, 0, "ab")]), Some(12..16));
        assert_eq!(shift(&t, &[e(8, 16, "x")]), None, "a rewritten target is dropped");
        assert_eq!(shift(&t, &[e(0, 0, "ab"), e(14, 14, "c"), e(20, 22, "")]), Some(12..16));
        let u = Target { range: 2..4, ..t.clone() };
        let both = shift_targets(vec![t.clone(), u], &[e(0, 1, ""), e(3, 3, "x"), e(5, 5, "yy")]);
        assert_eq!(both.iter().map(|t| t.range.clone()).collect::<Vec<_>>(), vec![12..16], "u dropped");
    }

    /// The fixes for a finding on the last `at` in `text` (trailing whitespace left out), with the
    /// default options and the bundled catalog.
    pub(crate) fn fixes_at(text: &str, at: &str, rule: Rule, callee: &str, kinds: Vec<FixKind>, chain: bool) -> Fixes {
        let tree = crate::syntax::parse(text, None).unwrap();
        let options = Options::default();
        let ctx = FileContext::new(text, &tree, Catalog::bundled(), &options);
        let start = text.rfind(at).unwrap();
        let range = start..start + at.trim_end().len();
        ctx.fixes(&Target { rule, callee: Some(callee.into()), kinds, range, chain })
    }

    /// The refusal reasons for the last `at` in `text` (no fix but the suppression is offered).
    fn refusals(text: &str, at: &str, chain: bool) -> Vec<String> {
        let kinds = vec![FixKind::Offload, FixKind::AsyncSleep];
        let fixes = fixes_at(text, at, Rule::BlockingSleep, "time.sleep", kinds, chain);
        assert!(fixes.fixes.iter().all(|f| f.id == FixId::Noqa), "{:?}", fixes.fixes);
        fixes.refused.into_iter().map(|r| r.reason).collect()
    }

    #[test]
    fn an_awaited_call_is_not_offloaded_and_says_why() {
        let text =
            "import time\n\n\ndef serve():\n    time.sleep(1)\n\n\nasync def main():\n    return await serve()\n";
        let why = refusals(text, "serve()", true);
        assert!(why.iter().any(|w| w.contains("the call is awaited: `serve` returns an awaitable")), "{why:?}");
    }

    #[test]
    fn a_local_import_after_the_call_hides_the_module_name() {
        let text =
            "import time\n\n\nasync def f():\n    time.sleep(1)\n    import asyncio\n    await asyncio.sleep(0)\n";
        let why = refusals(text, "time.sleep", false);
        assert!(why.iter().any(|w| w.contains("`asyncio` is imported inside the function")), "{why:?}");
    }

    /// The text of every fix-pair file (`tests/fixes/*.py`).
    fn fix_pair_texts() -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixes");
        std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "py"))
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    #[test]
    fn the_parent_table_agrees_with_tree_sitter_and_up() {
        // Every fix-pair file, and one with broken syntax: the table's parent of every node is
        // tree-sitter's `parent()` and what `up` finds without the table.
        let mut texts = fix_pair_texts();
        texts.push("async def f(:\n    x = [1,\n  requests.get(u\nclass C(\n".into());
        assert!(texts.len() > 10);
        let options = Options::default();
        for text in &texts {
            let tree = crate::syntax::parse(text, None).unwrap();
            let tables = FileTables::of(&tree);
            let plain = FileContext::new(text, &tree, Catalog::bundled(), &options);
            let tabled = FileContext::new(text, &tree, Catalog::bundled(), &options).with_tables(&tables);
            let mut stack = vec![tree.root_node()];
            while let Some(node) = stack.pop() {
                let want = node.parent().map(|p| p.id());
                assert_eq!(tabled.up(node).map(|p| p.id()), want, "{node:?}");
                assert_eq!(plain.up(node).map(|p| p.id()), want, "{node:?}");
                let mut c = node.walk();
                stack.extend(node.children(&mut c));
            }
        }
    }

    #[test]
    fn lazy_tables_find_the_calls_a_walk_finds() {
        // Every fix-pair file, calls spelled every way the grammar allows between a name and its `(`
        // (blanks, comments, line continuations, a generator argument), names before a `(` that are
        // not calls (definitions, attributes, strings, comments, keywords), non-ASCII text and broken
        // syntax (a walk then): for every identifier of the file, the first line where it is called is
        // the one the walking tables give.
        let mut texts = fix_pair_texts();
        texts.push(
            "def f(x):\n    return g (x)\n\nclass C(B):\n    pass\n\nh = [k\n  (1), m  # c\n (2), n \\\n (3)]\n\
             s = 'f(1)' + \"q(2)\"  # r(3)\nobj.f(1)\nt = f(y for y in z)\n@deco(1)\ndef u(): pass\n\
             v = f\"{w(1)}\"\nx1 = 0x1f\nif(a): pass\nprint(not(b))\nlambda: z9(1)\n"
                .into(),
        );
        texts.push("def f(x):\n    return g(x)\n\ns = 'é'\ng(1)\n".into());
        texts.push("async def f(:\n    g(1)\n  requests.get(u\nclass C(\nh(2)\n".into());
        let options = Options::default();
        let mut asked = 0;
        for text in &texts {
            let tree = crate::syntax::parse(text, None).unwrap();
            let walked = FileTables::of(&tree);
            let lazy = FileTables::lazy();
            let a = FileContext::new(text, &tree, Catalog::bundled(), &options).with_tables(&walked);
            let b = FileContext::new(text, &tree, Catalog::bundled(), &options).with_tables(&lazy);
            let mut names = std::collections::BTreeSet::new();
            crate::syntax::walk_preorder(tree.root_node(), |n| {
                if n.kind() == "identifier" {
                    names.insert(n.utf8_text(text.as_bytes()).unwrap().to_string());
                }
                true
            });
            for name in &names {
                assert_eq!(kinds::called_in_file(&b, name), kinds::called_in_file(&a, name), "{name} in {text}");
                asked += 1;
            }
        }
        assert!(asked > 200, "{asked} names");
    }

    #[test]
    fn children_read_by_index_are_the_cursors_children() {
        // Every node of every fix-pair file, of broken syntax and of nodes with many children (a cursor
        // reads those): `children` gives what `children` / `named_children` of a cursor give, in order.
        let mut texts = fix_pair_texts();
        texts.push("async def f(:\n    x = [1,\n  requests.get(u\nclass C(\nprint 'a'\n".into());
        let many: Vec<String> = (0..40).map(|i| format!("a{i}")).collect();
        texts.push(format!(
            "f({})\nx = [{}]\ndef g():\n    {}\n",
            many.join(", "),
            many.join(", "),
            many.join("\n    ")
        ));
        let mut wide = 0;
        for text in &texts {
            let tree = crate::syntax::parse(text, None).unwrap();
            crate::syntax::walk_preorder(tree.root_node(), |n| {
                let mut c = n.walk();
                let want: Vec<usize> = n.children(&mut c).map(|c| c.id()).collect();
                assert_eq!(children(n, false).map(|c| c.id()).collect::<Vec<_>>(), want, "{n:?}");
                let want: Vec<usize> = n.named_children(&mut c).map(|c| c.id()).collect();
                assert_eq!(children(n, true).map(|c| c.id()).collect::<Vec<_>>(), want, "{n:?}");
                wide += usize::from(want.len() > FEW_CHILDREN as usize);
                true
            });
        }
        assert!(wide >= 3, "{wide} nodes with many children");
    }

    #[test]
    fn the_kind_and_field_tables_and_the_call_list_agree_with_tree_sitter() {
        // Every node of every fix-pair file (and of broken syntax): `kind_name` is `kind`, `field` is
        // `child_by_field_name` for every field name, and the
        // table's call list is every `name(...)` call in tree order, as a walk of the file finds them.
        let mut texts = fix_pair_texts();
        texts.push("async def f(:\n    x = [1,\n  requests.get(u\nclass C(\nprint 'a'\nexec 'b'\n".into());
        assert!(texts.len() > 10);
        let language = crate::syntax::language();
        let field_names: Vec<&str> =
            (1..=language.field_count() as u16).filter_map(|id| language.field_name_for_id(id)).collect();
        assert!(field_names.len() > 20);
        let (mut kinds, mut calls) = (HashSet::new(), 0);
        for text in &texts {
            let tree = crate::syntax::parse(text, None).unwrap();
            let mut want = Vec::new();
            crate::syntax::walk_preorder(tree.root_node(), |n| {
                assert_eq!(n.kind_name(), n.kind(), "{n:?}");
                for name in field_names.iter().chain(&["no_such_field"]) {
                    let want = n.child_by_field_name(name).map(|c| c.id());
                    assert_eq!(n.field(name).map(|c| c.id()), want, "{n:?} {name}");
                }
                kinds.insert(n.kind_id());
                if n.kind() == "call"
                    && let Some(f) = n.child_by_field_name("function").filter(|f| f.kind() == "identifier")
                {
                    want.push((n.start_position().row + 1, f.id()));
                }
                true
            });
            let got: Vec<(usize, usize)> =
                FileTables::of(&tree).call_sites.iter().map(|&(line, f)| (line, f.id())).collect();
            assert_eq!(got, want);
            calls += want.len();
        }
        assert!(kinds.len() > 100 && calls > 50, "{} kinds, {calls} calls", kinds.len());
    }

    #[test]
    fn a_remembered_use_answers_only_outside_what_is_left_out() {
        // `time` is used once, in `f`: asked first about the whole file (the use is found and kept),
        // then leaving `f`'s call out, the import is unused, as a fresh context says.
        let text = "import time\n\n\nasync def f():\n    time.sleep(1)\n";
        let tree = crate::syntax::parse(text, None).unwrap();
        let options = Options::default();
        let at = text.find("time.sleep").unwrap();
        let except = tree.root_node().descendant_for_byte_range(at, at + 10).unwrap();
        let ctx = FileContext::new(text, &tree, Catalog::bundled(), &options);
        assert!(kinds::unused_import(&ctx, "time", None).is_none());
        assert!(ctx.memo.uses.borrow().contains_key("time"));
        assert_eq!(except.kind(), "attribute");
        let fresh = FileContext::new(text, &tree, Catalog::bundled(), &options);
        let want = kinds::unused_import(&fresh, "time", Some(except)).map(|s| s.byte_range());
        assert_eq!(want, Some(0..11));
        assert_eq!(kinds::unused_import(&ctx, "time", Some(except)).map(|s| s.byte_range()), want);
        // And the other way round: the use kept, then the whole file again.
        assert!(kinds::unused_import(&ctx, "time", None).is_none());
    }

    #[test]
    fn a_fix_next_to_broken_syntax_is_checked_in_the_whole_file() {
        // Found by tests/random_inputs.rs: the call's statement parses, but an ERROR sibling follows it
        // (or the function holding it), and the parser recovers there differently once it is rewritten.
        let text = "import requests\n\n\nasync def main(u):\n    requests.get(u, timeout=5)\n    requests.post(\n)        u,\n        json={},\n)\ntotal = 1 \u{65e5}if False else 0\n";
        let tree = crate::syntax::parse(text, None).unwrap();
        let before = error_count(&tree);
        let options = Options::default();
        let ctx = FileContext::new(text, &tree, Catalog::bundled(), &options);
        let start = text.find("requests.post").unwrap();
        let target = Target {
            rule: Rule::BlockingHttp,
            callee: Some("requests.post".into()),
            kinds: vec![crate::catalog::FixKind::Offload],
            range: start..text.find("\n)  ").unwrap() + 2,
            chain: false,
        };
        for f in ctx.fixes(&target).fixes {
            let new = apply(text, &f.edits).unwrap();
            assert!(!introduces_syntax_error(before, &new), "{}:\n{new}", f.title);
        }
    }

    #[test]
    fn nothing_is_offered_that_does_not_parse() {
        // A broken file: fixes elsewhere are still offered, and no fix adds an error.
        let text = "import time\n\n\nasync def f():\n    time.sleep(1)\n\n\ndef g(:\n    pass\n";
        let fixed = fix_all_text(text, true);
        let before = error_count(&crate::syntax::parse(text, None).unwrap());
        assert!(!introduces_syntax_error(before, &fixed));
        assert!(fixed.contains("await asyncio.sleep(1)"), "{fixed}");
    }
}
