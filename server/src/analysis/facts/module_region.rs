//! An edit at module level that adds, changes or removes module-level functions and classes (`def`,
//! `async def`, `class`, decorated ones: typed, pasted or deleted, through their broken states `de`,
//! `def f(`), spliced into the facts without parsing or extracting the whole file: the code between
//! the module-level scopes the edit does not touch is parsed alone, and its facts (statements and
//! scopes) replace the old ones there; everything after it moves. `analysis::reanalyze_edit` then
//! analyses the new scopes and the functions elsewhere that name what changed.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use tree_sitter::Node;

use super::module_edit::{
    Parses, bound_words, bound_words_in, changed_names, import_over_lines, statement_lines, stays_inside,
};
use super::{BindingKind, Facts, Raw, ScopeId, ScopeKind, Shift, collect, queries};

/// What `Facts::splice_module_region` replaced.
#[derive(Clone, Debug)]
pub struct RegionSplice {
    /// The code parsed again, in the new text (whole lines, between the scopes around it).
    pub span: Range<usize>,
    /// The same code in the old text.
    pub old_span: Range<usize>,
    /// The scopes of that code in the new facts (module-level functions and classes, what they nest,
    /// lambdas of its statements).
    pub scopes: Range<ScopeId>,
    /// How many named functions and classes that code had before (their summaries are replaced).
    pub old_functions: usize,
    pub old_classes: usize,
    /// The module-level names whose reads elsewhere may resolve otherwise now: those whose bindings in
    /// that code changed, and the names of its functions and classes, before and after.
    pub names: Vec<Box<str>>,
}

impl Facts {
    /// Replaces the facts of the module-level code between the module-level functions or classes
    /// around an edit that the edit does not touch (`start..old_end` became `start..new_end` of `text`,
    /// the new text) by those of a parse of that code alone, when it parses there as in the whole file:
    ///
    /// - the facts come from a whole-file parse without errors, no function's from a broken parse of
    ///   its own, and the module holds no `await`, `yield`, `global` or star import (nor does the new
    ///   code at module level);
    /// - the code runs from the line after the last module-level scope that ends before the edit to the
    ///   first line (decorators included) of the first one that starts after it, both at column 0, and
    ///   after the former the first line of code is at column 0 and starts before the edit or follows
    ///   blank lines only (a column-0 line ends every block above it);
    /// - every statement of the new code starts at column 0 and none breaks Python's indentation rule
    ///   (`syntax::misaligned`). While the code does not parse, the lines of the statement holding the
    ///   edit (`statement_lines`) are parsed alone and listed in `broken_statement`; they must hold no
    ///   scope, `await`, `yield` or `global`, and the rest must parse without errors with them blank;
    ///   what they bind is what that parse binds (`analysis::analyze_with_broken` places the same
    ///   facts), and the names whose bindings changed are listed like any others (`names`).
    ///
    /// Functions and classes touched by the edit are parsed again with the code around them (typing at
    /// a `def` line or in a class body outside its methods). `None`, with the facts unchanged, otherwise.
    /// `old` receives a copy of the facts before the splice when a function that binds in other scopes
    /// may read a name of that code (see `splice_module_statement`).
    pub fn splice_module_region(
        &mut self,
        text: &str,
        edit: (usize, usize, usize),
        old: &mut Option<Box<Facts>>,
        parses: &mut Parses,
    ) -> Option<RegionSplice> {
        let (start, old_end, new_end) = edit;
        let by = new_end as isize - old_end as isize;
        if !self.module_splices_allowed() {
            return None;
        }
        let bytes = text.as_bytes();
        let line_start = |at: usize| crate::syntax::line_start(text, at);
        let at_column_0 = |at: usize| line_start(at) == at;
        // The module-level functions and classes (old positions: first line, decorators included, and
        // end), in order; a lambda is part of a statement, which the code between them holds whole.
        let tops: Vec<(usize, usize)> = self.scopes[1..]
            .iter()
            .filter(|s| s.parent == Some(0) && s.kind != ScopeKind::Lambda)
            // The scopes of statements left broken are parsed again with them.
            .filter(|s| {
                !self.broken_statement.as_ref().is_some_and(|r| r.start <= s.range.start && s.range.end <= r.end)
            })
            .map(|s| {
                let first =
                    s.decorators.iter().map(|d| d.expr.range.start.saturating_sub(1)).fold(s.range.start, usize::min);
                (first, s.range.end)
            })
            .collect();
        // The scopes around the edit: the last one that ends before it, the first that starts after it.
        let mut prev = tops.iter().rposition(|&(_, end)| end < start);
        let next_start = tops.iter().map(|&(first, _)| first).find(|&first| first > old_end);
        let to = match next_start {
            None => text.len(),
            Some(n) => line_start((n as isize + by) as usize),
        };
        if to < new_end || (next_start.is_some() && to <= new_end) {
            return None;
        }
        if next_start.is_some_and(|n| !at_column_0((n as isize + by) as usize)) {
            return None;
        }
        // From the line after the previous scope. After it, the first line of code is at column 0, and
        // starts before the edit or follows blank lines only (where a comment belongs depends on the
        // code after it). When that line is indented and only blank text is between the scope and the
        // edit (the first line of a body typed after `def f(x):`), the scope is parsed again too.
        let mut retried = false;
        let from = loop {
            let Some(p) = prev else { break 0 };
            let (first, end) = tops[p];
            // The old text before `start` is the new text's.
            if !at_column_0(first) {
                return None;
            }
            let Some(from) = bytes[end..start].iter().position(|&b| b == b'\n' || b == b'\r').map(|i| end + i + 1)
            else {
                // The edit is on the scope's last line (after its end): the scope is parsed again too.
                if retried || !bytes[end..start].iter().all(|b| b.is_ascii_whitespace()) {
                    return None;
                }
                retried = true;
                prev = p.checked_sub(1);
                continue;
            };
            // Where the first line of code is, and whether comment lines (indented ones) come before it.
            let mut at = from;
            let (mut comments, mut indented_comments) = (false, false);
            let mut code: Option<(usize, usize)> = None;
            loop {
                let line_end =
                    bytes[at..].iter().position(|&b| b == b'\n' || b == b'\r').map_or(text.len(), |i| at + i);
                let line = &bytes[at..line_end];
                match line.iter().position(|&b| b != b' ' && b != b'\t' && b != b'\x0c') {
                    Some(i) if line[i] != b'#' => {
                        code = Some((at, i));
                        break;
                    }
                    Some(i) => {
                        comments = true;
                        indented_comments |= i != 0;
                    }
                    None => {}
                }
                if line_end >= to {
                    break;
                }
                at = line_end + 1;
            }
            let indented = match code {
                // Old text: it decided where the scope ends, as it still does.
                Some((at, i)) if at < start => {
                    if i != 0 {
                        return None;
                    }
                    false
                }
                _ if indented_comments => true,
                _ if comments => return None,
                Some((_, i)) => i != 0,
                None => false,
            };
            if !indented {
                break from;
            }
            if retried || !bytes[end..start].iter().all(|b| b.is_ascii_whitespace()) {
                return None;
            }
            retried = true;
            prev = p.checked_sub(1);
        };
        if from > start {
            return None;
        }
        let old_to = (to as isize - by) as usize;
        if let Some(r) = &self.broken_statement
            && !(from <= r.start && r.end <= old_to)
        {
            return None;
        }
        // The old scopes of that code: contiguous, after the previous scope's and before the next's.
        let lo_id = 1 + self.scopes[1..].partition_point(|s| s.body.start < from);
        let hi_id = 1 + self.scopes[1..].partition_point(|s| s.body.start < old_to);
        if self.scopes[1..lo_id].iter().any(|s| s.range.end > from)
            || self.scopes[hi_id..].iter().any(|s| s.range.start < old_to)
            || self.scopes[lo_id..hi_id].iter().any(|s| s.range.start < from || s.range.end > old_to || s.has_global)
        {
            return None;
        }

        // A line that is only a continuation (`\\` at the end of the text) parses alone, not after the
        // scope above it.
        if text[from..to].lines().any(|l| l.trim_start().starts_with('\\')) {
            return None;
        }
        let tree = parses.parse(text, from..to, None)?;
        if tree.root_node().kind() != "module" {
            return None;
        }
        // An empty block parses at the end of the text only (where the code parsed alone ends): in the
        // whole file it is an error.
        // An import that goes on over a line break Python ends it at (`from m` typed above `import x`) is
        // broken too, as `splice_module_statement` takes it: its lines are parsed alone, and `import x`
        // keeps its binding.
        let errors =
            tree.root_node().has_error() || empty_block(tree.root_node()) || import_over_lines(tree.root_node(), text);
        let prior = self.broken_statement.clone();
        let (lo, hi) = match &prior {
            None => (start, new_end),
            Some(r) => (
                r.start.min(start),
                if r.end >= old_end { ((r.end as isize + by) as usize).max(new_end) } else { new_end },
            ),
        };
        let mut rest = None;
        let mut broken = None;
        let mut broken_names: Vec<&str> = Vec::new();
        let q = queries();
        if errors {
            let (a, b) = statement_lines(text, from, to, lo, hi)?;
            let r = parses.parse(text, from..to, Some(a..b))?;
            let c = parses.parse(text, a..b, None)?;
            // Parsed alone, the lines may be one error node (`class C(B):` then `    def f(s`).
            if r.root_node().has_error()
                || empty_block(r.root_node())
                || !(c.root_node().kind() == "module" || c.root_node().is_error())
            {
                return None;
            }
            let root = c.root_node();
            let mut raw = collect(text, root, Some(a..b), &q.facts, &q.captures);
            // As `place_broken_statement` reads them.
            raw.awaits.retain(|n| n.kind() == "await");
            if !module_flags_unchanged(&raw) || !plain(root, text) {
                return None;
            }
            // What the lines may bind, as `place_broken_statement` collects them (the same parse).
            let defs = raw.defs.iter().filter_map(|d| d.node.child_by_field_name("name"));
            broken_names = bound_words(&raw, text).into_iter().chain(defs.map(|n| &text[n.byte_range()])).collect();
            rest = Some(r);
            broken = Some(a..b);
        }
        let root = rest.as_ref().unwrap_or(&tree).root_node();
        if crate::syntax::misaligned_in(text, root, from..to) {
            return None;
        }
        let children: Vec<Node<'_>> = root.named_children(&mut root.walk()).collect();
        if children.iter().any(|n| n.kind() != "comment" && n.start_position().column != 0)
            || broken
                .as_ref()
                .is_some_and(|l| children.iter().any(|n| n.start_byte() < l.end && l.start < n.end_byte()))
        {
            return None;
        }
        let raw = collect(text, root, Some(from..to), &q.facts, &q.captures);
        if !module_flags_unchanged(&raw) {
            return None;
        }
        // An import's lines are its own (see `stays_inside`).
        if children
            .iter()
            .any(|n| matches!(n.kind(), "import_statement" | "import_from_statement") && !stays_inside(*n, text))
        {
            return None;
        }
        // The module's imported modules, one per import binding, in source order (`build`).
        let imports = |keep: &dyn Fn(usize) -> bool| {
            self.scopes[0]
                .bindings
                .values()
                .flatten()
                .filter(|&&id| matches!(self.bindings[id].kind, BindingKind::Import(_)) && keep(self.bindings[id].pos))
                .count()
        };
        // A binding at the code's end is the next scope's (a definition's name binds at its first
        // byte), unless the code ends the file: then it is the last statement's, which binds at its end
        // (`x: int` with no line break after it; found by the random edits with seed 7).
        let at_eof = to == text.len();
        let in_old = |pos: usize| from <= pos && (pos < old_to || at_eof && pos == old_to);
        if imports(&|_| true) != self.scopes[0].imports.len() {
            return None;
        }
        let (imports_before, imports_replaced) = (imports(&|p| p < from), imports(&in_old));

        // The names of the module-level functions and classes replaced, and those of the new code.
        let named = |s: &super::Scope| s.parent == Some(0) && matches!(s.kind, ScopeKind::Function | ScopeKind::Class);
        let mut defined: Vec<Box<str>> = self.scopes[lo_id..hi_id]
            .iter()
            .filter(|s| named(s))
            .filter_map(|s| s.name.as_ref())
            .map(|n| n.text.clone())
            .collect();
        let fn_named = |s: &super::Scope| s.kind == ScopeKind::Function && s.name.is_some();
        let old_functions = self.scopes[lo_id..hi_id].iter().filter(|s| fn_named(s)).count();
        let old_classes = self.scopes[lo_id..hi_id].iter().filter(|s| s.kind == ScopeKind::Class).count();

        let d = Shift::edit(text, edit);
        let mut before: HashMap<Box<str>, Vec<super::Binding>> = HashMap::new();
        for (name, ids) in &self.scopes[0].bindings {
            for &id in ids.iter().filter(|&&id| in_old(self.bindings[id].pos)) {
                let mut b = self.bindings[id].clone();
                if b.pos > start {
                    b.shift(&d);
                }
                before.entry(name.clone()).or_default().push(b);
            }
        }

        // The code the edit touched, in the new text: the statements and definitions of the new code that
        // overlap what changed (`lo..hi`), and the lines left broken. The other statements of the code
        // read as before (the code between two scopes may be the module's whole import block), and so
        // bind as before.
        let (mut near_start, mut near_end) = (line_start(lo), hi);
        for n in children.iter().filter(|n| n.start_byte() <= hi && lo <= n.end_byte()) {
            near_start = near_start.min(n.start_byte());
            near_end = near_end.max(n.end_byte());
        }
        if let Some(l) = &broken {
            (near_start, near_end) = (near_start.min(l.start), near_end.max(l.end));
        }
        let near = |at: usize| near_start <= at && at <= near_end;
        // What the new code there may bind at module level (its statements' targets and imports, its
        // functions' and classes' names, those of the lines left broken: placed apart, see below), and
        // the names bound there before. Only where one of them occurs in a function that binds in other
        // scopes is the copy of the facts made: a changed name elsewhere in the code (a statement after
        // the edit that tree-sitter reads otherwise now) then finds no copy, and costs the whole file's
        // check from the facts, never a wrong answer (see `analysis::same_leaks`).
        let def_names =
            raw.defs.iter().filter_map(|d| d.node.child_by_field_name("name")).map(|n| &text[n.byte_range()]);
        let new_names = bound_words_in(&raw, text, near).into_iter().chain(def_names).chain(broken_names);
        let old_names = before.iter().filter(|(_, bs)| bs.iter().any(|b| near(b.pos))).map(|(k, _)| &**k);
        let old_defined = defined.iter().map(|n| &**n);
        if self.leaking_reads(text, edit, old_names.chain(old_defined).chain(new_names)) {
            *old = Some(Box::new(self.clone()));
        }
        // The splice: the old code's module-level bindings and its scopes go, everything after moves,
        // the new code's facts come in where the old ones were.
        self.unbind(0, in_old);
        self.dead_bindings += self.scopes[lo_id..hi_id]
            .iter()
            .map(|s| s.bindings.values().chain(s.self_attrs.values()).map(Vec::len).sum::<usize>())
            .sum::<usize>();
        let new_count = raw.defs.len();
        let d = Shift { scopes_from: hi_id, scopes_by: lo_id as isize + new_count as isize - hi_id as isize, ..d };
        let cuts = self.items_starting_in(from..old_to);
        self.scopes.splice(lo_id..hi_id, std::iter::empty());
        let listed = self.scopes[0].imports.len();
        self.rebuild(cuts, &d, text, raw, lo_id, None);
        let added = self.scopes[0].imports.split_off(listed);
        self.scopes[0].imports.splice(imports_before..imports_before + imports_replaced, added);
        self.broken_statement = None;
        let mut scopes = lo_id..lo_id + new_count;
        if let Some(lines) = broken {
            scopes.end += self.place_broken_statement(text, lines, parses)?;
        }
        defined.extend(
            self.scopes[scopes.clone()]
                .iter()
                .filter(|s| named(s))
                .filter_map(|s| s.name.as_ref())
                .map(|n| n.text.clone()),
        );
        let in_new = |pos: usize| from <= pos && (pos < to || at_eof && pos == to);
        let mut after: HashMap<Box<str>, Vec<super::Binding>> = HashMap::new();
        for (name, ids) in &self.scopes[0].bindings {
            for &id in ids.iter().filter(|&&id| in_new(self.bindings[id].pos)) {
                after.entry(name.clone()).or_default().push(self.bindings[id].clone());
            }
        }
        // Bindings to the scopes replaced differ by their ids: their names are listed anyway.
        for b in before.values_mut().chain(after.values_mut()) {
            b.retain(|b| !matches!(b.kind, BindingKind::Def(_) | BindingKind::Class(_)));
        }
        let mut names = changed_names(text, from..to, before, after);
        names.extend(defined);
        names.sort();
        names.dedup();
        Some(RegionSplice { span: from..to, old_span: from..old_to, scopes, old_functions, old_classes, names })
    }
}

/// Whether the facts of `raw` leave the module's flags as they are: no `global`, no star import, and
/// no `await`, `async` (other than an `async def`'s) or `yield` outside the bodies of its functions and
/// lambdas.
fn module_flags_unchanged(raw: &Raw<'_>) -> bool {
    let async_defs: HashSet<usize> =
        raw.defs.iter().filter(|d| d.scope.is_async).map(|d| d.scope.range.start).collect();
    let in_scope = |at: usize| raw.defs.iter().any(|d| d.scope.body.start <= at && at < d.scope.body.end);
    raw.globals.is_empty()
        && raw.froms.iter().all(|f| f.2.is_some())
        && raw
            .awaits
            .iter()
            .all(|n| (n.kind() != "await" && async_defs.contains(&n.start_byte())) || in_scope(n.start_byte()))
        && raw.yields.iter().all(|&at| in_scope(at))
}

/// Whether broken module-level code holds none of the keywords whose facts are not its own (`lambda`,
/// `global`, `nonlocal`, `await`, `yield`): `def`, `class`, `async` and a decorator's `@` may be there
/// while they are typed (what scopes their parse holds go where they are, see
/// `place_broken_statement`), and imports whose lines are their own (`stays_inside`).
fn plain(root: Node<'_>, text: &str) -> bool {
    let mut ok = true;
    crate::syntax::walk_preorder(root, |n| {
        if matches!(n.kind(), "lambda" | "global" | "nonlocal" | "await" | "yield")
            || (matches!(n.kind(), "import_statement" | "import_from_statement") && !stays_inside(n, text))
        {
            ok = false;
        }
        ok
    });
    ok
}

/// Whether a block under `root` holds no statement (comments aside).
fn empty_block(root: Node<'_>) -> bool {
    let mut empty = false;
    crate::syntax::walk_preorder(root, |n| {
        if n.kind() == "block" && n.named_children(&mut n.walk()).all(|c| c.kind() == "comment") {
            empty = true;
        }
        !empty
    });
    empty
}
