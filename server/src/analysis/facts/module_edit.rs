//! An edit of one module-level simple statement (`TIMEOUT = 5`, `session = requests.Session()`,
//! `app.add_route(...)`, `import shlex`), spliced into the facts without parsing or extracting the whole file: the
//! code between the scopes around the edit is parsed alone, the facts of the one statement holding the
//! edit are replaced, and everything after it moves (`analysis::reanalyze_edit` then recomputes the
//! findings from the facts).

use std::ops::Range;

use std::collections::{HashMap, HashSet};

use tree_sitter::Node;

use super::{BindingKind, Facts, ScopeKind, Shift, collect, facts_stay_inside, queries};

/// The parses of code of one text alone (`syntax::parse_range`), kept for the edit they were made for:
/// `analysis::reanalyze_edit` tries `Facts::splice_module_statement` and then
/// `Facts::splice_module_region` on the same edit, and both parse the code between the scopes around
/// it (and, while it is broken, the statement's lines and the rest with them blank): the second reuses
/// the first's trees instead of parsing the same text again (a definition typed at module level parsed
/// the code before the first class of `telegram/_bot.py` twice per keystroke).
///
/// The code between the scopes is parsed incrementally from the last such parse (`Facts::region_tree`:
/// its range, its text and its tree) when that was of the same code before this edit: the same start,
/// and the text around the edit what it was then (compared byte for byte, so whatever the facts went
/// through since, a tree of other text is never reused). Only a tree without errors is kept, as for a
/// function's (`analysis::parse_unit`). Otherwise (the keystrokes before this one left the code
/// broken; the code with a broken statement's lines blank) it is parsed incrementally from the last
/// parse without errors of code with the same start, this edit's or that one, edited into the text
/// parsed (`Parses::diffed`), and again from scratch when that parse has errors.
#[derive(Default)]
pub struct Parses {
    trees: Vec<(Range<usize>, Option<Range<usize>>, tree_sitter::Tree)>,
    /// The edit (`start..old_end` became `start..new_end`) and the rows and columns it moved its end
    /// by (`shift::LineEdit`'s `lines` and `utf8`).
    edit: Option<(usize, usize, usize, i64, i64)>,
    prior: Option<super::RegionTree>,
    /// The last parse of code between scopes without errors, for the next edit.
    pub(crate) latest: Option<super::RegionTree>,
}

impl Parses {
    /// For an edit of `facts`' text (see `Parses`).
    pub(crate) fn for_edit(facts: &Facts, edit: &crate::analysis::shift::LineEdit) -> Parses {
        Parses {
            edit: Some((edit.start, edit.old_end, edit.new_end, edit.lines, edit.utf8)),
            prior: facts.region_tree.clone(),
            ..Parses::default()
        }
    }

    /// `text[range]` parsed alone (`range` starts a line), with the whole lines `blanked` (inside it) made
    /// blank when given. `None` as `syntax::parse_range`.
    pub(crate) fn parse(
        &mut self,
        text: &str,
        range: Range<usize>,
        blanked: Option<Range<usize>>,
    ) -> Option<tree_sitter::Tree> {
        if let Some((.., tree)) = self.trees.iter().find(|(r, b, _)| *r == range && *b == blanked) {
            return Some(tree.clone());
        }
        let owned;
        let src = match &blanked {
            None => text,
            Some(lines) => {
                let mut bytes = text.as_bytes().get(..range.end)?.to_vec();
                blank(bytes.get_mut(lines.clone())?);
                owned = String::from_utf8(bytes).ok()?;
                &owned
            }
        };
        let tree = match blanked.is_none().then(|| self.prior_for(text, &range)).flatten() {
            Some(old) => crate::syntax::parse_range(text, range.clone(), Some(&old))?,
            None => match self.diffed(src, &range) {
                // Parsed from a tree of other text: kept only without errors (tree-sitter's recovery from
                // old nodes may differ from a fresh parse's, as `analysis::parse_document` takes it).
                Some(old) => match crate::syntax::parse_range(src, range.clone(), Some(&old))? {
                    tree if !tree.root_node().has_error() => tree,
                    _ => crate::syntax::parse_range(src, range.clone(), None)?,
                },
                None => crate::syntax::parse_range(src, range.clone(), None)?,
            },
        };
        if !tree.root_node().has_error() {
            self.latest = Some((range.clone(), src.get(range.clone())?.into(), tree.clone()));
        }
        self.trees.push((range, blanked, tree.clone()));
        Some(tree)
    }

    /// The last parse without errors of code starting where `range` does (this edit's, else the one
    /// before it, `Facts::region_tree`), edited into `src[range]` (the bytes between their common
    /// prefix and suffix replaced, whatever text it was of: a line left blank while it is broken, the
    /// keystrokes since): the tree to parse `src[range]` incrementally from.
    fn diffed(&self, src: &str, range: &Range<usize>) -> Option<tree_sitter::Tree> {
        let (_, old_text, tree) =
            [&self.latest, &self.prior].into_iter().flatten().find(|(r, ..)| r.start == range.start)?;
        let (old, new) = (old_text.as_bytes(), src.as_bytes().get(range.clone())?);
        let head = old.iter().zip(new).take_while(|(a, b)| a == b).count();
        let tail = old[head..].iter().rev().zip(new[head..].iter().rev()).take_while(|(a, b)| a == b).count();
        // Rows count from the range's first line (see `parse_range`), as tree-sitter counts them.
        let point = |bytes: &[u8], at: usize| {
            let row = bytes[..at].iter().filter(|&&b| b == b'\n').count();
            let line = bytes[..at].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            tree_sitter::Point::new(row, at - line)
        };
        let mut tree = tree.clone();
        tree.edit(&tree_sitter::InputEdit {
            start_byte: range.start + head,
            old_end_byte: range.start + old.len() - tail,
            new_end_byte: range.start + new.len() - tail,
            start_position: point(new, head),
            old_end_position: point(old, old.len() - tail),
            new_end_position: point(new, new.len() - tail),
        });
        Some(tree)
    }

    /// The last parse of code between scopes, edited as the text was, when it was of `range` before
    /// the edit.
    fn prior_for(&self, text: &str, range: &Range<usize>) -> Option<tree_sitter::Tree> {
        let (start, old_end, new_end, lines, utf8) = self.edit?;
        let (old_range, old_text, tree) = self.prior.as_ref()?;
        let by = new_end as isize - old_end as isize;
        if old_range.start != range.start
            || !(range.start <= start && old_end <= old_range.end && new_end <= range.end)
            || old_range.end as isize + by != range.end as isize
        {
            return None;
        }
        let (head, tail) = (start - range.start, old_end - range.start);
        if old_text.get(..head)? != text.get(range.start..start)?
            || old_text.get(tail..)? != text.get(new_end..range.end)?
        {
            return None;
        }
        // Rows count from the range's first line (see `parse_range`); the old end's row and column
        // follow from the new end's and what the edit added (as `analysis::parse_unit` edits a function's).
        let index = crate::line_index::LineIndex::from_line(text, range.start, 0, new_end);
        let point = |offset: usize| {
            let at = index.line_col(text, offset, crate::line_index::ColumnUnit::Utf8);
            tree_sitter::Point::new(at.line, at.col)
        };
        let new_end_point = point(new_end);
        let old_end_point = tree_sitter::Point::new(
            (new_end_point.row as i64 - lines).max(0) as usize,
            (new_end_point.column as i64 - utf8).max(0) as usize,
        );
        let mut tree = tree.clone();
        tree.edit(&tree_sitter::InputEdit {
            start_byte: start,
            old_end_byte: old_end,
            new_end_byte: new_end,
            start_position: point(start),
            old_end_position: old_end_point,
            new_end_position: new_end_point,
        });
        Some(tree)
    }
}

impl Facts {
    /// Whether module-level code may be spliced at all: the last whole-file parse was clean, no function
    /// is left broken, and the module holds no `await`, `yield`, `global` or star import (their effects
    /// reach past the statements that hold them). Shared by `splice_module_statement` and
    /// `splice_module_region`.
    pub(super) fn module_splices_allowed(&self) -> bool {
        self.scopes.first().is_some_and(|module| {
            !self.parsed_with_errors
                && self.broken.is_empty()
                && module.kind == ScopeKind::Module
                && !module.has_await
                && !module.has_yield
                && !module.has_global
                && module.star_imports.is_empty()
        })
    }

    /// Replaces the facts of the module-level simple statement that holds an edit (`start..old_end`
    /// became `start..new_end` in `text`, the new text), when only they can have changed:
    ///
    /// - the facts come from a whole-file parse without errors, and no function's from a broken parse of
    ///   its own (`parsed_with_errors`, `broken`);
    /// - the edit is in module-level code, not inside any scope (function, class, lambda) nor on the
    ///   lines of a function or class, and after the first byte of its statement;
    /// - the lines between the scopes around it (the nearest function or class that ends before it, the
    ///   nearest one that starts after it, decorators included; a lambda is part of a statement, which
    ///   may go on past its lines) parse alone without errors, every statement there
    ///   at column 0, so that they parse the same in the whole file: a column-0 line ends every block
    ///   above it, and the next scope's line starts at column 0 or makes that parse fail. While they
    ///   do not parse, the lines of the statement holding the edit (up to the next line that starts a
    ///   statement at column 0, `statement_lines`) are parsed alone and listed in `broken_statement`,
    ///   and the rest of those lines must parse without errors with them blank;
    /// - after a scope, the first line of code there starts before the edit (the scope's end is then
    ///   decided by text the edit did not touch);
    /// - the statement holds no scope, `await`, `yield`, `global`, star or `__future__` import (an
    ///   attribute assigned binds nothing at module level), and neither did the text it replaced: names
    ///   other code resolves change only through bindings, which are replaced here (an import's too,
    ///   with the module it lists, see `build`), and through definitions, which take the whole file. An
    ///   import's lines must be its own (no other statement on them).
    ///
    /// Returns the statements' range in the new text and the names whose reads elsewhere may resolve
    /// otherwise now (`changed_names`); `None`, with the facts unchanged, otherwise. `old` receives a
    /// copy of the facts before the splice when a function that binds in other scopes may read one of
    /// those names (`leaking_reads`): what it binds there is then compared before and after.
    pub fn splice_module_statement(
        &mut self,
        text: &str,
        edit: (usize, usize, usize),
        old: &mut Option<Box<Facts>>,
        parses: &mut Parses,
    ) -> Option<(Range<usize>, Vec<Box<str>>)> {
        let (start, old_end, new_end) = edit;
        let by = new_end as isize - old_end as isize;
        if !self.module_splices_allowed() {
            return None;
        }
        // Statements an earlier edit left broken: this edit is in them or touches them (they are parsed
        // again with it), else the whole file is analysed.
        let prior = self.broken_statement.clone();
        if prior.as_ref().is_some_and(|r| r.end < start || old_end < r.start) {
            return None;
        }
        let (from, to) = self.region(text, edit)?;
        let tree = parses.parse(text, from..to, None)?;
        if tree.root_node().kind() != "module" {
            return None;
        }
        // An import that goes on over a line break Python ends it at (`from m` typed above `import x`,
        // which tree-sitter reads as `from m import x`, rebinding `x`) is broken too: its lines are
        // parsed alone, and `import x` keeps its facts.
        let errors = tree.root_node().has_error() || import_over_lines(tree.root_node(), text);
        // What changed, in the new text: the edit and the statements left broken before it.
        let (lo, hi) = match &prior {
            None => (start, new_end),
            Some(r) => (
                r.start.min(start),
                if r.end >= old_end { ((r.end as isize + by) as usize).max(new_end) } else { new_end },
            ),
        };
        // While the code does not parse, the statement holding the change ends where the next one starts
        // at column 0 (`statement_lines`), as a function ends at the next line left of its body: it is
        // parsed alone, and the rest of the code between the scopes is parsed with its lines blank, which
        // must parse without errors. An open `(` then swallows no statement after it.
        let mut rest = None;
        let mut broken = None;
        if errors {
            let (a, b) = statement_lines(text, from, to, lo, hi)?;
            let r = parses.parse(text, from..to, Some(a..b))?;
            let c = parses.parse(text, a..b, None)?;
            if r.root_node().has_error() || c.root_node().kind() != "module" {
                return None;
            }
            rest = Some(r);
            broken = Some((a..b, c));
        }
        let root = rest.as_ref().unwrap_or(&tree).root_node();
        let children: Vec<Node<'_>> = root.named_children(&mut root.walk()).collect();
        if children.iter().any(|n| n.kind() != "comment" && n.start_position().column != 0) {
            return None;
        }
        let simple = |n: &Node<'_>| {
            matches!(
                n.kind(),
                "expression_statement"
                    | "delete_statement"
                    | "raise_statement"
                    | "assert_statement"
                    | "pass_statement"
                    | "comment"
                    | "import_statement"
                    | "import_from_statement"
            ) || n.is_error()
        };
        let simple_node = |n: &Node<'_>| simple(n) && stays_inside(*n, text) && (!n.has_error() || plain_tokens(*n));
        // The statements spliced (`first..=last` of `children` while the code parses): every one that the
        // change touches (text typed at a statement's end or before its first byte may join it), and
        // those between. Comments too: a `#` typed before a statement makes it one, and its extent is
        // then the old statement's.
        let (mut s_start, mut s_end, mut last) = match &broken {
            Some((lines, c)) => {
                let root = c.root_node();
                if children.iter().any(|n| n.start_byte() < lines.end && lines.start < n.end_byte())
                    || !root.named_children(&mut root.walk()).all(|n| simple(&n))
                    || !(root.named_children(&mut root.walk()).all(|n| stays_inside(n, text)) && plain_tokens(root))
                {
                    return None;
                }
                (lines.start, lines.end, None)
            }
            None => {
                // The statements left broken before are whole lines: the statement on the line after
                // them is not touched by them.
                let moved = |p: usize, within: usize| if p >= old_end { (p as isize + by) as usize } else { within };
                let prior = prior.as_ref().map(|r| moved(r.start, r.start.min(start))..moved(r.end, new_end));
                // A statement that ends before the edit on the edit's line (or before a line continuation)
                // is touched too: the old statement may have gone on into the edit (`X: T = {}` with a
                // `#` typed before `=` is now `X: T`, an annotation alone, ending before the edit).
                let joined = |n: &Node<'_>| {
                    n.end_byte() <= start
                        && text.get(n.end_byte()..start).is_some_and(|gap| {
                            gap.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\\' | b'\x0c'))
                                || (gap.contains('\\')
                                    && gap.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\\' | b'\x0c' | b'\r' | b'\n')))
                        })
                };
                let touched = |n: &Node<'_>| {
                    (n.start_byte() <= new_end && start <= n.end_byte())
                        || joined(n)
                        || prior.as_ref().is_some_and(|r| n.start_byte() < r.end && r.start < n.end_byte())
                };
                match (children.iter().position(touched), children.iter().rposition(touched)) {
                    (Some(a), Some(b)) => {
                        if !children[a..=b].iter().all(simple_node) {
                            return None;
                        }
                        (children[a].start_byte().min(lo), children[b].end_byte().max(hi), Some(b))
                    }
                    _ => (lo, hi, None),
                }
            }
        };
        let old_to = (to as isize - by) as usize;
        // A statement of the old text may have gone on over the next lines (`x = \nf()` read as one
        // assignment; `resp = ` over the next line's `_X = {...}`, a chained assignment) and now end
        // sooner, leaving those lines statements of their own: every old module-level binding after
        // the statements spliced, up to the next scope, must sit where a statement of the new text that
        // can bind ends (not an expression statement without an assignment), and be one that binds the
        // same name (`app = Fast.# c` over `cache = f()` was one chained assignment binding `app` where
        // `cache = f()` now ends). An assignment's names are its targets; another statement's are not
        // listed (`None`: any name). While the code parses, the statements spliced then extend to those
        // of the new text that end where such an old binding was; while it does not, the whole file is
        // analysed. (Where this is too strict, the whole file is analysed: the safe side.)
        let mut ends: HashMap<usize, Option<HashSet<&str>>> = HashMap::new();
        let mut stack = vec![root];
        while let Some(n) = stack.pop() {
            let names = match n.kind() {
                "expression_statement" => {
                    let mut names = HashSet::new();
                    let mut binds = false;
                    for c in n.named_children(&mut n.walk()) {
                        if matches!(c.kind(), "assignment" | "augmented_assignment" | "named_expression") {
                            binds = true;
                            assigned_names(c, text, &mut names);
                        }
                    }
                    binds.then_some(Some(names))
                }
                k if k.ends_with("_statement") || k.ends_with("definition") => Some(None),
                // A loop or comprehension target binds where it ends (`{f(x) for x in xs}` at module level).
                "identifier" => Some(Some(HashSet::from([&text[n.byte_range()]]))),
                _ => None,
            };
            if let Some(names) = names.filter(|_| n.end_byte() > s_end) {
                let entry =
                    ends.entry((n.end_byte() as isize - by) as usize).or_insert_with(|| Some(Default::default()));
                match (entry.as_mut(), names) {
                    (Some(all), Some(names)) => all.extend(names),
                    _ => *entry = None,
                }
            }
            stack.extend(n.named_children(&mut n.walk()));
        }
        loop {
            let old_s_end = (s_end as isize - by) as usize;
            let went_on = self.scopes[0]
                .bindings
                .iter()
                .flat_map(|(name, ids)| ids.iter().map(move |&id| (name, id)))
                .map(|(name, id)| (name, self.bindings[id].pos))
                .filter(|&(name, p)| {
                    old_s_end < p
                        && p < old_to
                        && !ends.get(&p).is_some_and(|names| names.as_ref().is_none_or(|n| n.contains(&**name)))
                })
                .map(|(_, p)| p)
                .max();
            let Some(p) = went_on else { break };
            // The new statements up to the one that ends where the old binding was, from the one before
            // the change when it touches none (`resp =` became `resp `: the old statement started there).
            let at = (p as isize + by) as usize;
            if last.is_none() && !errors {
                let before = children.iter().rposition(|n| n.end_byte() <= lo)?;
                if !simple_node(&children[before]) {
                    return None;
                }
                s_start = s_start.min(children[before].start_byte());
                last = Some(before);
            }
            let from_last = last? + 1;
            let end = from_last + children[from_last..].iter().position(|n| n.end_byte() >= at)?;
            if children[end].end_byte() != at || !children[from_last..=end].iter().all(simple_node) {
                return None;
            }
            s_end = children[end].end_byte();
            last = Some(end);
        }
        s_start = s_start.min(lo);
        // The statements' extent in the old text: text before the edit did not change, and what follows
        // the edit only moved.
        let old_s_end = (s_end as isize - by) as usize;
        if old_s_end < old_end || s_start > start {
            return None;
        }
        // Nothing the statements replaced was a scope (an import is replaced: see below).
        if self.scopes[1..].iter().any(|s| s.range.start < old_s_end && s_start < s.range.end) {
            return None;
        }
        let in_old = |pos: usize| s_start < pos && pos <= old_s_end;
        // The statement the edit was in may have gone on over the next lines in the old text
        // (tree-sitter takes `import # comment` and a name on a later line as one import) and now end
        // sooner, leaving those lines statements of their own: every old import after it, up to the
        // next scope, must end where an import of the new text ends (a binding's position is the end
        // of its statement) and bind the name to the same thing (`from .paths \nimport CACHE` is one
        // import to tree-sitter, binding `.paths.CACHE`; cut to `f .paths \nimport CACHE`, its second
        // line binds `CACHE`).
        let mut import_ends: HashMap<usize, Vec<(&str, String)>> = HashMap::new();
        for n in root.named_children(&mut root.walk()) {
            if matches!(n.kind(), "import_statement" | "import_from_statement" | "future_import_statement") {
                import_ends.insert((n.end_byte() as isize - by) as usize, import_bindings(n, text));
            }
        }
        let imported = self.scopes[0].bindings.iter().any(|(name, ids)| {
            ids.iter().any(|&id| {
                let b = &self.bindings[id];
                let BindingKind::Import(qualified) = &b.kind else { return false };
                old_s_end < b.pos
                    && b.pos <= old_to
                    && !import_ends
                        .get(&b.pos)
                        .is_some_and(|bound| bound.iter().any(|(n, q)| *n == &**name && q == qualified))
            })
        });
        if imported || self.scopes[0].self_attrs.values().flatten().any(|&id| in_old(self.bindings[id].pos)) {
            return None;
        }
        // Nor did a statement before them go on into them, or one of them go on past them (`tme.` over
        // the next line's `sleep(1)`, now a statement of its own): an old call or attribute read that
        // starts before them and ends inside, or starts inside and ends after.
        let (calls, attributes, _) = self.items_starting_in(from..s_start);
        if self.calls[calls].iter().any(|c| c.range.end > s_start)
            || self.attributes[attributes].iter().any(|a| a.range.end > s_start)
        {
            return None;
        }
        let (calls, attributes, enters) = self.items_starting_in(s_start..old_s_end);
        if self.calls[calls].iter().any(|c| c.range.end > old_s_end)
            || self.attributes[attributes].iter().any(|a| a.range.end > old_s_end)
            || self.enters[enters].iter().any(|e| e.2.end > old_s_end)
        {
            return None;
        }
        let q = queries();
        let raw = match &broken {
            Some((lines, c)) => collect(text, c.root_node(), Some(lines.clone()), &q.facts, &q.captures),
            None => collect(text, tree.root_node(), Some(s_start..s_end), &q.facts, &q.captures),
        };
        // While the statements are broken (or were), what they bind comes from tree-sitter's recovery
        // from the error, as a parse of their lines alone gives it (`analysis::analyze_with_broken`, the
        // reference, places the same facts): the names whose bindings that changes are listed
        // (`changed_names`) and the functions that read them are checked again, as for a clean edit.
        let d = Shift::edit(text, edit);
        // The module-level bindings of the statements before the splice, moved as the edit moves them.
        // One that takes effect at or before the edit's start (a line break typed at the end of its
        // statement) stays where it is: the text up to there did not change, and it is still the same
        // binding when the new text's is at the same place.
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
        // The module's imported modules, in source order, one per import binding (`build`): the entries of
        // the statements replaced are those of the bindings in them, after those of the bindings before
        // them. A star import binds nothing (the module holds none, see above; none may be added), and an
        // import in a function that declares its name `global` binds here but lists its module there.
        if raw.froms.iter().any(|f| f.2.is_none()) {
            return None;
        }
        let imports = |keep: &dyn Fn(usize) -> bool| {
            self.scopes[0]
                .bindings
                .values()
                .flatten()
                .filter(|&&id| matches!(self.bindings[id].kind, BindingKind::Import(_)) && keep(self.bindings[id].pos))
                .count()
        };
        if imports(&|_| true) != self.scopes[0].imports.len() {
            return None;
        }
        let (imports_before, imports_replaced) = (imports(&|p| p <= s_start), imports(&in_old));
        // Every line of the statements is theirs: tree-sitter takes `import a as b, ` as an import that
        // ends at `b`, and the `, ` after it, no statement's, is then where an edit of it falls.
        if imports_replaced > 0 || !raw.imports.is_empty() || !raw.froms.is_empty() {
            let bytes = text.as_bytes();
            let before = bytes[..s_start].iter().rev().take_while(|&&b| b != b'\n' && b != b'\r');
            let after = bytes[s_end..].iter().take_while(|&&b| b != b'\n' && b != b'\r');
            let mut after = after.skip_while(|b| b.is_ascii_whitespace());
            if !before.clone().all(|b| b.is_ascii_whitespace()) || after.next().is_some_and(|&b| b != b'#') {
                return None;
            }
        }
        if self.leaking_reads(text, edit, before.keys().map(|k| &**k).chain(bound_words(&raw, text))) {
            *old = Some(Box::new(self.clone()));
        }
        self.unbind(0, in_old);
        let first = self.scopes.len();
        let listed = self.scopes[0].imports.len();
        self.rebuild(self.items_starting_in(s_start..old_s_end), &d, text, raw, first, Some((0, Vec::new())));
        let added = self.scopes[0].imports.split_off(listed);
        self.scopes[0].imports.splice(imports_before..imports_before + imports_replaced, added);
        self.broken_statement = errors.then_some(s_start..s_end);
        let in_new = |pos: usize| s_start < pos && pos <= s_end;
        let mut after: HashMap<Box<str>, Vec<super::Binding>> = HashMap::new();
        for (name, ids) in &self.scopes[0].bindings {
            for &id in ids.iter().filter(|&&id| in_new(self.bindings[id].pos)) {
                after.entry(name.clone()).or_default().push(self.bindings[id].clone());
            }
        }
        Some((s_start..s_end, changed_names(text, s_start..s_end, before, after)))
    }

    /// Whether a function that binds names in other scopes (`self.x = ...`, `global`; the outermost
    /// function around it, as `analysis::reading_units` takes it) holds one of `names` in its text
    /// (`edit` as for `splice_module_statement`; the scopes are the old text's, before the splice).
    /// Only then is the copy of the facts that comparing its bindings needs made.
    pub(super) fn leaking_reads<'n>(
        &self,
        text: &str,
        (_, old_end, new_end): (usize, usize, usize),
        names: impl Iterator<Item = &'n str>,
    ) -> bool {
        let by = new_end as isize - old_end as isize;
        let mut units: Vec<Range<usize>> = Vec::new();
        for (id, s) in self.scopes.iter().enumerate().skip(1) {
            if !(s.leaks || s.has_global) {
                continue;
            }
            let (mut at, mut unit) = (id, None);
            loop {
                if self.scopes[at].kind == ScopeKind::Function {
                    unit = Some(at);
                }
                match self.scopes[at].parent {
                    Some(p) if p != 0 => at = p,
                    _ => break,
                }
            }
            let Some(u) = unit else { continue };
            let r = self.scopes[u].range.clone();
            let moved = |p: usize| if p >= old_end { (p as isize + by) as usize } else { p };
            units.push(moved(r.start).min(text.len())..moved(r.end).min(text.len()));
        }
        if units.is_empty() {
            return false;
        }
        units.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
        units.dedup_by(|b, a| a.start <= b.start && b.end <= a.end);
        let mut seen = HashSet::new();
        let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80;
        let holds = |t: &str, n: &str| {
            let b = t.as_bytes();
            t.match_indices(n).any(|(i, _)| !(i > 0 && word(b[i - 1])) && b.get(i + n.len()).is_none_or(|&c| !word(c)))
        };
        names
            .filter(|n| seen.insert(*n))
            .any(|n| units.iter().any(|r| text.get(r.clone()).is_some_and(|t| holds(t, n))))
    }

    /// The code between the scopes around an edit of module-level code (`start..old_end` became
    /// `start..new_end` of `text`, the new text; the scopes are the old text's): from the line after the
    /// nearest function or class that ends before it to the first line of the nearest one that starts
    /// after it (decorators included), in the new text. `None` when the edit is in a scope or on the
    /// lines of a function or class, or
    /// when code after a scope starts at or after the edit (where that scope ends would then depend on
    /// the edited text).
    fn region(&self, text: &str, (start, old_end, new_end): (usize, usize, usize)) -> Option<(usize, usize)> {
        let by = new_end as isize - old_end as isize;
        // The scopes around the edit (in the old text's positions). A lambda is no bound: it is part of
        // an expression, and its statement may go on before and after it, over other lines (`x = (lambda:
        // 1) + \` then `y`, a string over a line break after it), which would then be cut; the statement
        // holding it is in the region, and is not spliced (it holds a scope).
        let mut prev_end: Option<usize> = None;
        let mut next_start: Option<usize> = None;
        for s in &self.scopes[1..] {
            let first =
                s.decorators.iter().map(|d| d.expr.range.start.saturating_sub(1)).fold(s.range.start, usize::min);
            let outside = s.range.end <= start || first >= old_end;
            if s.kind == ScopeKind::Lambda && outside {
                continue;
            }
            if s.range.end <= start {
                prev_end = Some(prev_end.map_or(s.range.end, |e| e.max(s.range.end)));
            } else if first >= old_end {
                next_start = Some(next_start.map_or(first, |n| n.min(first)));
            } else {
                return None;
            }
        }
        let bytes = text.as_bytes();
        let line_start = |at: usize| crate::syntax::line_start(text, at);
        // From the line after the previous scope's last line (text before `start` did not change).
        let from = match prev_end {
            None => 0,
            Some(end) => end + bytes[end..start].iter().position(|&b| b == b'\n' || b == b'\r')? + 1,
        };
        // To the start of the next scope's first line (in the new text).
        let to = match next_start {
            None => text.len(),
            Some(n) => line_start((n as isize + by) as usize),
        };
        if from > start || to < new_end || (next_start.is_some() && to <= new_end) {
            return None;
        }
        // The next scope starts a line at column 0: tree-sitter accepts indented code after module-level
        // statements, and how it parses a scope that starts further right depends on the lines above it
        // (`ort1` then `        def inner():` over a less indented body), which the edit changes.
        if next_start.is_some_and(|n| line_start((n as isize + by) as usize) != (n as isize + by) as usize) {
            return None;
        }
        if prev_end.is_some() {
            // The first line of code after the scope starts before the edit, at column 0.
            let mut at = from;
            loop {
                let end = bytes[at..].iter().position(|&b| b == b'\n' || b == b'\r').map_or(text.len(), |i| at + i);
                let line = &bytes[at..end];
                let body = line.iter().position(|&b| b != b' ' && b != b'\t' && b != b'\x0c');
                match body {
                    Some(i) if line[i] != b'#' => {
                        if i != 0 || at >= start {
                            return None;
                        }
                        break;
                    }
                    _ if end >= start => return None,
                    _ => at = end + 1,
                }
            }
        }
        Some((from, to))
    }

    /// Puts the facts of the broken statements `span` (as `Facts::broken_statement` lists them: whole
    /// lines, see `statement_lines`) into facts extracted from a text where they were blank: collected
    /// from a parse of those lines alone, as `splice_module_statement` and `splice_module_region` do.
    /// The scopes that parse holds (a `def` whose body tree-sitter's recovery left empty while it is
    /// typed: `def f(x):` then `    return a.`) go where their position puts them, and bind their names
    /// at module level. Returns how many scopes were added. For `analysis::analyze_with_broken`.
    pub(crate) fn place_broken_statement(
        &mut self,
        text: &str,
        span: Range<usize>,
        parses: &mut Parses,
    ) -> Option<usize> {
        let tree = parses.parse(text, span.clone(), None)?;
        let q = queries();
        let mut raw = collect(text, tree.root_node(), Some(span.clone()), &q.facts, &q.captures);
        // An `async` keyword there is noise while `async def` is typed: it marks no scope as awaiting
        // (an `async def` the parse holds is known by its scope).
        raw.awaits.retain(|n| n.kind() == "await");
        let first = 1 + self.scopes[1..].partition_point(|s| s.body.start < span.start);
        let added = raw.defs.len();
        let moved = Shift { from: usize::MAX, by: 0, scopes_from: first, scopes_by: added as isize, keep_ends: false };
        // Their imported modules where their statements' ends put them (see `build`).
        let at = self.scopes[0]
            .bindings
            .values()
            .flatten()
            .filter(|&&id| {
                matches!(self.bindings[id].kind, BindingKind::Import(_)) && self.bindings[id].pos <= span.start
            })
            .count();
        let listed = self.scopes[0].imports.len();
        let unit = (added == 0).then(|| (0, Vec::new()));
        self.rebuild(self.items_starting_in(span.clone()), &moved, text, raw, first, unit);
        let imported = self.scopes[0].imports.split_off(listed);
        self.scopes[0].imports.splice(at.min(listed)..at.min(listed), imported);
        self.broken_statement = Some(span);
        Some(added)
    }
}

/// The lines of the module-level statement that holds `lo..hi` while the code between the scopes
/// around it (`from..to`) does not parse: from the start of the last line at or before `lo` that starts
/// a statement at column 0 to the end of the line before the first such line after the line of `hi`
/// (or before `to`), its line break left out; decorator lines just above it are its own. A line starts a statement at column 0 when it starts
/// with neither a blank, a comment, a closing bracket nor a clause of a compound statement (`else`,
/// `elif`, `except`, `finally`). `None` when no line before `lo` in `from..to` does.
pub(super) fn statement_lines(text: &str, from: usize, to: usize, lo: usize, hi: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    // A change outside the code (the random edits found `module_region` asking for one after it) is no
    // statement of it: the caller analyses the whole file.
    if !(from <= lo && lo <= hi && hi <= to && to <= bytes.len()) {
        return None;
    }
    let starts_statement = |at: usize| {
        let line = &bytes[at..to];
        let word = |w: &[u8]| {
            line.starts_with(w) && line.get(w.len()).is_none_or(|&b| !(b.is_ascii_alphanumeric() || b == b'_'))
        };
        match line.first() {
            None | Some(b' ' | b'\t' | b'\x0c' | b'\n' | b'\r' | b'#' | b')' | b']' | b'}') => false,
            Some(_) => !(word(b"else") || word(b"elif") || word(b"except") || word(b"finally")),
        }
    };
    let line_start = |at: usize| crate::syntax::line_start(text, at);
    let mut a = line_start(lo);
    while !starts_statement(a) {
        if a <= from {
            return None;
        }
        a = line_start(a - 1);
    }
    // A definition's statement starts at its decorators.
    while a > from && bytes[line_start(a - 1)] == b'@' {
        a = line_start(a - 1);
    }
    let last = if hi > lo { hi - 1 } else { lo };
    let mut b = last;
    loop {
        match bytes[b..to].iter().position(|&b| b == b'\n' || b == b'\r') {
            None => return Some((a, to)),
            Some(i) => b += i + 1,
        }
        if b >= to || starts_statement(b) {
            break;
        }
    }
    // Without the line break that ends the last line: a binding at `b` is the next statement's (a
    // definition's name binds at its first byte).
    Some((a, b.min(to) - 1))
}

/// Whether one of the statements of `root` is an import that goes on over a line break outside
/// parentheses and not after a `\\`: Python ends the statement there, tree-sitter does not (`from m`
/// then `import x` on the next line is one import to it).
pub(super) fn import_over_lines(root: Node<'_>, text: &str) -> bool {
    root.named_children(&mut root.walk()).any(|n| {
        if !matches!(n.kind(), "import_statement" | "import_from_statement") {
            return false;
        }
        let b = &text.as_bytes()[n.byte_range()];
        let mut depth = 0usize;
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'(' => depth += 1,
                b')' => depth = depth.saturating_sub(1),
                b'#' => {
                    while i < b.len() && b[i] != b'\n' && b[i] != b'\r' {
                        i += 1;
                    }
                    continue;
                }
                b'\\' => i += if b.get(i + 1) == Some(&b'\r') && b.get(i + 2) == Some(&b'\n') { 2 } else { 1 },
                b'\n' | b'\r' if depth == 0 => return true,
                _ => {}
            }
            i += 1;
        }
        false
    })
}

/// Blanks `bytes` (spaces), line breaks kept.
pub(super) fn blank(bytes: &mut [u8]) {
    for b in bytes {
        if *b != b'\n' && *b != b'\r' {
            *b = b' ';
        }
    }
}

/// Which of the module-level names the statements spliced (`span`, in the new text) bind or bound may
/// be read otherwise now: the names whose bindings there (`before`, moved as the edit moves them, and
/// `after`) differ. An unchanged binding (`_X = {...}` taken apart from `resp = ` before it, which read
/// `resp = _X = {...}`) resolves as before, unless what it binds is read from a changed name: when a
/// changed name occurs in `span` other than as many times as it is bound there now, every name bound
/// there is listed.
pub(super) fn changed_names(
    text: &str,
    span: Range<usize>,
    before: HashMap<Box<str>, Vec<super::Binding>>,
    mut after: HashMap<Box<str>, Vec<super::Binding>>,
) -> Vec<Box<str>> {
    let mut all: Vec<Box<str>> = before.keys().chain(after.keys()).cloned().collect();
    all.sort();
    all.dedup();
    let by_pos = |v: &mut Vec<super::Binding>| v.sort_by_key(|b| b.pos);
    let mut changed = Vec::new();
    for name in &all {
        let mut old = before.get(name).cloned().unwrap_or_default();
        let new = after.entry(name.clone()).or_default();
        by_pos(&mut old);
        by_pos(new);
        if old != *new {
            changed.push(name.clone());
        }
    }
    let read_inside = changed.iter().any(|name| {
        let bound = after.get(name).map_or(0, Vec::len);
        occurrences(&text[span.clone()], name) > bound
    });
    if read_inside { all } else { changed }
}

/// How many times `name` occurs as a whole word in `text` where it may be read: not right after a `.`
/// that follows a word or another `.` (`telegram.request` in `from telegram.request import X`, an
/// attribute `a.request`: a dotted name's part, never a read of the name).
fn occurrences(text: &str, name: &str) -> usize {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80;
    let bytes = text.as_bytes();
    text.match_indices(name)
        .filter(|&(i, _)| {
            let end = i + name.len();
            let dotted = i >= 2 && bytes[i - 1] == b'.' && (word(bytes[i - 2]) || bytes[i - 2] == b'.');
            !((i > 0 && word(bytes[i - 1])) || (end < bytes.len() && word(bytes[end])) || dotted)
        })
        .count()
}

/// The names the statements collected in `raw` may bind (the names `build` binds from them, and other
/// words of their targets: `self` of `self.x`, `i` of `a[i]`): a superset of the module-level names their
/// bindings change, for `Facts::leaking_reads` (a name missed there costs the copy of the facts, and so a
/// whole-file check, never a wrong answer). Every word of the statements would do too, but a statement's
/// values name much more than its targets (`resp = requests.get(url, timeout=5)` binds only `resp`).
pub(super) fn bound_words<'t>(raw: &super::Raw<'_>, text: &'t str) -> Vec<&'t str> {
    bound_words_in(raw, text, |_| true)
}

/// `bound_words` of the statements whose names start where `keep` says.
pub(super) fn bound_words_in<'t>(raw: &super::Raw<'_>, text: &'t str, keep: impl Fn(usize) -> bool) -> Vec<&'t str> {
    let of = |n: Node<'_>| text.get(n.byte_range()).unwrap_or("");
    let mut out: Vec<&'t str> = Vec::new();
    for (_, name, alias) in raw.imports.iter().filter(|i| keep(i.1.start_byte())) {
        match alias {
            Some(a) => out.push(of(*a)),
            None => out.extend(of(*name).split('.').next()),
        }
    }
    for (_, _, name, alias) in &raw.froms {
        out.extend(alias.or(*name).filter(|n| keep(n.start_byte())).map(of));
    }
    let targets =
        raw.assigns.iter().map(|a| a.1).chain(raw.withs.iter().map(|w| w.2)).chain(raw.unknown_targets.iter().copied());
    for t in targets.filter(|t| keep(t.start_byte())) {
        out.extend(words(of(t)));
    }
    out
}

/// The identifiers of `code` that may name a binding (not an attribute's name after a `.`, not the
/// keywords of imports), with repeats.
pub(super) fn words(code: &str) -> impl Iterator<Item = &str> {
    let bytes = code.as_bytes();
    code.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(move |w| {
        let at = w.as_ptr() as usize - code.as_ptr() as usize;
        let after_dot = at > 0 && bytes[at - 1] == b'.';
        !(w.is_empty() || w.as_bytes()[0].is_ascii_digit() || matches!(*w, "import" | "from" | "as") || after_dot)
    })
}

/// Whether the facts of a module-level statement are its own: those of a simple statement (see
/// `facts_stay_inside`), or the bindings of an import (not a `__future__` import, not a star import:
/// checked on the facts) that ends its line (tree-sitter takes `import a as b, ` as an import that ends
/// at `b`, and the `, ` after it is then no statement's: an edit there touches none).
pub(super) fn stays_inside(n: Node<'_>, text: &str) -> bool {
    if matches!(n.kind(), "import_statement" | "import_from_statement") {
        let rest = text.get(n.end_byte()..).unwrap_or("");
        let line = &rest[..rest.find(['\n', '\r']).unwrap_or(rest.len())];
        return line.trim_start().is_empty() || line.trim_start().starts_with('#');
    }
    facts_stay_inside(n, true)
}

/// Whether a statement with a syntax error holds none of the keywords and operators whose facts are
/// not its own (see `facts_stay_inside`, which reads the named nodes a parse without errors gives):
/// `def`, `class`, `lambda`, `global`, `nonlocal`, `async`, `await`, `yield` or a decorator's `@` (an
/// attribute assigned binds nothing at module level). `import` and `from` may be there: what an import
/// binds at module level is spliced (`splice_module_statement`).
fn plain_tokens(stmt: Node<'_>) -> bool {
    let mut ok = true;
    crate::syntax::walk_preorder(stmt, |n| {
        if matches!(n.kind(), "def" | "class" | "lambda" | "global" | "nonlocal" | "async" | "await" | "yield" | "@") {
            ok = false;
        }
        ok
    });
    ok
}

/// What an import statement binds: each local name and what it stands for, as `facts::collect` binds
/// them (`import a.b` binds `a` to `a`, `import a.b as c` `c` to `a.b`, `from .m import x as y` `y` to
/// `.m.x`).
fn import_bindings<'t>(n: Node<'_>, text: &'t str) -> Vec<(&'t str, String)> {
    let module = match n.kind() {
        "future_import_statement" => Some("__future__"),
        _ => n.child_by_field_name("module_name").map(|m| &text[m.byte_range()]),
    };
    let mut out = Vec::new();
    for name in n.children_by_field_name("name", &mut n.walk()) {
        let (dotted, alias) = match name.kind() {
            "aliased_import" => (name.child_by_field_name("name"), name.child_by_field_name("alias")),
            _ => (Some(name), None),
        };
        let Some(dotted) = dotted.map(|d| &text[d.byte_range()]) else { continue };
        let alias = alias.map(|a| &text[a.byte_range()]);
        out.push(match (module, alias) {
            (None, Some(alias)) => (alias, dotted.to_string()),
            (None, None) => {
                let head = dotted.split('.').next().unwrap_or(dotted);
                (head, head.to_string())
            }
            (Some(m), alias) => {
                let qualified = if m.ends_with('.') { format!("{m}{dotted}") } else { format!("{m}.{dotted}") };
                (alias.unwrap_or(dotted), qualified)
            }
        });
    }
    out
}

/// The names an assignment (`a = b = v`, `a, (b, *c) = v`, `a += v`, `(a := v)`) binds: its identifier
/// targets (an attribute or subscript target binds no name).
fn assigned_names<'t>(n: Node<'_>, text: &'t str, out: &mut HashSet<&'t str>) {
    let mut stack = vec![n];
    while let Some(n) = stack.pop() {
        match n.kind() {
            "identifier" => {
                out.insert(&text[n.byte_range()]);
            }
            "assignment" | "augmented_assignment" => {
                stack.extend(n.child_by_field_name("left"));
                stack.extend(n.child_by_field_name("right").filter(|r| r.kind() == "assignment"));
            }
            "named_expression" => stack.extend(n.child_by_field_name("name")),
            "pattern_list"
            | "tuple_pattern"
            | "list_pattern"
            | "tuple"
            | "list"
            | "parenthesized_expression"
            | "list_splat_pattern"
            | "list_splat" => stack.extend(n.named_children(&mut n.walk())),
            _ => {}
        }
    }
}
