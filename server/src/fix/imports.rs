//! The module's top-level imports: what a name already refers to, and where a new import goes.
//!
//! Only top-level statements are read for placement (nothing is inserted inside `try:` or a function).
//! Seen from a fix site ([`Imports::at`]), the imports of the functions around it count too: one that
//! is bound before the site, in a block around it, is reused (`import asyncio` inside the function: no
//! new top-level import, which would be unused there, F401/F811); a name imported in those functions
//! anywhere else is local to the whole function, so the module-level one is hidden there, and a fix
//! that would need it is refused ([`Imports::conflict`]). A new `from m import n` is merged into an
//! existing `from m import ...` when there is one. Otherwise a new import goes where isort puts it
//! ([`Imports::place`]): in its section (`__future__`, standard library from `queries/python/stdlib.txt`,
//! third-party, relative), in the first block of that section, plain `import`s before `from` imports,
//! each sorted by module; a section the file lacks becomes a block of its own; without any import,
//! after the module docstring and the leading comment block.

use tree_sitter::{Node, Tree};

use super::{Edit, KindName};

/// The standard library's top-level modules, one a line (`#` comments).
const STDLIB: &str = include_str!(concat!(env!("LOOPSAFE_QUERIES"), "/python/stdlib.txt"));

/// isort's sections, in their order in a file (first-party modules are not told apart from third-party
/// ones: a project's own absolute imports usually stand in a block after the third-party one, and a new
/// import goes in the first block of its section).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Section {
    Future,
    Stdlib,
    ThirdParty,
    Local,
}

fn section(kind: Kind, module: &str) -> Section {
    if kind == Kind::Future || module == "__future__" {
        return Section::Future;
    }
    if module.starts_with('.') {
        return Section::Local;
    }
    let top = module.split('.').next().unwrap_or(module);
    if stdlib().contains(top) { Section::Stdlib } else { Section::ThirdParty }
}

/// [`STDLIB`] as a set, built once: a new import's placement asks the section of every top-level import
/// (a scan of the list each was 2.3 G instructions, a quarter of a JSON run, on a file of 10,000 findings).
fn stdlib() -> &'static std::collections::HashSet<&'static str> {
    static SET: std::sync::OnceLock<std::collections::HashSet<&'static str>> = std::sync::OnceLock::new();
    SET.get_or_init(|| STDLIB.lines().filter(|l| !l.starts_with('#')).map(str::trim).collect())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Plain,
    From,
    Future,
    /// An import inside a function, bound at the fix site (never a place to insert beside).
    Local,
}

#[derive(Clone, Debug)]
struct Stmt {
    kind: Kind,
    /// `from MODULE import ...` (or the dotted module of each `import` name).
    module: String,
    /// (name bound in the module, qualified name it refers to, whole dotted name for `import a.b`).
    names: Vec<(String, String)>,
    start: usize,
    end: usize,
    /// Consecutive import statements (no blank line or other statement between) share a group.
    group: usize,
    /// Where `, name` can be appended to a `from` import (after its last name), if it can.
    append_at: Option<usize>,
}

#[derive(Clone, Debug, Default)]
pub struct Imports {
    stmts: Vec<Stmt>,
    /// Where an import goes when there is no import to stand beside.
    head: usize,
    /// Names that imports inside the functions around the fix site bind: module-level bindings of
    /// these names are not visible there.
    hidden: std::collections::HashSet<String>,
    /// Why a spelling asked for cannot be given at the fix site.
    conflict: std::cell::RefCell<Option<String>>,
    /// Where [`Imports::place`] put each import line it was asked about, in the text it was given (its
    /// address and length): the answer depends only on the statements above, so the import each of a
    /// file's many findings adds is placed once.
    placed: std::cell::RefCell<std::collections::HashMap<(String, usize, usize), Edit>>,
}

/// An import statement inside a function: what it binds, and the block it is in.
#[derive(Clone, Debug)]
pub(super) struct LocalImport {
    stmt: Stmt,
    block: usize,
}

/// The import statements of a function's own scope (not those of nested functions or classes).
pub(super) fn local_imports(text: &str, def: Node<'_>) -> Vec<LocalImport> {
    let mut out = Vec::new();
    let Some(body) = def.field("body") else { return out };
    // Every import statement holds the word: a function without it imports nothing (most functions; the
    // walk below looks at every compound statement of the body).
    if text.get(def.byte_range()).is_some_and(|t| !t.contains("import")) {
        return out;
    }
    // (node, id of its parent)
    let mut stack = vec![(body, def.id())];
    let mut seen = 0;
    // Under the bound on nodes looked at, simple statements (which hold no import) need not be
    // looked into: the imports found, and their order, are the same.
    let within_bound = def.descendant_count() <= super::kinds::MAX_NODES;
    while let Some((n, parent)) = stack.pop() {
        seen += 1;
        if seen > super::kinds::MAX_NODES {
            break;
        }
        if n.child_count() == 0 {
            continue;
        }
        match n.kind_name() {
            "function_definition" | "class_definition" | "lambda" => continue,
            "expression_statement"
            | "return_statement"
            | "pass_statement"
            | "raise_statement"
            | "assert_statement"
            | "delete_statement"
            | "global_statement"
            | "nonlocal_statement"
            | "print_statement"
            | "exec_statement"
            | "type_alias_statement"
                if within_bound =>
            {
                continue;
            }
            "import_statement" | "import_from_statement" => {
                let block = parent;
                let stmt =
                    if n.kind_name() == "import_statement" { Some(plain(text, n)) } else { from(text, n, Kind::From) };
                if let Some(stmt) = stmt {
                    out.push(LocalImport { stmt: Stmt { kind: Kind::Local, append_at: None, ..stmt }, block });
                }
                continue;
            }
            _ => {}
        }
        stack.extend(super::children(n, false).map(|ch| (ch, n.id())));
    }
    out
}

impl Imports {
    pub fn scan(text: &str, tree: &Tree) -> Imports {
        let root = tree.root_node();
        let mut out = Imports { head: leading_comments_end(text), ..Imports::default() };
        let mut cursor = root.walk();
        let mut first = true;
        let (mut group, mut prev_end, mut prev_import) = (0usize, 0usize, false);
        for stmt in root.named_children(&mut cursor) {
            let is_import =
                matches!(stmt.kind_name(), "import_statement" | "import_from_statement" | "future_import_statement");
            if is_import {
                let gap = text.get(prev_end..stmt.start_byte()).unwrap_or("");
                if !prev_import || gap.matches('\n').count() > 1 {
                    group += 1;
                }
            }
            if stmt.kind_name() != "comment" {
                prev_import = is_import;
                prev_end = stmt.end_byte();
            }
            let is_docstring = first
                && stmt.kind_name() == "expression_statement"
                && stmt.named_child(0).is_some_and(|e| e.kind_name() == "string")
                && stmt.named_child_count() == 1;
            if stmt.kind_name() != "comment" {
                first = false;
            }
            if is_docstring {
                out.head = line_end(text, stmt.end_byte());
                continue;
            }
            match stmt.kind_name() {
                "import_statement" => out.stmts.push(Stmt { group, ..plain(text, stmt) }),
                "import_from_statement" => {
                    if let Some(s) = from(text, stmt, Kind::From) {
                        out.stmts.push(Stmt { group, ..s });
                    }
                }
                "future_import_statement" => {
                    out.head = line_end(text, stmt.end_byte());
                    if let Some(s) = from(text, stmt, Kind::Future) {
                        out.stmts.push(Stmt { group, ..s });
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// The imports as seen from `site`, given the imports of the functions around it (innermost first)
    /// and the ids of `site`'s ancestors: those bound before it in a block around it are usable, and every
    /// name they bind hides the module-level binding of that name.
    pub(super) fn at(
        &self,
        locals: &[LocalImport],
        ancestors: &std::collections::HashSet<usize>,
        site: usize,
    ) -> Imports {
        let mut out = Imports { stmts: Vec::new(), head: self.head, ..Imports::default() };
        for l in locals {
            out.hidden
                .extend(l.stmt.names.iter().map(|(bound, _)| bound.split('.').next().unwrap_or(bound).to_string()));
        }
        for s in &self.stmts {
            let mut s = s.clone();
            s.names.retain(|(bound, _)| !out.hidden.contains(bound.split('.').next().unwrap_or(bound)));
            out.stmts.push(s);
        }
        for l in locals {
            if l.stmt.end <= site && ancestors.contains(&l.block) {
                out.stmts.push(l.stmt.clone());
            }
        }
        out
    }

    /// Why an import a fix asked for cannot be used at its site (the name is local to the function
    /// there, but not bound at the site).
    pub fn conflict(&self) -> Option<String> {
        self.conflict.borrow().clone()
    }

    fn hidden_name(&self, name: &str) -> bool {
        let first = name.split('.').next().unwrap_or(name);
        if self.hidden.contains(first) {
            self.conflict.borrow_mut().get_or_insert_with(|| {
                format!("`{first}` is imported inside the function, but not before this line: a module-level import would not be visible here")
            });
            return true;
        }
        false
    }

    /// Whether any top-level import names `module` or a submodule of it.
    pub fn imports_module(&self, module: &str) -> bool {
        self.stmts.iter().any(|s| {
            s.module == module
                || s.module.starts_with(module) && s.module[module.len()..].starts_with('.')
                || s.names
                    .iter()
                    .any(|(_, q)| q == module || q.starts_with(module) && q[module.len()..].starts_with('.'))
        })
    }

    /// How `qualified` (`asyncio.to_thread`) can be spelled with the imports as they are.
    pub fn spelling(&self, qualified: &str) -> Option<String> {
        // The longest imported prefix wins: `from anyio import to_thread` gives `to_thread.run_sync`.
        let mut best: Option<(usize, String)> = None;
        for s in &self.stmts {
            for (bound, q) in &s.names {
                let fits = qualified == q || qualified.starts_with(q.as_str()) && qualified[q.len()..].starts_with('.');
                if fits && best.as_ref().is_none_or(|(len, _)| q.len() > *len) {
                    best = Some((q.len(), format!("{bound}{}", &qualified[q.len()..])));
                }
            }
        }
        best.map(|(_, s)| s)
    }

    /// The qualified name a dotted expression spelled with the imports as they are refers to
    /// (`Session` after `from requests import Session` is `requests.Session`): the reverse of
    /// [`Imports::spelling`], through the longest bound name that prefixes it.
    pub fn qualified(&self, spelled: &str) -> Option<String> {
        let mut best: Option<(usize, String)> = None;
        for s in &self.stmts {
            for (bound, q) in &s.names {
                let fits =
                    spelled == bound || spelled.starts_with(bound.as_str()) && spelled[bound.len()..].starts_with('.');
                if fits && best.as_ref().is_none_or(|(len, _)| bound.len() > *len) {
                    best = Some((bound.len(), format!("{q}{}", &spelled[bound.len()..])));
                }
            }
        }
        best.map(|(_, q)| q)
    }

    /// Spells `module.rest` after making sure `import module` (or something equivalent) exists.
    pub fn module_attr(&self, module: &str, rest: &str, edits: &mut Vec<Edit>, text: &str) -> String {
        let full = if rest.is_empty() { module.to_string() } else { format!("{module}.{rest}") };
        if let Some(s) = self.spelling(&full) {
            return s;
        }
        self.hidden_name(module);
        edits.push(self.add_plain(module, text));
        full
    }

    /// Spells `name` from `module` after making sure `from module import name` (or something
    /// equivalent) exists.
    pub fn from_name(&self, module: &str, name: &str, edits: &mut Vec<Edit>, text: &str) -> String {
        let full = format!("{module}.{name}");
        if let Some(s) = self.spelling(&full) {
            return s;
        }
        self.hidden_name(name);
        if let Some(s) = self.stmts.iter().rev().find(|s| s.kind == Kind::From && s.module == module)
            && let Some(at) = s.append_at
        {
            edits.push(Edit { range: at..at, text: format!(", {name}") });
            return name.to_string();
        }
        let line = format!("from {module} import {name}");
        let edit = self.place(Kind::From, module, &line, text);
        edits.push(edit);
        name.to_string()
    }

    pub(super) fn add_plain(&self, module: &str, text: &str) -> Edit {
        self.place(Kind::Plain, module, &format!("import {module}"), text)
    }

    /// Where a new import statement `line` (of `kind`, importing `module`) goes, in isort's order: in its
    /// section (future, standard library, third-party, local), in the first block of that section; there
    /// plain `import`s come before `from` imports, each sorted by module, case-insensitively. A section
    /// the file has no import of yet is a block of its own, a blank line from its neighbours.
    fn place(&self, kind: Kind, module: &str, line: &str, text: &str) -> Edit {
        let key = (line.to_string(), text.as_ptr() as usize, text.len());
        if let Some(e) = self.placed.borrow().get(&key) {
            return e.clone();
        }
        let e = self.place_anew(kind, module, line, text);
        self.placed.borrow_mut().insert(key, e.clone());
        e
    }

    fn place_anew(&self, kind: Kind, module: &str, line: &str, text: &str) -> Edit {
        let nl = newline(text);
        let wanted = section(kind, module);
        let top: Vec<(&Stmt, Section)> = self
            .stmts
            .iter()
            .filter(|s| matches!(s.kind, Kind::Plain | Kind::From | Kind::Future))
            .map(|s| (s, section(s.kind, &s.module)))
            .collect();
        let key = |k: Kind, m: &str| (k == Kind::From, m.to_ascii_lowercase());
        let new_key = key(kind, module);
        if let Some(group) = top.iter().find(|(_, sec)| *sec == wanted).map(|(s, _)| s.group) {
            let members: Vec<&Stmt> =
                top.iter().filter(|(s, sec)| *sec == wanted && s.group == group).map(|(s, _)| *s).collect();
            if let Some(s) = members.iter().find(|s| key(s.kind, &s.module) > new_key) {
                let at = crate::syntax::line_start(text, s.start);
                return Edit { range: at..at, text: format!("{line}{nl}") };
            }
            if let Some(s) = members.last() {
                return insert_line(text, line_end(text, s.end), line);
            }
        }
        // A section of its own: before the first import of a later section, or after the last of an
        // earlier one.
        if let Some((s, _)) = top.iter().find(|(_, sec)| *sec > wanted) {
            let at = crate::syntax::line_start(text, s.start);
            return Edit { range: at..at, text: format!("{line}{nl}{nl}") };
        }
        if let Some((s, _)) = top.iter().rev().find(|(_, sec)| *sec < wanted) {
            let at = line_end(text, s.end);
            let edit = insert_line(text, at, line);
            return Edit { range: edit.range, text: format!("{nl}{}", edit.text) };
        }
        insert_line(text, self.head, line)
    }
}

/// An edit inserting `line` as a line of its own at `at` (a line start, or the end of the text).
fn insert_line(text: &str, at: usize, line: &str) -> Edit {
    if at >= text.len() && !text.is_empty() && !text.ends_with('\n') {
        Edit { range: text.len()..text.len(), text: format!("{nl}{line}{nl}", nl = newline(text)) }
    } else {
        Edit { range: at..at, text: format!("{line}{}", newline(text)) }
    }
}

/// The file's line ending (`\r\n` when its first line ends so).
pub(super) fn newline(text: &str) -> &'static str {
    match text.find('\n') {
        Some(i) if i > 0 && text.as_bytes()[i - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}

/// The offset just after the line containing `offset - 1` (the start of the next line).
pub(super) fn line_end(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    match text[offset..].find('\n') {
        Some(i) => offset + i + 1,
        None => text.len(),
    }
}

/// The end of the leading block of comment lines (shebang, encoding, licence header).
fn leading_comments_end(text: &str) -> usize {
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with('#') {
            at += line.len();
        } else {
            break;
        }
    }
    at
}

fn plain(text: &str, stmt: Node<'_>) -> Stmt {
    let mut names = Vec::new();
    let mut module = String::new();
    let mut c = stmt.walk();
    for n in stmt.children_by_field_name("name", &mut c) {
        match n.kind_name() {
            "dotted_name" => {
                let dotted = &text[n.byte_range()];
                // `import a.b` binds `a`; `a.b` is reachable through it.
                let first = dotted.split('.').next().unwrap_or(dotted);
                names.push((first.to_string(), first.to_string()));
                if dotted != first {
                    names.push((dotted.to_string(), dotted.to_string()));
                }
                module = dotted.to_string();
            }
            "aliased_import" => {
                if let (Some(name), Some(alias)) = (n.field("name"), n.field("alias")) {
                    names.push((text[alias.byte_range()].to_string(), text[name.byte_range()].to_string()));
                    module = text[name.byte_range()].to_string();
                }
            }
            _ => {}
        }
    }
    Stmt { kind: Kind::Plain, module, names, start: stmt.start_byte(), end: stmt.end_byte(), group: 0, append_at: None }
}

fn from(text: &str, stmt: Node<'_>, kind: Kind) -> Option<Stmt> {
    let module = match kind {
        Kind::Future => "__future__".to_string(),
        _ => text[stmt.field("module_name")?.byte_range()].to_string(),
    };
    let mut names = Vec::new();
    let mut last = None;
    let mut c = stmt.walk();
    for n in stmt.children_by_field_name("name", &mut c) {
        last = Some(n.end_byte());
        match n.kind_name() {
            "dotted_name" => {
                let name = &text[n.byte_range()];
                names.push((name.to_string(), format!("{module}.{name}")));
            }
            "aliased_import" => {
                if let (Some(name), Some(alias)) = (n.field("name"), n.field("alias")) {
                    names
                        .push((text[alias.byte_range()].to_string(), format!("{module}.{}", &text[name.byte_range()])));
                }
            }
            _ => {}
        }
    }
    let mut c = stmt.walk();
    let wildcard = stmt.children(&mut c).any(|n| n.kind_name() == "wildcard_import");
    let relative = module.starts_with('.');
    Some(Stmt {
        kind,
        module,
        names,
        start: stmt.start_byte(),
        end: stmt.end_byte(),
        group: 0,
        append_at: if wildcard || relative || kind == Kind::Future { None } else { last },
    })
}
