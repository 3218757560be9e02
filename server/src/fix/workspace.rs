//! Make-sync for a coroutine that no framework runs: `async def helper` becomes `def helper`, and every
//! `await helper(...)` in the workspace loses its `await` (one edit per file, applied together).
//!
//! Correct by construction, or not offered: the function must be a module-level, undecorated coroutine
//! whose body needs no loop, and every occurrence of its name in the workspace must be its definition,
//! an import of it from its own module, or an awaited call to it (`await helper(...)`,
//! `await module.helper(...)`). Any other use (`asyncio.gather(helper())`, `create_task(helper())`,
//! `callbacks = [helper]`, another object that happens to share the name) refuses the fix and says
//! where, since rewriting would break it or could not be told apart.

use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::ops::Range;
use std::sync::OnceLock;

use tree_sitter::{Node, Tree};

use super::kinds::{self, MAX_NODES, needs_the_loop_in};
use super::{Edit, Endpoints, FileContext, Options, Target, chain, error_count};
use crate::catalog::Catalog;

/// How many functions the search for a chain across the workspace visits.
const MAX_FUNCTIONS: usize = 512;

/// Edits by index into the workspace files.
pub type FileEdits = Vec<(usize, Vec<Edit>)>;

/// One workspace file as the fix sees it.
pub struct WorkspaceFile<'a> {
    pub path: &'a str,
    pub text: &'a str,
    /// The module names it can be imported as (`app.services`).
    pub modules: Vec<String>,
}

/// What the fixes across the workspace read of one file besides its text: its tree (a fresh parse of
/// the text) and the ranges of its routes and dependencies ([`super::endpoints`], a query of the whole
/// file), each computed on first use. Both depend only on the text (and the catalog), so a caller that
/// keeps a file's `Parsed` while the text is unchanged (the language server, for its quick fixes) parses
/// and queries each file once, not once per fix; the fixes themselves are computed each time.
#[derive(Default)]
pub struct Parsed {
    /// The tree and its count of syntax errors; `None`: the parser gave up.
    tree: OnceLock<Option<(Tree, usize)>>,
    endpoints: OnceLock<Endpoints>,
    idents: OnceLock<Idents>,
}

/// Where each name occurs as an `identifier` in a file's tree, in the order of a walk of the tree that
/// pops the last child first (the order the make-async fix looks at uses in, which decides which use a
/// refusal names): a fix asking for the uses of a name looks them up instead of walking the whole file,
/// once per function of each chain tried.
#[derive(Default)]
struct Idents {
    /// The nodes the walk visits ([`MAX_NODES`] bounds it: a larger file is too large to check).
    nodes: usize,
    /// Each name's uses: the index of the node in the walk (from 1) and its byte range.
    uses: HashMap<String, Vec<(usize, Range<usize>)>>,
}

impl Parsed {
    /// The tree of `text` (which must be the text this `Parsed` is kept for) and its syntax errors.
    fn tree(&self, text: &str) -> Option<(&Tree, usize)> {
        self.tree
            .get_or_init(|| {
                crate::syntax::parse(text, None).map(|t| {
                    let errors = error_count(&t);
                    (t, errors)
                })
            })
            .as_ref()
            .map(|(t, e)| (t, *e))
    }

    /// The routes and dependencies of `text` (this `Parsed`'s text), found in `tree` (a parse of it
    /// without syntax errors) the first time.
    pub fn endpoints(&self, text: &str, tree: &Tree, catalog: &Catalog) -> &Endpoints {
        self.endpoints.get_or_init(|| super::endpoints(text, tree, catalog))
    }

    /// The uses of every name in `tree` (a parse of this `Parsed`'s text), found the first time.
    fn idents(&self, text: &str, tree: &Tree) -> &Idents {
        self.idents.get_or_init(|| {
            let mut out = Idents::default();
            let mut stack = vec![tree.root_node()];
            while let Some(n) = stack.pop() {
                out.nodes += 1;
                let mut c = n.walk();
                stack.extend(n.children(&mut c));
                if n.kind() == "identifier" {
                    out.uses.entry(text[n.byte_range()].to_string()).or_default().push((out.nodes, n.byte_range()));
                }
            }
            out
        })
    }

    /// Takes `tree`, the caller's parse of this `Parsed`'s text without syntax errors (an open document's
    /// tree: an incremental parse is the tree a fresh parse gives), as its own when it has none yet.
    pub fn seed(&self, tree: &Tree) {
        if !tree.root_node().has_error() {
            let _ = self.tree.set(Some((tree.clone(), 0)));
        }
    }
}

/// The edits, per file index, turning the coroutine named at `name_range` in `files[def_file]` into a
/// plain function; or why that is not offered.
pub fn make_sync_everywhere(
    files: &[WorkspaceFile<'_>],
    def_file: usize,
    name_range: Range<usize>,
    catalog: &Catalog,
) -> Result<(String, FileEdits), String> {
    let parsed: Vec<Parsed> = files.iter().map(|_| Parsed::default()).collect();
    make_sync_with(files, &parsed.iter().collect::<Vec<_>>(), def_file, name_range, catalog)
}

/// [`make_sync_everywhere`] with each file's parse kept by the caller (`parsed[i]` for `files[i]`).
pub fn make_sync_with(
    files: &[WorkspaceFile<'_>],
    parsed: &[&Parsed],
    def_file: usize,
    name_range: Range<usize>,
    catalog: &Catalog,
) -> Result<(String, FileEdits), String> {
    let home = files.get(def_file).ok_or("the file is not in the workspace")?;
    let tree = parsed[def_file].tree(home.text).ok_or("the file does not parse")?.0;
    let name_node =
        tree.root_node().descendant_for_byte_range(name_range.start, name_range.end).ok_or("no function here")?;
    let def = name_node.parent().filter(|d| d.kind() == "function_definition").ok_or("no function here")?;
    let name = &home.text[name_range.clone()];
    if def.parent().is_none_or(|p| p.kind() != "module") {
        return Err(format!("`{name}` is a method, a nested function or decorated: its callers are not rewritten"));
    }
    let asy = def.child(0).filter(|c| c.kind() == "async").ok_or("the function is not `async def`")?;
    let body = def.child_by_field_name("body").ok_or("the function has no body")?;
    if let Some(why) = needs_the_loop_in(home.text, catalog, body, true) {
        return Err(format!("`{name}` must stay a coroutine: {why}"));
    }
    let def_kw = asy.next_sibling().ok_or("the function has no `def`")?;
    let mut out: Vec<(usize, Vec<Edit>)> = Vec::new();
    let module_tails: Vec<&str> = home.modules.iter().map(|m| m.rsplit('.').next().unwrap_or(m)).collect();
    let mut sites = 0;
    for (i, f) in files.iter().enumerate() {
        if !contains_word(f.text, name) {
            continue;
        }
        let Some((tree, errors)) = parsed[i].tree(f.text) else { return Err(format!("{} does not parse", f.path)) };
        if errors > 0 {
            return Err(format!("{} has syntax errors: its uses of `{name}` cannot be checked", f.path));
        }
        let mut edits = Vec::new();
        if i == def_file {
            edits.push(Edit { range: asy.start_byte()..def_kw.start_byte(), text: String::new() });
        }
        let mut stack = vec![tree.root_node()];
        let mut seen = 0;
        while let Some(n) = stack.pop() {
            seen += 1;
            if seen > MAX_NODES {
                return Err(format!("{} is too large to check", f.path));
            }
            if n.kind() == "identifier" && &f.text[n.byte_range()] == name {
                let line = n.start_position().row + 1;
                let at = format!("{}:{line}", f.path);
                if i == def_file && n.id() == name_node.id() {
                    continue;
                }
                match use_of(f.text, n, home, &module_tails) {
                    Use::Import => {}
                    Use::Awaited(await_node, call) => {
                        edits.push(Edit { range: await_node.start_byte()..call.start_byte(), text: String::new() });
                        sites += 1;
                    }
                    Use::Other(what) => return Err(format!("`{name}` {what} at {at}")),
                }
                continue;
            }
            let mut c = n.walk();
            stack.extend(n.children(&mut c));
        }
        if !edits.is_empty() {
            edits.sort_by_key(|e| e.range.start);
            out.push((i, edits));
        }
    }
    let title = match sites {
        0 => format!("Make `{name}` a plain `def`"),
        1 => format!("Make `{name}` a plain `def` and drop `await` at its call site"),
        n => format!("Make `{name}` a plain `def` and drop `await` at its {n} call sites"),
    };
    Ok((title, out))
}

enum Use<'t> {
    Import,
    Awaited(Node<'t>, Node<'t>),
    Other(&'static str),
}

/// What an occurrence of the name is.
fn use_of<'t>(text: &str, ident: Node<'t>, home: &WorkspaceFile<'_>, module_tails: &[&str]) -> Use<'t> {
    let Some(parent) = ident.parent() else { return Use::Other("is used") };
    // `from app.services import helper [as h]`: only from its own module.
    let mut p = Some(parent);
    for _ in 0..4 {
        let Some(cur) = p else { break };
        if cur.kind() == "import_from_statement" {
            let module = cur.child_by_field_name("module_name").map(|m| &text[m.byte_range()]).unwrap_or("");
            let own = home.modules.iter().any(|m| m == module)
                || module.starts_with('.') && module_tails.iter().any(|t| module.ends_with(t));
            if !own {
                return Use::Other("is imported from another module");
            }
            if cur.child_by_field_name("module_name").is_some_and(|m| m.id() == parent.id() || m.id() == ident.id()) {
                return Use::Other("names a module");
            }
            // An alias would need its own rewrite.
            return if parent.kind() == "aliased_import" {
                Use::Other("is imported under another name")
            } else {
                Use::Import
            };
        }
        if cur.kind() == "import_statement" {
            return Use::Import;
        }
        p = cur.parent();
    }
    // The callee: `helper(...)` or `module.helper(...)`.
    let callee = match parent.kind() {
        "call" if parent.child_by_field_name("function").is_some_and(|f| f.id() == ident.id()) => parent,
        "attribute" if parent.child_by_field_name("attribute").is_some_and(|a| a.id() == ident.id()) => {
            let object = parent.child_by_field_name("object");
            let by_module =
                object.is_some_and(|o| o.kind() == "identifier" && module_tails.contains(&&text[o.byte_range()]));
            if !by_module {
                return Use::Other("is reached as an attribute of something other than its module");
            }
            match parent.parent() {
                Some(c)
                    if c.kind() == "call"
                        && c.child_by_field_name("function").is_some_and(|f| f.id() == parent.id()) =>
                {
                    c
                }
                _ => return Use::Other("is used without being called"),
            }
        }
        "function_definition" | "class_definition" => return Use::Other("is defined again"),
        _ => return Use::Other("is used without being called"),
    };
    let call = callee;
    match call.parent() {
        Some(a) if a.kind() == "await" => Use::Awaited(a, call),
        _ => Use::Other("is called without `await` (its coroutine is used another way)"),
    }
}

pub(super) fn contains_word(text: &str, word: &str) -> bool {
    word_at(text, word).is_some()
}

/// The whole words of `text` (its longest runs of letters, digits and `_`): `word`, itself such a run,
/// is in the set exactly when [`contains_word`] finds it, without a search of the text per word.
fn words_of(text: &str) -> HashSet<&str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|w| !w.is_empty()).collect()
}

/// Where `word` first occurs in `text` as a whole word.
fn word_at(text: &str, word: &str) -> Option<usize> {
    text.match_indices(word).map(|(i, _)| i).find(|&i| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// The workspace's files as the make-async fix reads them: parsed and analysed on first use only.
struct Ws<'c, 't> {
    files: &'t [WorkspaceFile<'t>],
    parsed: &'t [&'t Parsed],
    ctxs: &'c [OnceCell<Option<FileContext<'t>>>],
    /// Each file's top-level sync functions, by name.
    defs: &'c RefCell<HashMap<usize, HashMap<&'t str, Node<'t>>>>,
    /// Each file's whole words ([`words_of`]), found on first use.
    words: &'c [OnceCell<HashSet<&'t str>>],
    /// What this try read of each file (see [`Read`]).
    reads: &'c Reads,
    catalog: &'t Catalog,
    options: &'t Options,
}

impl<'c, 't> Ws<'c, 't> {
    /// Whether `word` occurs in `files[i]` as a whole word ([`contains_word`]): asked for every function
    /// of every chain tried, so a file's words are listed once, not searched for each.
    fn has_word(&self, i: usize, word: &str) -> bool {
        let present = has_word_in(self.files, self.words, i, word);
        self.reads.word(i, word, present);
        present
    }

    fn ctx(&self, i: usize) -> Result<&'c FileContext<'t>, String> {
        let f = &self.files[i];
        // Everything a try learns of a file beyond its words goes through its context (or its
        // parse's errors): the whole text is what it read.
        self.reads.text(i, f.text);
        let ctxs = self.ctxs;
        let parsed: &'t Parsed = self.parsed[i];
        let tree = parsed.tree(f.text).filter(|(_, errors)| *errors == 0).map(|(t, _)| t).ok_or_else(|| {
            format!("{} has syntax errors: its uses of the chain's functions cannot be checked", f.path)
        })?;
        ctxs[i]
            .get_or_init(|| {
                let endpoints = Cow::Borrowed(parsed.endpoints(f.text, tree, self.catalog));
                Some(FileContext::with_endpoints(f.text, tree, self.catalog, self.options, endpoints))
            })
            .as_ref()
            .ok_or_else(|| format!("{} cannot be read", f.path))
    }

    /// The workspace file a `from MODULE import ...` in `files[i]` names.
    fn module_file(&self, i: usize, module: &str) -> Option<usize> {
        let level = module.len() - module.trim_start_matches('.').len();
        let rest = &module[level..];
        let wanted: Vec<String> = if level == 0 {
            vec![rest.to_string()]
        } else {
            let is_init = self.files[i].path.ends_with("__init__.py");
            self.files[i]
                .modules
                .iter()
                .filter_map(|m| {
                    let mut parts: Vec<&str> = m.split('.').collect();
                    let drop = level - usize::from(is_init);
                    if drop > parts.len() {
                        return None;
                    }
                    parts.truncate(parts.len() - drop);
                    if !rest.is_empty() {
                        parts.push(rest);
                    }
                    (!parts.is_empty()).then(|| parts.join("."))
                })
                .collect()
        };
        self.files.iter().position(|f| f.modules.iter().any(|m| wanted.contains(m)))
    }

    /// The top-level sync function `name` of `files[i]`.
    fn def_in(&self, i: usize, name: &str) -> Result<Option<Node<'t>>, String> {
        let ctx = self.ctx(i)?;
        let mut defs = self.defs.borrow_mut();
        Ok(defs.entry(i).or_insert_with(|| chain::module_functions(ctx)).get(name).copied())
    }

    /// The function a call by `name` in `files[i]` reaches: defined there, or imported from its module.
    fn resolve(&self, i: usize, name: &str) -> Result<Option<(usize, Node<'t>)>, String> {
        if let Some(d) = self.def_in(i, name)? {
            return Ok(Some((i, d)));
        }
        let Some(j) = self.imported_from(self.ctx(i)?, i, name) else { return Ok(None) };
        Ok(self.def_in(j, name)?.map(|d| (j, d)))
    }

    /// The function a call's callee in `files[i]` reaches: `f(...)` (see `resolve`) or `module.f(...)`
    /// where `module` is a workspace module imported by that name (`from app import signing`,
    /// `from . import signing`, `import signing`).
    fn resolve_callee(&self, i: usize, callee: Node<'t>) -> Result<Option<(usize, Node<'t>)>, String> {
        let ctx = self.ctx(i)?;
        match callee.kind() {
            "identifier" => self.resolve(i, ctx.node_text(callee)),
            "attribute" => {
                let (Some(object), Some(attr)) =
                    (callee.child_by_field_name("object"), callee.child_by_field_name("attribute"))
                else {
                    return Ok(None);
                };
                if object.kind() != "identifier" {
                    return Ok(None);
                }
                let Some(j) = self.module_named(ctx, i, ctx.node_text(object)) else { return Ok(None) };
                Ok(self.def_in(j, ctx.node_text(attr))?.map(|d| (j, d)))
            }
            _ => Ok(None),
        }
    }

    /// The workspace module `files[i]` binds to `name` at its top (`from P import name`, `import name`).
    fn module_named(&self, ctx: &FileContext<'t>, i: usize, name: &str) -> Option<usize> {
        let root = ctx.tree.root_node();
        let mut c = root.walk();
        for stmt in root.named_children(&mut c) {
            let mut c2 = stmt.walk();
            let binds = |c2: &mut tree_sitter::TreeCursor<'t>| {
                stmt.children_by_field_name("name", c2).any(|n| ctx.node_text(n) == name)
            };
            match stmt.kind() {
                "import_from_statement" if binds(&mut c2) => {
                    let module = ctx.node_text(stmt.child_by_field_name("module_name")?);
                    let sep = if module.ends_with('.') { "" } else { "." };
                    return self.module_file(i, &format!("{module}{sep}{name}"));
                }
                "import_statement" if binds(&mut c2) => return self.module_file(i, name),
                _ => {}
            }
        }
        None
    }

    /// How `files[i]` reaches `files[target]` and its top-level `name` (a client): the names it binds to
    /// `name` itself (`from app.cache import cache [as c]`) and the module paths it binds to the module
    /// (`from app import cache as cache_mod` → `cache_mod`, `import app.cache` → `app.cache`). Only a
    /// module's own imports count: one in a function, or `import *`, refuses, naming it.
    fn access(&self, i: usize, target: usize, name: &str) -> Result<super::db::ClientAccess, String> {
        let ctx = self.ctx(i)?;
        let mut out = super::db::ClientAccess::default();
        let mut stack = vec![ctx.tree.root_node()];
        let mut seen = 0;
        while let Some(n) = stack.pop() {
            seen += 1;
            if seen > MAX_NODES {
                return Err(format!("{} is too large to check", self.files[i].path));
            }
            if !matches!(n.kind(), "import_statement" | "import_from_statement") {
                let mut w = n.walk();
                stack.extend(n.children(&mut w));
                continue;
            }
            let at = format!("{}:{}", self.files[i].path, n.start_position().row + 1);
            // At module level (in an `if` or `try` too), not in a function.
            let top = kinds::enclosing_def(ctx, n).is_none();
            let from = n.child_by_field_name("module_name").map(|m| ctx.node_text(m));
            let mut found = Vec::new();
            let mut w = n.walk();
            if from.is_some_and(|m| self.module_file(i, m) == Some(target)) {
                let mut w2 = n.walk();
                if n.children(&mut w2).any(|c| c.kind() == "wildcard_import") {
                    return Err(format!("`{name}` may be imported by `import *` at {at}: its uses cannot be told"));
                }
            }
            for b in n.children_by_field_name("name", &mut w) {
                let (dotted, alias) = match b.kind() {
                    "aliased_import" => (b.child_by_field_name("name"), b.child_by_field_name("alias")),
                    _ => (Some(b), None),
                };
                let Some(dotted) = dotted.map(|d| ctx.node_text(d)) else { continue };
                let bound = alias.map_or(dotted, |a| ctx.node_text(a));
                match from {
                    Some(m) if dotted == name && self.module_file(i, m) == Some(target) => {
                        found.push((true, bound.to_string()));
                    }
                    Some(m) => {
                        let sep = if m.ends_with('.') { "" } else { "." };
                        if self.module_file(i, &format!("{m}{sep}{dotted}")) == Some(target) {
                            found.push((false, bound.to_string()));
                        }
                    }
                    // `import app.cache` binds `app`, through which `app.cache` is the module.
                    None if self.module_file(i, dotted) == Some(target) => found.push((false, bound.to_string())),
                    None => {}
                }
            }
            if !found.is_empty() && !top {
                return Err(format!(
                    "the module of `{name}` is imported at {at}, in a function: its uses there cannot be told"
                ));
            }
            for (client, bound) in found {
                if client { out.names.push(bound) } else { out.modules.push(bound) }
            }
        }
        Ok(out)
    }

    /// The file `name` is imported from (`from MODULE import name`, at the top of `files[i]`).
    fn imported_from(&self, ctx: &FileContext<'t>, i: usize, name: &str) -> Option<usize> {
        let root = ctx.tree.root_node();
        let mut c = root.walk();
        for stmt in root.named_children(&mut c).filter(|s| s.kind() == "import_from_statement") {
            let mut c2 = stmt.walk();
            let binds = stmt.children_by_field_name("name", &mut c2).any(|n| ctx.node_text(n) == name);
            if binds {
                let module = stmt.child_by_field_name("module_name")?;
                return self.module_file(i, ctx.node_text(module));
            }
        }
        None
    }
}

/// A chain made async across the workspace.
#[derive(Debug)]
pub struct MadeAsync {
    pub title: String,
    pub edits: FileEdits,
    /// The package the blocking call's counterpart comes from, where it may not be installed (`httpx`).
    pub package: Option<String>,
}

/// The make-async fix (see `chain`) for the chain call at `target.range` of `files[home]`, with the
/// chain's functions in any module of the workspace: every sync function on the chain becomes
/// `async def`, every call to one of them in the workspace is awaited, and the blocking call at the end
/// becomes its async counterpart. A call that cannot be awaited (a sync caller off the chain, module
/// level code, a callback, a lambda) refuses it naming `file:line`; a sync caller that a framework runs
/// (a FastAPI route or dependency) is made `async def` too. Edits per file index, all or none applied.
pub fn make_async_everywhere(
    files: &[WorkspaceFile<'_>],
    home: usize,
    target: &Target,
    catalog: &Catalog,
    options: &Options,
) -> Result<MadeAsync, String> {
    let parsed: Vec<Parsed> = files.iter().map(|_| Parsed::default()).collect();
    make_async_with(files, &parsed.iter().collect::<Vec<_>>(), home, target, catalog, options)
}

/// [`make_async_everywhere`] with each file's parse kept by the caller (`parsed[i]` for `files[i]`).
pub fn make_async_with<'t>(
    files: &'t [WorkspaceFile<'t>],
    parsed: &'t [&'t Parsed],
    home: usize,
    target: &Target,
    catalog: &'t Catalog,
    options: &'t Options,
) -> Result<MadeAsync, String> {
    let tries = Tries::new(files.len(), false);
    make_async_tried(files, parsed, &tries, home, target, catalog, options)
}

/// [`Ws::has_word`] on `files` and their `words`.
fn has_word_in<'t>(files: &[WorkspaceFile<'t>], words: &[OnceCell<HashSet<&'t str>>], i: usize, word: &str) -> bool {
    if word.is_empty() || !word.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return contains_word(files[i].text, word);
    }
    words[i].get_or_init(|| words_of(files[i].text)).contains(word)
}

/// What one try of the make-async fix read of a workspace file: its whole text (through the file's parse
/// or context), or only whether a word occurs in it (the files it looks for callers in). A refusal that
/// read the same of the same files is refused again: `--fix` keeps refusals from one round to the next
/// with their reads ([`Tries::take_reads`]) and skips a chain while [`Tries::reads_hold`] (issue 18).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Read {
    /// File index and the content hash of its text.
    Text(usize, u128),
    /// File index, word, and whether it occurred.
    Word(usize, Box<str>, bool),
}

/// The reads of the current try (a set: a try asks the same file for the same word many times).
#[derive(Default)]
struct Reads {
    set: RefCell<HashSet<Read>>,
    /// Each file's content hash, found on first use.
    hashes: RefCell<HashMap<usize, u128>>,
}

impl Reads {
    fn text(&self, i: usize, text: &str) {
        let h = *self.hashes.borrow_mut().entry(i).or_insert_with(|| crate::cache::content_hash(text));
        self.set.borrow_mut().insert(Read::Text(i, h));
    }

    fn word(&self, i: usize, word: &str, present: bool) {
        let mut set = self.set.borrow_mut();
        // Once the whole text is read, a word adds nothing (checked the cheap way: the hash is known).
        if let Some(&h) = self.hashes.borrow().get(&i)
            && set.contains(&Read::Text(i, h))
        {
            return;
        }
        set.insert(Read::Word(i, word.into(), present));
    }
}

/// What the make-async fix reads of an unchanged workspace, kept from one chain tried to the next: each
/// file's context (its imports, top-level statements and per-file memos) and top-level functions. A
/// caller trying many chains on the same texts (`--fix --unsafe-fixes` tries every chain finding of a
/// file, and most are refused) builds them once, not once per chain (chains x file size).
pub struct Tries<'t> {
    ctxs: Vec<OnceCell<Option<FileContext<'t>>>>,
    defs: RefCell<HashMap<usize, HashMap<&'t str, Node<'t>>>>,
    words: Vec<OnceCell<HashSet<&'t str>>>,
    reads: Reads,
    /// Whether a chain whose rewrite surely refuses may be refused without its reason being found (the
    /// rewritten file parsed and checked): for callers that keep only the chains made async.
    quick: bool,
}

impl<'t> Tries<'t> {
    /// For a workspace of `files` files; `quick`: see the field of that name.
    pub fn new(files: usize, quick: bool) -> Tries<'t> {
        Tries {
            ctxs: (0..files).map(|_| OnceCell::new()).collect(),
            defs: RefCell::default(),
            words: (0..files).map(|_| OnceCell::new()).collect(),
            reads: Reads::default(),
            quick,
        }
    }

    /// What the tries since the last call read of the files (and forgets it), sorted.
    pub fn take_reads(&self) -> Vec<Read> {
        let mut out: Vec<Read> = self.reads.set.borrow_mut().drain().collect();
        out.sort();
        out
    }

    /// Whether `files` (the texts these tries are on) read now as they did in `reads` (taken from tries
    /// on the same list of files, maybe on other texts): each file read whole has the same text, each
    /// word looked for occurs or not as it did. A try's answer depends only on what it read.
    pub fn reads_hold(&self, files: &'t [WorkspaceFile<'t>], reads: &[Read]) -> bool {
        reads.iter().all(|r| match r {
            Read::Text(i, h) => {
                *i < files.len()
                    && *self
                        .reads
                        .hashes
                        .borrow_mut()
                        .entry(*i)
                        .or_insert_with(|| crate::cache::content_hash(files[*i].text))
                        == *h
            }
            Read::Word(i, w, present) => *i < files.len() && has_word_in(files, &self.words, *i, w) == *present,
        })
    }
}

/// [`make_async_with`] sharing `tries` (built for these `files` and `parsed`, unchanged since) with the
/// other chains tried on them. With `quick` tries, a refusal may not say why (its text is then
/// "refused").
pub fn make_async_tried<'t>(
    files: &'t [WorkspaceFile<'t>],
    parsed: &'t [&'t Parsed],
    tries: &Tries<'t>,
    home: usize,
    target: &Target,
    catalog: &'t Catalog,
    options: &'t Options,
) -> Result<MadeAsync, String> {
    let callee = target.callee.as_deref().ok_or("the finding names no blocking call")?;
    let ws = Ws {
        files,
        parsed,
        ctxs: &tries.ctxs,
        defs: &tries.defs,
        words: &tries.words,
        reads: &tries.reads,
        catalog,
        options,
    };
    let hctx = ws.ctx(home)?;
    let call = hctx.call_node(&target.range).ok_or("no call here")?;
    let func = call.child_by_field_name("function").ok_or("no call here")?;
    let first = hctx.node_text(func);
    let start =
        ws.resolve_callee(home, func)?.ok_or_else(|| format!("`{first}` is not a sync function of the workspace"))?;
    // Breadth first from the called function to the first one that makes the blocking call.
    type Key = (usize, usize);
    let key = |(i, d): (usize, Node<'_>)| (i, d.start_byte());
    let mut nodes: HashMap<Key, (usize, Node<'_>)> = HashMap::from([(key(start), start)]);
    let mut parent: HashMap<Key, Key> = HashMap::new();
    let mut queue = VecDeque::from([key(start)]);
    let mut end = None;
    while let Some(k) = queue.pop_front() {
        if nodes.len() > MAX_FUNCTIONS {
            break;
        }
        let (i, def) = nodes[&k];
        let ctx = ws.ctx(i)?;
        let Some(body) = def.child_by_field_name("body") else { continue };
        let calls = chain::calls_in(ctx, body);
        let ends = chain::ends_among(ctx, &calls, callee);
        if !ends.is_empty() {
            end = Some((k, ends));
            break;
        }
        for c in calls {
            let Some(f) = c.child_by_field_name("function") else { continue };
            if let Some(next) = ws.resolve_callee(i, f)? {
                let nk = key(next);
                if let std::collections::hash_map::Entry::Vacant(e) = nodes.entry(nk) {
                    e.insert(next);
                    parent.insert(nk, k);
                    queue.push_back(nk);
                }
            }
        }
    }
    let (last, ends) = end.ok_or_else(|| {
        format!(
            "the chain from `{first}` to `{callee}` leaves the workspace's sync functions (or calls it by another name)"
        )
    })?;
    // A module-level session the end's requests go through becomes an `httpx.AsyncClient`: no other
    // module may reach it, expecting a `requests` session.
    let tails: Vec<&str> = files[last.0].modules.iter().map(|m| m.rsplit('.').next().unwrap_or(m)).collect();
    // So does a module-level client with an async counterpart (`redis.Redis` → `redis.asyncio.Redis`).
    // A module-level client imported by name into another module (`from app.cache import cache`): its
    // uses there are awaited and their sync functions made async with the chain (`imported_client_uses`).
    let mut other_uses: Vec<(usize, Node<'_>, Vec<Edit>)> = Vec::new();
    for end in &ends {
        let ectx = ws.ctx(last.0)?;
        let client = super::db::module_client(ectx, *end, callee);
        let (name, what, expects) = match &client {
            Some(c) => (c.name.clone(), "client", "the sync client"),
            None => match super::httpx::session_call(ectx, *end, callee) {
                Some(s) => (s.name, "session", "a `requests` session"),
                None => continue,
            },
        };
        for (f, file) in files.iter().enumerate() {
            if f == last.0 || !ws.has_word(f, &name) {
                continue;
            }
            let imported = ws.imported_from(ws.ctx(f)?, f, &name) == Some(last.0);
            if let Some(c) = &client {
                // Imported by name (`from app.cache import cache [as c]`) or reached through its module
                // (`cache_mod.cache`, `app.cache.cache`).
                let access = ws.access(f, last.0, &name)?;
                if !access.names.is_empty() || !access.modules.is_empty() {
                    if !other_uses.iter().any(|(g, _, _)| *g == f) {
                        for (d, e) in super::db::imported_client_uses(ws.ctx(f)?, c, &access, file.path)? {
                            other_uses.push((f, d, e));
                        }
                    }
                    continue;
                }
            }
            let at = if imported {
                word_at(file.text, &name)
            } else {
                tails.iter().find_map(|t| file.text.find(&format!("{t}.{name}")))
            };
            if let Some(at) = at {
                let line = file.text[..at].matches('\n').count() + 1;
                return Err(format!(
                    "the {what} `{name}` of {} is also used at {}:{line}, which expects {expects}",
                    files[last.0].path, file.path
                ));
            }
        }
    }
    let mut chain_keys = vec![last];
    while let Some(p) = parent.get(&chain_keys[chain_keys.len() - 1]) {
        chain_keys.push(*p);
    }
    chain_keys.reverse();
    // The other sync functions of the end's module using a module-level client its commands go through
    // (`cache.get`): the client becomes the async one, so they become coroutines too, every call to them
    // in the workspace awaited (and a sync route calling them made `async def`), as the chain's own.
    let chain_len = chain_keys.len();
    for end in &ends {
        for d in super::db::sync_users(ws.ctx(last.0)?, *end, callee) {
            let k = key((last.0, d));
            if !chain_keys.contains(&k)
                && ws.def_in(last.0, name_of(files, last.0, d))?.is_some_and(|x| x.id() == d.id())
            {
                nodes.insert(k, (last.0, d));
                chain_keys.push(k);
            }
        }
    }
    // The sync functions of other modules using the client, converted like those of the end's module.
    for (f, d, _) in &other_uses {
        let k = key((*f, *d));
        if d.child(0).is_none_or(|t| t.kind() != "async") && !chain_keys.contains(&k) {
            if ws.def_in(*f, name_of(files, *f, *d))?.is_none_or(|x| x.id() != d.id()) {
                let at = format!("{}:{}", files[*f].path, d.start_position().row + 1);
                return Err(format!("`{}` ({at}) uses the client but is defined twice", name_of(files, *f, *d)));
            }
            nodes.insert(k, (*f, *d));
            chain_keys.push(k);
        }
    }
    let mut on_chain: HashSet<Key> = chain_keys.iter().copied().collect();
    let mut edits: BTreeMap<usize, Vec<Edit>> = BTreeMap::new();
    let mut sites: BTreeMap<usize, Vec<Node<'_>>> = BTreeMap::new();
    let mut routes: Vec<(usize, Node<'_>)> = Vec::new();
    // The module paths each file binds to each module of the chain (`cache_mod`, `app.cache`).
    let mut modules_of: HashMap<(usize, usize), Vec<String>> = HashMap::new();
    // By index: a sync caller joining the group (below) is pushed and converted in turn.
    let mut n = 0;
    while n < chain_keys.len() {
        let (i, def) = nodes[&chain_keys[n]];
        n += 1;
        let ctx = ws.ctx(i)?;
        let name = name_of(files, i, def);
        let at = format!("{}:{}", files[i].path, def.start_position().row + 1);
        let user_route = n > chain_len && ctx.is_endpoint(def);
        if ctx.up(def).is_some_and(|p| p.kind() == "decorated_definition") && !user_route {
            return Err(format!(
                "`{name}` ({at}) is decorated: whatever the decorator does with it expects a sync function"
            ));
        }
        if let Some(body) = def.child_by_field_name("body")
            && needs_the_loop_in(ctx.text, catalog, body, true).is_some_and(|why| why.contains("generator"))
        {
            return Err(format!("`{name}` ({at}) is a generator"));
        }
        edits.entry(i).or_default().push(Edit { range: def.start_byte()..def.start_byte(), text: "async ".into() });
        let tails: Vec<&str> = files[i].modules.iter().map(|m| m.rsplit('.').next().unwrap_or(m)).collect();
        for (f, file) in files.iter().enumerate() {
            if !ws.has_word(f, name) {
                continue;
            }
            let fctx = ws.ctx(f)?;
            // The module paths `f` binds to `i` (`cache_mod`, `app.cache`), once per pair of files; an
            // import of it elsewhere than at the top refuses (its uses could not be told).
            if f != i && !modules_of.contains_key(&(f, i)) {
                modules_of.insert((f, i), ws.access(f, i, name)?.modules);
            }
            let modules = modules_of.get(&(f, i)).cloned().unwrap_or_default();
            // Bare uses of the name are this function's in its own file and where it is imported from it.
            let bare = f == i || (ws.def_in(f, name)?.is_none() && ws.imported_from(fctx, f, name) == Some(i));
            let def_name = def.child_by_field_name("name").map(|n| n.id());
            // The identifiers `name` in the file, in the order a walk of its tree meets them.
            let idents = ws.parsed[f].idents(fctx.text, fctx.tree);
            let root = fctx.tree.root_node();
            for (seen, range) in idents.uses.get(name).map_or(&[][..], Vec::as_slice) {
                if *seen > MAX_NODES {
                    break;
                }
                let Some(n) = root
                    .descendant_for_byte_range(range.start, range.end)
                    .filter(|n| n.kind() == "identifier" && n.byte_range() == *range)
                else {
                    continue;
                };
                if f == i && Some(n.id()) == def_name {
                    continue;
                }
                let line = n.start_position().row + 1;
                let at = format!("{}:{line}", file.path);
                let Some(p) = fctx.up(n) else { continue };
                let is = |p: Node<'_>, field: &str| p.child_by_field_name(field).is_some_and(|c| c.id() == n.id());
                if p.kind() == "keyword_argument" && is(p, "name") {
                    continue;
                }
                if matches!(p.kind(), "import_from_statement" | "import_statement" | "dotted_name" | "aliased_import") {
                    // `from <its module> import name as other`: calls by the other name would be missed.
                    let (holder, child) = if p.kind() == "dotted_name" { (fctx.up(p), p) } else { (Some(p), n) };
                    let aliased = holder.filter(|h| {
                        h.kind() == "aliased_import"
                            && h.child_by_field_name("name").is_some_and(|c| c.id() == child.id())
                    });
                    let from_home = aliased
                        .and_then(|h| fctx.up(h))
                        .filter(|s| s.kind() == "import_from_statement")
                        .and_then(|s| s.child_by_field_name("module_name"))
                        .is_some_and(|m| ws.module_file(f, fctx.node_text(m)) == Some(i));
                    if from_home {
                        return Err(format!("`{name}` is imported under another name at {at}"));
                    }
                    continue;
                }
                let callee_node = if p.kind() == "attribute" && is(p, "attribute") {
                    let object = p.child_by_field_name("object");
                    // `cache.f` by the module's own name, or `cache_mod.f`, `app.cache.f` as imported.
                    let path = object
                        .filter(|o| kinds::root_identifier(*o).is_some())
                        .map(|o| fctx.node_text(o).split_whitespace().collect::<String>());
                    let by_module = f != i
                        && (object.is_some_and(|o| o.kind() == "identifier" && tails.contains(&fctx.node_text(o)))
                            || path.is_some_and(|path| modules.contains(&path)));
                    if !by_module {
                        continue;
                    }
                    p
                } else if bare {
                    n
                } else {
                    continue;
                };
                let Some(call) = fctx.up(callee_node).filter(|c| {
                    c.kind() == "call" && c.child_by_field_name("function").is_some_and(|x| x.id() == callee_node.id())
                }) else {
                    return Err(format!("`{name}` is used without being called at {at} (a callback cannot await it)"));
                };
                if kinds::already_awaited(fctx, call) {
                    return Err(format!("`{name}(...)` is already awaited at {at}"));
                }
                match kinds::enclosing_def(fctx, call) {
                    None => return Err(format!("`{name}` is called at module level at {at}")),
                    Some(d) if d.child(0).is_some_and(|c| c.kind() == "async") => {
                        kinds::await_allowed(fctx, call).map_err(|why| format!("`{name}` at {at}: {why}"))?;
                        if let Some(kind) = super::chain::deferred_between(fctx, call, d) {
                            return Err(format!("`{name}` is called in a {kind} at {at}"));
                        }
                    }
                    Some(d) => {
                        let caller = name_of(files, f, d);
                        let top = fctx.up(d).is_some_and(|p| matches!(p.kind(), "module" | "decorated_definition"));
                        let chained = top && on_chain.contains(&(f, d.start_byte()));
                        let route = top && !chained && fctx.is_endpoint(d);
                        // A sync caller that is itself on a chain from a route or a coroutine (the other
                        // chain of a shared client: `profile` → `seen`) is converted with the group.
                        let dk = (f, d.start_byte());
                        let joins = top
                            && !chained
                            && !route
                            && fctx.up(d).is_some_and(|p| p.kind() == "module")
                            && ws.def_in(f, caller)?.is_some_and(|x| x.id() == d.id())
                            && reached_from_async(&ws, (f, d), &mut HashSet::from([dk]), 4)?;
                        if joins {
                            nodes.insert(dk, (f, d));
                            chain_keys.push(dk);
                            on_chain.insert(dk);
                        } else if !chained && !route {
                            return Err(format!(
                                "`{name}` is called by the sync function `{caller}`, which is not on the chain, at {at}"
                            ));
                        }
                        if let Some(kind) = super::chain::deferred_between(fctx, call, d) {
                            return Err(format!("`{name}` is called in a {kind} at {at}"));
                        }
                        if route && !routes.iter().any(|(rf, r)| *rf == f && r.id() == d.id()) {
                            routes.push((f, d));
                            edits
                                .entry(f)
                                .or_default()
                                .push(Edit { range: d.start_byte()..d.start_byte(), text: "async ".into() });
                        }
                    }
                }
                sites.entry(f).or_default().push(call);
            }
            if idents.nodes > MAX_NODES {
                return Err(format!("{} is too large to check", file.path));
            }
        }
    }
    // Each call awaited by insertions around it, so that nested ones compose at any depth (`await
    // seen(await hits(k))`, `await seen(await cache.get(k))`): outer before inner at one point.
    let mut count = 0;
    for (f, calls) in &mut sites {
        let fctx = ws.ctx(*f)?;
        calls.sort_by_key(|c| (c.start_byte(), std::cmp::Reverse(c.end_byte())));
        calls.dedup_by_key(|c| c.id());
        for c in calls.iter() {
            edits.entry(*f).or_default().extend(super::chain::await_insertions(fctx, *c));
            count += 1;
        }
    }
    for (f, _, e) in other_uses {
        edits.entry(f).or_default().extend(e);
    }
    let end_file = last.0;
    let ectx = ws.ctx(end_file)?;
    let end_edits = edits.entry(end_file).or_default();
    if tries.quick {
        end_edits.sort_by_key(|e| (e.range.start, e.range.end));
        if super::httpx::surely_refused(ectx, callee, &ends, end_edits) {
            return Err("refused".into());
        }
    }
    let (counterpart, _, package) = chain::rewrite_ends(ectx, target, callee, &ends, end_edits)
        .map_err(|why| format!("{}: {why}", files[end_file].path))?;
    for (f, e) in &mut edits {
        super::normalize(e);
        if !super::verify::well_formed(files[*f].text, e) {
            return Err(format!("the rewrites of {} overlap", files[*f].path));
        }
    }
    let mut names: Vec<String> = chain_keys.iter().map(|k| format!("`{}`", name_of(files, k.0, nodes[k].1))).collect();
    names.extend(routes.iter().map(|(f, d)| format!("the route `{}`", name_of(files, *f, *d))));
    let title = format!(
        "Make {} async, await {count} call site{} in {} file{}, and {}",
        names.join(", "),
        if count == 1 { "" } else { "s" },
        edits.len(),
        if edits.len() == 1 { "" } else { "s" },
        chain::lowercase_first(&counterpart)
    );
    Ok(MadeAsync { title, edits: edits.into_iter().filter(|(_, e)| !e.is_empty()).collect(), package })
}

/// Whether the top-level sync function `(f, def)` is called, directly or through other top-level sync
/// functions (at most `depth` deep), by a coroutine or a route: it is then on a chain the analysis
/// reports, not a sync entry point of its own (a CLI function, a callback).
fn reached_from_async<'t>(
    ws: &Ws<'_, 't>,
    (f, def): (usize, Node<'t>),
    visited: &mut HashSet<(usize, usize)>,
    depth: usize,
) -> Result<bool, String> {
    let name = name_of(ws.files, f, def);
    if depth == 0 || name.is_empty() {
        return Ok(false);
    }
    for g in 0..ws.files.len() {
        if !ws.has_word(g, name) {
            continue;
        }
        let gctx = ws.ctx(g)?;
        let mut stack = vec![gctx.tree.root_node()];
        let mut seen = 0;
        while let Some(n) = stack.pop() {
            seen += 1;
            if seen > MAX_NODES {
                return Ok(false);
            }
            let mut c = n.walk();
            stack.extend(n.children(&mut c));
            if n.kind() != "call" {
                continue;
            }
            let Some(callee) = n.child_by_field_name("function") else { continue };
            let last =
                if callee.kind() == "attribute" { callee.child_by_field_name("attribute") } else { Some(callee) };
            if last.is_none_or(|l| gctx.node_text(l) != name) {
                continue;
            }
            if ws.resolve_callee(g, callee)?.is_none_or(|(h, d)| h != f || d.id() != def.id()) {
                continue;
            }
            let Some(e) = kinds::enclosing_def(gctx, n) else { continue };
            if e.child(0).is_some_and(|t| t.kind() == "async") {
                return Ok(true);
            }
            let top = gctx.up(e).is_some_and(|p| matches!(p.kind(), "module" | "decorated_definition"));
            if top && gctx.is_endpoint(e) {
                return Ok(true);
            }
            if top && visited.insert((g, e.start_byte())) && reached_from_async(ws, (g, e), visited, depth - 1)? {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn name_of<'t>(files: &[WorkspaceFile<'t>], i: usize, def: Node<'_>) -> &'t str {
    def.child_by_field_name("name").map_or("", |n| &files[i].text[n.byte_range()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::FixKind;
    use crate::rules::Rule;

    const SIGNING: &str = "import requests\n\n\ndef internal_signing_op(op_num, request_id):\n    response = requests.get(f\"http://127.0.0.1:9000/{request_id}/{op_num}\", timeout=10)\n    return response.text\n\n\ndef sign_op1(request_id):\n    return internal_signing_op(1, request_id)\n";
    const MAIN: &str = "from fastapi import FastAPI\n\nfrom .signing import sign_op1\n\napp = FastAPI()\n\n\n@app.get(\"/a/{request_id}\")\nasync def a(request_id: str):\n    return sign_op1(request_id)\n\n\n@app.get(\"/b/{request_id}\")\ndef b(request_id: str):\n    return {\"s\": sign_op1(request_id)}\n";
    const CLI: &str = "from app import signing\n\n\ndef main():\n    print(signing.sign_op1(\"x\"))\n";

    /// The make-async fix for the call `sign_op1(request_id)` of route `a` in a workspace of `files`.
    fn make_async(files: &[(&str, &str)]) -> Result<Vec<String>, String> {
        make_async_at(files, "sign_op1(request_id)")
    }

    fn make_async_at(files: &[(&str, &str)], call: &str) -> Result<Vec<String>, String> {
        make_async_of(files, call, "requests.get")
    }

    fn make_async_of(files: &[(&str, &str)], call: &str, callee: &str) -> Result<Vec<String>, String> {
        let made = made_async(files, call, callee)?;
        assert_eq!(made.package.as_deref(), Some("httpx"));
        let mut out = vec![made.title];
        for (i, e) in made.edits {
            out.push(format!("{}:\n{}", files[i].0, crate::fix::apply(files[i].1, &e).unwrap()));
        }
        Ok(out)
    }

    fn made_async(files: &[(&str, &str)], call: &str, callee: &str) -> Result<MadeAsync, String> {
        let ws: Vec<WorkspaceFile<'_>> = files
            .iter()
            .map(|(path, text)| WorkspaceFile {
                path,
                text,
                modules: vec![path.trim_end_matches(".py").replace('/', ".")],
            })
            .collect();
        let home = files.iter().position(|(p, _)| *p == "app/main.py").unwrap();
        let at = files[home].1.find(call).unwrap();
        let target = Target {
            rule: Rule::BlockingHttp,
            callee: Some(callee.into()),
            kinds: vec![FixKind::Offload],
            range: at..at + call.len(),
            chain: true,
        };
        let options = Options::default();
        make_async_everywhere(&ws, home, &target, Catalog::bundled(), &options)
    }

    #[test]
    fn a_chain_across_modules_becomes_async_with_every_caller_and_the_sync_route() {
        let got = make_async(&[("app/__init__.py", ""), ("app/main.py", MAIN), ("app/signing.py", SIGNING)]).unwrap();
        assert_eq!(
            got,
            [
                "Make `sign_op1`, `internal_signing_op`, the route `b` async, await 3 call sites in 2 files, and use `httpx.AsyncClient` instead of `requests.get`".to_string(),
                format!(
                    "app/main.py:\n{}",
                    MAIN.replace("return sign_op1(", "return await sign_op1(")
                        .replace("def b(", "async def b(")
                        .replace("{\"s\": sign_op1(", "{\"s\": await sign_op1(")
                ),
                "app/signing.py:\nimport httpx\n\n\nasync def internal_signing_op(op_num, request_id):\n    async with httpx.AsyncClient(follow_redirects=True) as client:\n        response = await client.get(f\"http://127.0.0.1:9000/{request_id}/{op_num}\", timeout=10)\n    return response.text\n\n\nasync def sign_op1(request_id):\n    return await internal_signing_op(1, request_id)\n".to_string(),
            ]
        );
    }

    #[test]
    fn a_chain_reached_through_a_module_name_is_followed() {
        let main =
            "from . import signing\n\n\nasync def a(request_id: str):\n    return signing.sign_op1(request_id)\n";
        let got = make_async_at(
            &[("app/__init__.py", ""), ("app/main.py", main), ("app/signing.py", SIGNING)],
            "signing.sign_op1(request_id)",
        )
        .unwrap();
        assert_eq!(got[1], format!("app/main.py:\n{}", main.replace("return signing", "return await signing")));
        assert!(
            got[2].contains("async def sign_op1(request_id):\n    return await internal_signing_op("),
            "{}",
            got[2]
        );
    }

    #[test]
    fn a_sync_caller_in_another_module_refuses_naming_its_file_and_line() {
        let got = make_async(&[
            ("app/__init__.py", ""),
            ("app/cli.py", CLI),
            ("app/main.py", MAIN),
            ("app/signing.py", SIGNING),
        ]);
        let why = got.unwrap_err();
        assert!(why.contains("sync function `main`") && why.contains("app/cli.py:5"), "{why}");
    }

    const SESSION: &str = "import os\n\nimport requests\n\nURL = os.environ.get(\"URL\", \"http://127.0.0.1:8001\")\n\n_session = requests.Session()\n_session.headers.update({\"X-Client\": \"loopsafe\"})\n_session.verify = False\n\n\ndef internal_signing_op(op_num, request_id):\n    response = _session.request(\"POST\", f\"{URL}/sign\", json={\"id\": request_id}, allow_redirects=False)\n    response.raise_for_status()\n    return response.json()\n\n\ndef sign_op1(request_id):\n    return internal_signing_op(1, request_id)\n";

    fn make_async_session(files: &[(&str, &str)]) -> Result<Vec<String>, String> {
        let main =
            "from .signing import sign_op1\n\n\nasync def a(request_id: str):\n    return sign_op1(request_id)\n";
        let mut all = vec![("app/__init__.py", ""), ("app/main.py", main)];
        all.extend_from_slice(files);
        make_async_of(&all, "sign_op1(request_id)", "requests.Session.request")
    }

    #[test]
    fn a_module_level_session_becomes_a_module_level_async_client() {
        let got = make_async_session(&[("app/signing.py", SESSION)]).unwrap();
        assert_eq!(
            got[2],
            "app/signing.py:\nimport os\n\nimport httpx\n\nURL = os.environ.get(\"URL\", \"http://127.0.0.1:8001\")\n\n_session = httpx.AsyncClient(follow_redirects=True, timeout=None, verify=False)\n_session.headers.update({\"X-Client\": \"loopsafe\"})\n\n\nasync def internal_signing_op(op_num, request_id):\n    response = await _session.request(\"POST\", f\"{URL}/sign\", json={\"id\": request_id}, follow_redirects=False)\n    response.raise_for_status()\n    return response.json()\n\n\nasync def sign_op1(request_id):\n    return await internal_signing_op(1, request_id)\n"
        );
        assert!(got[0].contains("use one module-level `httpx.AsyncClient` as `_session`"), "{}", got[0]);
    }

    #[test]
    fn a_module_level_session_used_where_it_cannot_change_refuses_with_the_place() {
        let cases = [
            (
                format!("{SESSION}\n\ndef ping():\n    return _session.get(URL).status_code\n"),
                None,
                "sync function `ping` at line 23",
            ),
            (
                SESSION.replace("_session.verify = False", "_session.mount(\"https://\", None)"),
                None,
                "`_session.mount` at line 9",
            ),
            (
                SESSION.replace("_session.verify = False", "_session.verify = os.environ[\"CA\"]"),
                None,
                "only a constant",
            ),
            (
                SESSION.to_string(),
                Some("from app import signing\n\n\ndef main():\n    signing._session.get(\"x\")\n"),
                "also used at app/cli.py:5",
            ),
        ];
        for (signing, cli, why) in cases {
            let mut files = vec![("app/signing.py", signing.as_str())];
            files.extend(cli.map(|c| ("app/cli.py", c)));
            let got = make_async_session(&files).unwrap_err();
            assert!(got.contains(why), "{got}, expected {why:?}");
        }
    }

    const CACHE: &str = "import redis\n\ncache = redis.Redis()\n\n\ndef hits(k):\n    return cache.incr(k)\n\n\ndef seen(u):\n    return cache.get(u)\n";
    const ROUTES: &str = "from fastapi import FastAPI\n\nfrom .cache import hits, seen\n\napp = FastAPI()\n\n\n@app.get(\"/a/{k}\")\nasync def a(k: str):\n    return hits(k)\n\n\n@app.get(\"/b/{u}\")\ndef b(u: str):\n    return seen(u)\n";

    #[test]
    fn a_module_level_client_shared_by_two_chains_converts_every_user_and_their_callers() {
        let files = [("app/__init__.py", ""), ("app/main.py", ROUTES), ("app/cache.py", CACHE)];
        let made = made_async(&files, "hits(k)", "redis.Redis.incr").unwrap();
        assert_eq!(made.package.as_deref(), Some("redis"));
        assert!(
            made.title.starts_with("Make `hits`, `seen`, the route `b` async, await 2 call sites in 2 files"),
            "{}",
            made.title
        );
        let texts: Vec<String> = made.edits.iter().map(|(i, e)| crate::fix::apply(files[*i].1, e).unwrap()).collect();
        assert_eq!(
            texts[0],
            ROUTES
                .replace("return hits", "return await hits")
                .replace("def b(", "async def b(")
                .replace("return seen", "return await seen")
        );
        assert_eq!(
            texts[1],
            "import redis\nimport redis.asyncio\n\ncache = redis.asyncio.Redis()\n\n\nasync def hits(k):\n    return await cache.incr(k)\n\n\nasync def seen(u):\n    return await cache.get(u)\n"
        );
    }

    #[test]
    fn a_module_level_client_whose_other_user_cannot_await_refuses_naming_the_place() {
        let cli = "from app.cache import seen\n\n\ndef main():\n    print(seen(\"x\"))\n";
        let files = [("app/__init__.py", ""), ("app/cli.py", cli), ("app/main.py", ROUTES), ("app/cache.py", CACHE)];
        let why = made_async(&files, "hits(k)", "redis.Redis.incr").unwrap_err();
        assert!(
            why.contains("`seen` is called by the sync function `main`, which is not on the chain, at app/cli.py:5"),
            "{why}"
        );
        // The client itself used from another module where it cannot await.
        for (other, why) in [
            (
                "from app.cache import cache\n\nPONG = cache.ping()\n",
                "`cache.ping` is used at module level at app/other.py:3",
            ),
            (
                "from app.cache import cache\n\n\ndef ping():\n    return list(map(lambda k: cache.get(k), [1]))\n",
                "`cache.get` is used in a lambda at app/other.py:5",
            ),
            (
                "from app.cache import cache\n\n\nclass P:\n    def ping(self):\n        return cache.ping()\n",
                "by the sync function `ping`, a method or nested function, which is not made async",
            ),
            (
                "from app.cache import cache\n\n\nasync def ping():\n    return {\"c\": cache}\n",
                "the client `cache` is used as a value at app/other.py:5",
            ),
        ] {
            let files =
                [("app/__init__.py", ""), ("app/other.py", other), ("app/main.py", ROUTES), ("app/cache.py", CACHE)];
            let got = made_async(&files, "hits(k)", "redis.Redis.incr").unwrap_err();
            assert!(got.contains(why), "{got}, expected {why:?}");
        }
    }

    #[test]
    fn a_sync_helper_calling_the_other_user_from_a_route_is_converted_with_it() {
        let routes = ROUTES.replace("return seen(u)", "return profile(u)")
            + "\n\ndef profile(u):\n    return {\"seen\": seen(u)}\n";
        let files = [("app/__init__.py", ""), ("app/main.py", routes.as_str()), ("app/cache.py", CACHE)];
        let made = made_async(&files, "hits(k)", "redis.Redis.incr").unwrap();
        assert!(made.title.starts_with("Make `hits`, `seen`, `profile`, the route `b` async"), "{}", made.title);
        let (_, e) = made.edits.iter().find(|(f, _)| *f == 1).unwrap();
        assert_eq!(
            crate::fix::apply(&routes, e).unwrap(),
            routes
                .replace("return hits", "return await hits")
                .replace("def b(", "async def b(")
                .replace("return profile(u)", "return await profile(u)")
                .replace("def profile(", "async def profile(")
                .replace("seen(u)}", "await seen(u)}")
        );
        // A sync function no route or coroutine reaches (a CLI's) still refuses, naming the place.
        let cli = "from app.main import profile\n\n\ndef main():\n    print(profile(\"x\"))\n";
        let files =
            [("app/__init__.py", ""), ("app/cli.py", cli), ("app/main.py", routes.as_str()), ("app/cache.py", CACHE)];
        let why = made_async(&files, "hits(k)", "redis.Redis.incr").unwrap_err();
        assert!(why.contains("sync function `main`, which is not on the chain, at app/cli.py:5"), "{why}");
    }

    #[test]
    fn a_module_level_client_used_by_another_module_converts_its_users_there_and_their_callers() {
        let other = "from app.cache import cache\n\n\nasync def ping():\n    return cache.ping()\n\n\ndef touch(k):\n    cache.set(k, 1)\n    return cache.get(k).decode()\n\n\nasync def later(k):\n    return touch(k)\n";
        let files =
            [("app/__init__.py", ""), ("app/other.py", other), ("app/main.py", ROUTES), ("app/cache.py", CACHE)];
        let made = made_async(&files, "hits(k)", "redis.Redis.incr").unwrap();
        assert!(made.title.starts_with("Make `hits`, `seen`, `touch`, the route `b` async"), "{}", made.title);
        let i = files.iter().position(|(p, _)| *p == "app/other.py").unwrap();
        let (_, e) = made.edits.iter().find(|(f, _)| *f == i).unwrap();
        assert_eq!(
            crate::fix::apply(other, e).unwrap(),
            "from app.cache import cache\n\n\nasync def ping():\n    return await cache.ping()\n\n\nasync def touch(k):\n    await cache.set(k, 1)\n    return (await cache.get(k)).decode()\n\n\nasync def later(k):\n    return await touch(k)\n"
        );
    }

    #[test]
    fn a_client_reached_through_its_module_is_converted_with_its_users() {
        let other = "import app.cache\nfrom app import cache as cache_mod\n\n\ndef touch(k):\n    cache_mod.cache.set(k, 1)\n    return app.cache.cache.get(k)\n\n\nasync def later(k):\n    return cache_mod.seen(touch(k))\n";
        let files =
            [("app/__init__.py", ""), ("app/other.py", other), ("app/main.py", ROUTES), ("app/cache.py", CACHE)];
        let made = made_async(&files, "hits(k)", "redis.Redis.incr").unwrap();
        let (_, e) = made.edits.iter().find(|(f, _)| *f == 1).unwrap();
        assert_eq!(
            crate::fix::apply(other, e).unwrap(),
            "import app.cache\nfrom app import cache as cache_mod\n\n\nasync def touch(k):\n    await cache_mod.cache.set(k, 1)\n    return await app.cache.cache.get(k)\n\n\nasync def later(k):\n    return await cache_mod.seen(await touch(k))\n"
        );
        // Where a use through the module cannot await, it refuses naming the place.
        for (other, why) in [
            (
                "from app import cache as c\n\nPONG = c.cache.ping()\n",
                "`c.cache.ping` is used at module level at app/other.py:3",
            ),
            (
                "import app.cache\n\n\nclass P:\n    def ping(self):\n        return app.cache.cache.ping()\n",
                "`app.cache.cache` is used at app/other.py:6 by the sync function `ping`, a method or nested function",
            ),
            (
                "from app import cache as c\n\n\ndef ping(c):\n    return c.cache.ping()\n",
                "`ping` binds `c` itself, at app/other.py:5",
            ),
            (
                "def ping():\n    from app import cache as c\n    return c.cache.ping()\n",
                "the module of `cache` is imported at app/other.py:2, in a function",
            ),
            (
                "from app.cache import *\n\n\nasync def ping():\n    return cache.ping()\n",
                "`cache` may be imported by `import *` at app/other.py:1",
            ),
            // A default value is evaluated where the function is defined, outside its coroutine.
            (
                "from app.cache import cache\n\n\ndef ping(x=cache.get(1)):\n    return x\n",
                "`cache.get` is used in a default value or annotation, evaluated where the function is defined at app/other.py:4",
            ),
            (
                "from app.cache import seen\n\n\nasync def ping(x=seen(1)):\n    return x\n",
                "`seen` is called in a default value or annotation, evaluated where the function is defined at app/other.py:4",
            ),
        ] {
            let files =
                [("app/__init__.py", ""), ("app/other.py", other), ("app/main.py", ROUTES), ("app/cache.py", CACHE)];
            let got = made_async(&files, "hits(k)", "redis.Redis.incr").unwrap_err();
            assert!(got.contains(why), "{got}, expected {why:?}");
        }
    }

    #[test]
    fn a_use_of_the_client_in_a_default_value_refuses_in_its_own_module_too() {
        let cache = format!("{CACHE}\n\ndef late(x=cache.get(1)):\n    return x\n");
        let files = [("app/__init__.py", ""), ("app/main.py", ROUTES), ("app/cache.py", cache.as_str())];
        let why = made_async(&files, "hits(k)", "redis.Redis.incr").unwrap_err();
        assert!(
            why.contains(
                "`cache.get` is used in a default value or annotation, evaluated where the function is defined, line 14"
            ),
            "{why}"
        );
    }

    #[test]
    fn a_client_imported_under_another_name_is_converted_too() {
        let other = "from app.cache import cache as kv\n\n\nasync def ping():\n    return kv.ping()\n\n\ndef labels(ks):\n    return [f\"{k}={kv.get(k)}\" for k in ks]\n";
        let files =
            [("app/__init__.py", ""), ("app/other.py", other), ("app/main.py", ROUTES), ("app/cache.py", CACHE)];
        let made = made_async(&files, "hits(k)", "redis.Redis.incr").unwrap();
        let (_, e) = made.edits.iter().find(|(f, _)| *f == 1).unwrap();
        // In an f-string of a comprehension too: the comprehension awaits in the coroutine it is in.
        assert_eq!(
            crate::fix::apply(other, e).unwrap(),
            other
                .replace("return kv", "return await kv")
                .replace("={kv", "={await kv")
                .replace("def labels", "async def labels")
        );
    }

    #[test]
    fn converted_calls_nested_around_uses_of_the_client_compose_at_any_depth() {
        let other = "from app.cache import cache, seen\n\n\ndef touch(k):\n    return seen(seen(cache.get(k)).upper())\n\n\nasync def later(k):\n    return {\"v\": cache.set(k, touch(k))}\n";
        let cache = format!(
            "{CACHE}\n\ndef both(u):\n    return seen(cache.get(u))\n\n\ndef put(u):\n    cache.set(u, seen(u).upper())\n"
        );
        let files = [
            ("app/__init__.py", ""),
            ("app/other.py", other),
            ("app/main.py", ROUTES),
            ("app/cache.py", cache.as_str()),
        ];
        let made = made_async(&files, "hits(k)", "redis.Redis.incr").unwrap();
        let (_, e) = made.edits.iter().find(|(f, _)| *f == 1).unwrap();
        assert_eq!(
            crate::fix::apply(other, e).unwrap(),
            "from app.cache import cache, seen\n\n\nasync def touch(k):\n    return await seen((await seen(await cache.get(k))).upper())\n\n\nasync def later(k):\n    return {\"v\": await cache.set(k, await touch(k))}\n"
        );
        let (_, e) = made.edits.iter().find(|(f, _)| *f == 3).unwrap();
        let got = crate::fix::apply(&cache, e).unwrap();
        assert!(
            got.ends_with("async def both(u):\n    return await seen(await cache.get(u))\n\n\nasync def put(u):\n    await cache.set(u, (await seen(u)).upper())\n"),
            "{got}"
        );
    }

    /// `bench/fix_scaling.py`'s modclient case: a module-level `requests.Session()`, sqlite3 connection
    /// and `redis.Redis()`, used by coroutines directly and through sync helpers.
    fn modclient(n: usize) -> String {
        let mut out = String::from("import sqlite3\n\nimport redis\nimport requests\n\n");
        out += "_session = requests.Session()\nconn = sqlite3.connect('db.sqlite')\ncache = redis.Redis()\n\n";
        let calls = ["_session.get(x)", "cache.get(x)", "conn.execute(x)"];
        for i in 0..n {
            out += &format!("LIMIT_{i} = {i}\n\n");
            if i % 6 < 3 {
                out += &format!("async def a{i}(x):\n    return {}\n\n", calls[i % 6]);
            } else {
                out += &format!(
                    "def h{i}(x):\n    return {}\n\nasync def c{i}(x):\n    return h{i}(x)\n\n",
                    calls[i % 6 - 3]
                );
            }
        }
        out
    }

    #[test]
    fn a_quick_refusal_refuses_only_what_the_full_rewrite_refuses() {
        // Every chain of the modclient file, and of the same file with the session's and the
        // connection's other sync users gone (one helper each: the rewrite is then tried in full).
        let full = modclient(24);
        let mut few = String::new();
        for block in full.split("\n\n") {
            let other = ["def h9(", "def h11(", "def h15(", "def h17(", "def h21(", "def h23("];
            if !other.iter().any(|o| block.starts_with(o)) {
                few += block;
                few += "\n\n";
            }
        }
        let options = Options::default();
        for text in [full.as_str(), few.as_str()] {
            let ws = [WorkspaceFile { path: "app/main.py", text, modules: vec!["app.main".into()] }];
            let parsed = [Parsed::default()];
            let kept: Vec<&Parsed> = parsed.iter().collect();
            let quick = Tries::new(1, true);
            let mut refused_quickly = 0;
            for (k, callee) in [(3, "requests.Session.get"), (4, "redis.Redis.get"), (5, "sqlite3.Connection.execute")]
            {
                for i in (k..24).step_by(6) {
                    let call = format!("h{i}(x)");
                    let Some(at) = text.find(&format!("return {call}")).map(|a| a + "return ".len()) else { continue };
                    let target = Target {
                        rule: if k == 3 { Rule::BlockingHttp } else { Rule::BlockingDatabase },
                        callee: Some(callee.into()),
                        kinds: vec![FixKind::Offload],
                        range: at..at + call.len(),
                        chain: true,
                    };
                    let slow = make_async_with(&ws, &kept, 0, &target, Catalog::bundled(), &options);
                    let fast = make_async_tried(&ws, &kept, &quick, 0, &target, Catalog::bundled(), &options);
                    match (&slow, &fast) {
                        (Ok(a), Ok(b)) => assert_eq!((&a.title, &a.edits), (&b.title, &b.edits), "{call}"),
                        (Err(_), Err(why)) => refused_quickly += usize::from(why == "refused"),
                        _ => panic!("{call}: {slow:?} but quickly {fast:?}"),
                    }
                }
            }
            assert!(refused_quickly > 0);
        }
    }

    #[test]
    fn a_refusal_whose_reads_hold_is_refused_again_on_the_new_texts() {
        // The chains of the modclient file (most refused), beside a module that uses one helper or none;
        // then each file changed in turn. Where a refusal's reads hold on the new texts, trying the chain
        // there refuses it too (what `--fix` skips across rounds); a change to a file read whole breaks them.
        let main = modclient(24);
        let options = Options::default();
        let target_of = |text: &str, i: usize| {
            let call = format!("h{i}(x)");
            let at = text.find(&format!("return {call}")).map(|a| a + "return ".len())?;
            Some(Target {
                rule: Rule::BlockingDatabase,
                callee: Some(
                    ["requests.Session.get", "redis.Redis.get", "sqlite3.Connection.execute"][i % 6 - 3].into(),
                ),
                kinds: vec![FixKind::Offload],
                range: at..at + call.len(),
                chain: true,
            })
        };
        let mut checked = 0;
        for other in ["import os\n", "from app.main import h5\n\n\ndef use():\n    return h5(1)\n"] {
            for quick in [true, false] {
                let before = [main.clone(), other.to_string()];
                fn ws_of(texts: &[String; 2]) -> Vec<WorkspaceFile<'_>> {
                    vec![
                        WorkspaceFile { path: "app/main.py", text: &texts[0], modules: vec!["app.main".into()] },
                        WorkspaceFile { path: "app/other.py", text: &texts[1], modules: vec!["app.other".into()] },
                    ]
                }
                let ws = ws_of(&before);
                let parsed = [Parsed::default(), Parsed::default()];
                let kept: Vec<&Parsed> = parsed.iter().collect();
                let tries = Tries::new(2, quick);
                for i in (3..24).filter(|i| i % 6 >= 3) {
                    let Some(target) = target_of(&main, i) else { continue };
                    tries.take_reads();
                    if make_async_tried(&ws, &kept, &tries, 0, &target, Catalog::bundled(), &options).is_ok() {
                        continue;
                    }
                    let reads = tries.take_reads();
                    assert!(reads.iter().any(|r| matches!(r, Read::Text(0, _))), "h{i}: {reads:?}");
                    // Same texts: the reads hold.
                    assert!(Tries::new(2, quick).reads_hold(&ws, &reads), "h{i}");
                    for changed in [0, 1] {
                        let mut after = before.clone();
                        after[changed] += "\nZ = 1\n";
                        let ws2 = ws_of(&after);
                        let parsed2 = [Parsed::default(), Parsed::default()];
                        let kept2: Vec<&Parsed> = parsed2.iter().collect();
                        let tries2 = Tries::new(2, quick);
                        let read_whole = reads.iter().any(|r| matches!(r, Read::Text(f, _) if *f == changed));
                        let holds = tries2.reads_hold(&ws2, &reads);
                        assert_eq!(holds, !read_whole, "h{i}, file {changed} changed: {reads:?}");
                        if holds {
                            let again =
                                make_async_tried(&ws2, &kept2, &tries2, 0, &target, Catalog::bundled(), &options);
                            assert!(again.is_err(), "h{i}: refused, then {again:?} on texts it read the same");
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 0);
    }

    #[test]
    fn a_files_words_answer_what_a_search_for_the_word_answers() {
        let text = "def h3(x):\n    return h33(x_h3) + é_h3 + h3é\n# h3.\nfoo_bar=1;h4\n";
        let words = words_of(text);
        for w in ["h3", "h33", "x_h3", "x", "é_h3", "h3é", "foo_bar", "foo", "bar", "h4", "h", "def", "return", "1"] {
            assert_eq!(words.contains(w), contains_word(text, w), "{w}");
        }
    }
}
