//! Make-sync for a coroutine that no framework runs: `async def helper` becomes `def helper`, and every
//! `await helper(...)` in the workspace loses its `await` (one edit per file, applied together).
//!
//! Correct by construction, or not offered: the function must be a module-level, undecorated coroutine
//! whose body needs no loop, and every occurrence of its name in the workspace must be its definition,
//! an import of it from its own module, or an awaited call to it (`await helper(...)`,
//! `await module.helper(...)`). Any other use (`asyncio.gather(helper())`, `create_task(helper())`,
//! `callbacks = [helper]`, another object that happens to share the name) refuses the fix and says
//! where, since rewriting would break it or could not be told apart.

use std::ops::Range;

use tree_sitter::Node;

use super::kinds::{MAX_NODES, needs_the_loop_in};
use super::{Edit, error_count};
use crate::catalog::Catalog;

/// Edits by index into the workspace files.
pub type FileEdits = Vec<(usize, Vec<Edit>)>;

/// One workspace file as the fix sees it.
pub struct WorkspaceFile<'a> {
    pub path: &'a str,
    pub text: &'a str,
    /// The module names it can be imported as (`app.services`).
    pub modules: Vec<String>,
}

/// The edits, per file index, turning the coroutine named at `name_range` in `files[def_file]` into a
/// plain function; or why that is not offered.
pub fn make_sync_everywhere(
    files: &[WorkspaceFile<'_>],
    def_file: usize,
    name_range: Range<usize>,
    catalog: &Catalog,
) -> Result<(String, FileEdits), String> {
    let home = files.get(def_file).ok_or("the file is not in the workspace")?;
    let tree = crate::syntax::parse(home.text, None).ok_or("the file does not parse")?;
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
        let tree = if i == def_file { Some(tree.clone()) } else { crate::syntax::parse(f.text, None) };
        let Some(tree) = tree else { return Err(format!("{} does not parse", f.path)) };
        if error_count(&tree) > 0 {
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

fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}
