//! Syntax facts: the one query's matches turned into scopes, bindings and calls. Nothing here decides
//! meaning beyond "where is this name bound"; `resolve` and `checks` do the rest.
//!
//! Facts own their data (names, byte ranges and the few expression shapes the analysis reads, as
//! `Expr`), so they outlive the tree they came from. That is what lets an edit inside one function be
//! answered by parsing and extracting that function alone and splicing the result in (`splice_unit`):
//! the rest of the file's facts only move.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use streaming_iterator::StreamingIterator;
use tree_sitter::{Node, QueryCursor, Tree};

use crate::syntax::{Captures, queries};

mod module_edit;
mod module_region;

pub use module_edit::Parses;

/// See `Facts::region_tree`.
pub type RegionTree = (Range<usize>, Box<str>, Tree);
pub use module_region::RegionSplice;

pub type ScopeId = usize;
pub type BindingId = usize;

/// How deep an expression is converted; deeper parts become `Deep` (no recursion on user input), and
/// resolving one reports a cut (`Resolver::cuts`).
pub const MAX_EXPR_DEPTH: u32 = 48;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeKind {
    Module,
    Function,
    Lambda,
    Class,
}

/// An expression, reduced to the shapes name resolution follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    pub range: Range<usize>,
    pub kind: ExprKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExprKind {
    Name(Box<str>),
    /// `object.attr`
    Attribute(Box<Expr>, Box<str>),
    /// Calling the expression (the arguments do not change what it returns).
    Call(Box<Expr>),
    /// `value[...]`
    Subscript(Box<Expr>),
    /// `left / ...` (`pathlib.Path` joins).
    Div(Box<Expr>),
    /// `await inner`.
    Await(Box<Expr>),
    /// A lambda; its scope starts where the expression does.
    Lambda,
    /// A string literal without interpolation: its content.
    Str(Box<str>),
    /// An f-string: its content as written between the quotes, `{{`, `}}` and each `{expression}` kept
    /// (route paths show their placeholders: `checks::route_path`).
    FStr(Box<str>),
    Other,
    /// What lies deeper than `MAX_EXPR_DEPTH` levels inside an expression: not converted.
    Deep,
}

impl Expr {
    /// The last name of a dotted expression: `get` for `requests.get`.
    pub fn tail(&self) -> Option<&str> {
        match &self.kind {
            ExprKind::Name(n) => Some(n),
            ExprKind::Attribute(_, a) => Some(a),
            _ => None,
        }
    }

    fn shift(&mut self, d: &Shift) {
        let mut e = self;
        loop {
            e.range = d.range(&e.range);
            match &mut e.kind {
                ExprKind::Attribute(inner, _)
                | ExprKind::Call(inner)
                | ExprKind::Subscript(inner)
                | ExprKind::Div(inner)
                | ExprKind::Await(inner) => e = inner,
                _ => return,
            }
        }
    }
}

/// An annotation, reduced to what names a class: `X`, `mod.X`, `Optional[X]`, `X | None`, `"X"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ann {
    /// A name or attribute.
    Expr(Expr),
    /// `base[first, ...]`: the first argument that is not None, and the second argument as written
    /// (a mapping's value type: `dict[str, X]`).
    Generic {
        base: Expr,
        first: Option<Box<Ann>>,
        second: Option<Box<Ann>>,
    },
    /// `X | Y`, `X | Y | None`: the members that are not None, when more than one (in order).
    Union(Vec<Ann>),
    /// A forward reference (`"requests.Session"`), resolved where the string is.
    Str {
        content: Box<str>,
        at: usize,
    },
    Other,
}

impl Ann {
    fn shift(&mut self, d: &Shift) {
        match self {
            Ann::Expr(e) => e.shift(d),
            Ann::Generic { base, first, second } => {
                base.shift(d);
                for a in [first, second].into_iter().flatten() {
                    a.shift(d);
                }
            }
            Ann::Union(members) => members.iter_mut().for_each(|a| a.shift(d)),
            Ann::Str { at, .. } => *at = d.pos(*at),
            Ann::Other => {}
        }
    }
}

/// A call argument: positional (`keyword` is `None`) or keyword. Splats are left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arg {
    pub keyword: Option<Box<str>>,
    pub value: Expr,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decorator {
    /// The decorator's source text (`property`, `app.get("/items")`).
    pub text: Box<str>,
    pub expr: Expr,
    /// The arguments, when the decorator is a call.
    pub args: Option<Vec<Arg>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    pub text: Box<str>,
    pub range: Range<usize>,
}

#[derive(Clone, Debug)]
pub struct Scope {
    pub kind: ScopeKind,
    pub is_async: bool,
    /// The whole `function_definition`, `lambda` or `class_definition` (the whole text for the module).
    pub range: Range<usize>,
    pub name: Option<Name>,
    pub returns: Option<Ann>,
    /// A class's bases (keyword arguments left out).
    pub bases: Vec<Expr>,
    /// The body's byte range: what runs in this scope.
    pub body: Range<usize>,
    pub parent: Option<ScopeId>,
    pub decorators: Vec<Decorator>,
    pub has_await: bool,
    pub has_yield: bool,
    /// The body only documents, passes or raises (an interface method).
    pub is_stub: bool,
    /// Name → bindings in this scope, in source order.
    pub bindings: HashMap<Box<str>, Vec<BindingId>>,
    /// `from m import *` in this scope: the module names.
    pub star_imports: Vec<Box<str>>,
    /// Modules imported in this scope (`import a.b` gives `a.b`, `from a.b import c` gives `a.b`).
    pub imports: Vec<Box<str>>,
    /// For classes: `self.x = ...` in any method, by attribute name.
    pub self_attrs: HashMap<Box<str>, Vec<BindingId>>,
    /// The first parameter's name, for methods.
    pub first_param: Option<Box<str>>,
    /// Its statements bind a name in another scope (`global x`, `self.x = ...`).
    pub leaks: bool,
    /// Its body declares `global` names.
    pub has_global: bool,
}

impl Scope {
    fn new(kind: ScopeKind, range: Range<usize>, body: Range<usize>) -> Self {
        Scope {
            kind,
            is_async: false,
            range,
            name: None,
            returns: None,
            bases: Vec::new(),
            body,
            parent: None,
            decorators: Vec::new(),
            has_await: false,
            has_yield: false,
            is_stub: false,
            bindings: HashMap::new(),
            star_imports: Vec::new(),
            imports: Vec::new(),
            self_attrs: HashMap::new(),
            first_param: None,
            leaks: false,
            has_global: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum BindingKind {
    /// `import x` / `from m import x`: the qualified name.
    Import(String),
    /// `x = <expr>`, `(x := <expr>)`.
    Value(Expr),
    /// `x: <type>`, a parameter annotation.
    Annotation(Ann),
    /// `with <expr> as x`.
    With(Expr),
    /// `for x in <expr>`: one of the items.
    Iter(Expr),
    Def(ScopeId),
    Class(ScopeId),
    /// `self` in a method of the class.
    SelfParam(ScopeId),
    /// `cls` in a classmethod of the class.
    ClsParam(ScopeId),
    /// Bound to something the analysis does not follow (loop targets, plain parameters, …).
    Unknown,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Binding {
    pub kind: BindingKind,
    /// Where the binding takes effect: uses after this offset see it.
    pub pos: usize,
    /// The value's text names `__file__` (`HERE = Path(__file__).parent`): a path to a file shipped
    /// with the package (`checks::package_data`). Kept in the fact, since the value's `Expr` keeps no
    /// arguments, so that an edit of the statement that changes only that lists the name as changed.
    pub file: bool,
}

#[derive(Clone, Debug)]
pub struct CallFact {
    /// The whole call.
    pub range: Range<usize>,
    pub func: Expr,
    /// The callee as written (with any parentheses).
    pub func_range: Range<usize>,
    pub args: Vec<Arg>,
    pub args_range: Range<usize>,
    /// The innermost scope the call runs in.
    pub scope: ScopeId,
    /// `await f()`: the result is awaited.
    pub awaited: bool,
    /// When the call is an argument of another call: that call's callee (`asyncio.to_thread` in
    /// `asyncio.to_thread(requests.get(url))`).
    pub outer: Option<Box<Expr>>,
}

/// An attribute read that is not the callee of a call (a `@property` runs code).
#[derive(Clone, Debug)]
pub struct AttrFact {
    pub range: Range<usize>,
    pub object: Expr,
    pub attr: Box<str>,
    pub scope: ScopeId,
}

#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// In source order of their bodies; a parent precedes its children, and a scope's descendants
    /// follow it contiguously. Scope 0 is the module.
    pub scopes: Vec<Scope>,
    pub bindings: Vec<Binding>,
    /// In source order.
    pub calls: Vec<CallFact>,
    /// Attribute reads in functions, in source order.
    pub attributes: Vec<AttrFact>,
    /// Context managers entered by a plain (not `async`) `with`: the item's value, without `as ...`, its
    /// scope and the `with` statement's body, in source order.
    pub enters: Vec<(Expr, ScopeId, Range<usize>)>,
    /// The function last parsed alone (by `analysis::reanalyze_edit`): the range parsed and its tree,
    /// to parse it again incrementally after the next edit inside it.
    pub unit_tree: Option<(Range<usize>, Tree)>,
    /// The code between two module-level scopes last parsed alone without errors
    /// (`facts::Parses`): its range, its text and its tree, to parse it again incrementally after the
    /// next module-level edit in it.
    pub region_tree: Option<RegionTree>,
    /// The functions (their ranges, in order) whose facts come from a parse of the function alone that
    /// had syntax errors (`analysis::reanalyze_edit`): the rest of the file kept its facts meanwhile.
    pub broken: Vec<Range<usize>>,
    /// The module-level statements (one range, from the first byte of the first to the last byte of the
    /// last) whose facts come from a parse of the code between the scopes around them alone that had
    /// syntax errors (`Facts::splice_module_statement`): the rest of the file kept its facts meanwhile.
    pub broken_statement: Option<Range<usize>>,
    /// The whole-file parse these facts were extracted from had syntax errors: module-level code may
    /// have been parsed with its neighbours (an `import` whose names went on over the next lines), so
    /// no module-level statement's facts are spliced alone (`splice_module_statement`) until the next
    /// whole-file analysis. The same when a statement breaks Python's indentation rule
    /// (`syntax::misaligned`), in the whole file or in a function parsed alone since.
    pub parsed_with_errors: bool,
    /// How many of `bindings` no scope lists any more.
    dead_bindings: usize,
}

impl Facts {
    /// The innermost scope whose body contains `offset`.
    /// The call whose whole expression spans `range` (calls are sorted by start).
    pub fn call_at(&self, range: &Range<usize>) -> Option<&CallFact> {
        let i = self.calls.partition_point(|c| c.range.start < range.start);
        self.calls[i..].iter().take_while(|c| c.range.start == range.start).find(|c| c.range == *range)
    }

    pub fn scope_at(&self, offset: usize) -> ScopeId {
        let i = self.scopes.partition_point(|s| s.body.start <= offset);
        let mut id = i.saturating_sub(1);
        loop {
            let s = &self.scopes[id];
            if s.body.start <= offset && offset < s.body.end.max(s.body.start + 1) {
                return id;
            }
            match s.parent {
                Some(p) => id = p,
                None => return 0,
            }
        }
    }

    /// Whether code in `scope` runs on the event loop: it is a coroutine's body.
    pub fn is_on_loop(&self, scope: ScopeId) -> bool {
        let s = &self.scopes[scope];
        s.kind == ScopeKind::Function && s.is_async
    }

    /// The scopes of `id` and its descendants: `id..end`.
    pub fn subtree(&self, id: ScopeId) -> Range<ScopeId> {
        let range = &self.scopes[id].range;
        let mut end = id + 1;
        while end < self.scopes.len() && self.scopes[end].range.start < range.end {
            end += 1;
        }
        id..end
    }

    /// Where the bindings a function's statements make take effect: from its body's start to its end.
    pub fn leak_span(&self, id: ScopeId) -> Range<usize> {
        let body = &self.scopes[id].body;
        body.start..body.end + 1
    }

    /// Modules imported anywhere in the file.
    pub fn imported_modules(&self) -> impl Iterator<Item = &str> {
        self.scopes.iter().flat_map(|s| s.imports.iter().map(|m| &**m))
    }

    pub fn extract(text: &str, tree: &Tree) -> Facts {
        let q = queries();
        let raw = collect(text, tree.root_node(), None, &q.facts, &q.captures);
        let mut facts = Facts::default();
        facts.scopes.push(Scope::new(ScopeKind::Module, 0..text.len(), 0..text.len()));
        build(&mut facts, text, raw, 1, None);
        facts.parsed_with_errors = tree.root_node().has_error() || crate::syntax::misaligned(text, tree.root_node());
        facts
    }

    /// The function an edit of `start..old_end` falls in, when it is inside the body of a function that
    /// is not nested in another function (a module function or a method): such a function can be parsed
    /// and extracted alone.
    pub fn unit_at(&self, start: usize, old_end: usize) -> Option<ScopeId> {
        // The outermost function or lambda around the edit; only classes may be above it.
        let mut outermost = None;
        let mut id = self.scope_at(start);
        loop {
            let s = &self.scopes[id];
            if matches!(s.kind, ScopeKind::Function | ScopeKind::Lambda) {
                outermost = Some(id);
            }
            match s.parent {
                Some(p) => id = p,
                None => break,
            }
        }
        let id = outermost?;
        let s = &self.scopes[id];
        // An empty body (`def f():` then a dedent) has no indentation of its own: what follows belongs to
        // it or not by the enclosing blocks' indentation, which a parse of the function alone cannot see.
        (s.kind == ScopeKind::Function && s.body.start < s.body.end && s.body.start <= start && old_end <= s.body.end)
            .then_some(id)
    }

    /// The function an edit at `start` follows, when it is not inside a function's body: the module
    /// function or method that ends last before `start`, with only spaces and line breaks between its
    /// end and `start` (typing after a function's last line, or on blank lines after it). What is typed
    /// there may extend the function (`analysis::reanalyze_edit` parses it with what follows).
    pub fn unit_before(&self, text: &str, start: usize) -> Option<ScopeId> {
        let mut best: Option<ScopeId> = None;
        for (id, s) in self.scopes.iter().enumerate() {
            // On equal ends, the first (outermost) one.
            if s.kind == ScopeKind::Function
                && s.range.end <= start
                && best.is_none_or(|b| self.scopes[b].range.end < s.range.end)
            {
                best = Some(id);
            }
        }
        let id = best?;
        let s = &self.scopes[id];
        if s.body.start >= s.body.end
            || !text.get(s.range.end..start)?.bytes().all(|b| matches!(b, b' ' | b'\n' | b'\r'))
        {
            return None;
        }
        let mut up = s.parent;
        while let Some(p) = up {
            if matches!(self.scopes[p].kind, ScopeKind::Function | ScopeKind::Lambda) {
                return None;
            }
            up = self.scopes[p].parent;
        }
        Some(id)
    }

    /// The calls, attribute reads and context managers that start in `range`, as index ranges.
    pub(crate) fn items_starting_in(&self, range: Range<usize>) -> (Range<usize>, Range<usize>, Range<usize>) {
        let calls = self.calls.partition_point(|c| c.range.start < range.start)
            ..self.calls.partition_point(|c| c.range.start < range.end);
        let attributes = self.attributes.partition_point(|a| a.range.start < range.start)
            ..self.attributes.partition_point(|a| a.range.start < range.end);
        let enters = self.enters.partition_point(|(e, ..)| e.range.start < range.start)
            ..self.enters.partition_point(|(e, ..)| e.range.start < range.end);
        (calls, attributes, enters)
    }

    /// Replaces the facts of the one simple statement an edit changed inside function `unit`, when they
    /// are all that can have changed: the statement (found in `tree`, the function's new parse, and as
    /// `before` in its previous parse of the old text, holding all the bytes the edit replaced) starts and
    /// ends at the same places in both, and
    /// holds no scope, `await`, `yield`, `async`, import, `global` or `self.x = ...` before or after the
    /// edit, and its scope declares no `global` names. Only that statement is queried, and everything
    /// after the edit moves. `None`, with the facts unchanged, otherwise: `splice_unit` then redoes
    /// the whole function.
    pub fn splice_statement(
        &mut self,
        unit: ScopeId,
        edit: (usize, usize, usize),
        text: &str,
        tree: &Tree,
        before: &StatementBefore,
    ) -> Option<Spliced> {
        let (start, old_end, new_end) = edit;
        let by = new_end as isize - old_end as isize;
        let stmt = simple_statement(tree.root_node(), start, new_end)?;
        // `before` is in the old text's positions: the edit was inside it, so it moved by `by` at its end.
        let moved = before.range.start..(before.range.end as isize + by) as usize;
        if (before.kind, moved) != (stmt.kind_id(), stmt.byte_range())
            || !before.stays
            || !facts_stay_inside(stmt, false)
        {
            return None;
        }
        let d = Shift::edit(text, edit);
        let def = tree.root_node().named_children(&mut tree.root_node().walk()).find(|n| n.kind() != "comment")?;
        let range = &self.scopes[unit].range;
        if def.end_byte() != d.end(range.start, range.end) {
            return None;
        }
        let scope = self.scope_at(start);
        if self.scopes[scope].has_global {
            return None;
        }
        // The statement's old extent, in the old text.
        let (from, to) = (stmt.start_byte(), (stmt.end_byte() as isize - by) as usize);
        // Its bindings (a binding takes effect at the end of its statement; parameters, bound at the
        // body's start, are not the first statement's).
        self.unbind(scope, |pos| from < pos && pos <= to);
        let q = queries();
        let raw = collect(text, tree.root_node(), Some(stmt.byte_range()), &q.facts, &q.captures);
        self.rebuild(self.items_starting_in(from..to), &d, text, raw, unit, Some((scope, Vec::new())));
        // Whether the function only documents or passes depends on its body's statements.
        if let Some(body) = stmt.parent()
            && body
                .parent()
                .is_some_and(|f| f.kind() == "function_definition" && f.start_byte() == self.scopes[scope].range.start)
        {
            self.scopes[scope].is_stub = is_stub(body);
        }
        let scopes = self.subtree(unit);
        let (calls, attributes, enters) = self.items_starting_in(self.scopes[unit].range.clone());
        let leaks = self.scopes[scopes.clone()].iter().any(|s| s.leaks);
        Some(Spliced { old_scopes: scopes.len(), scopes, calls, attributes, enters, leaks })
    }

    /// Replaces the facts of function `unit` (and everything nested in it) by those of `tree`, a parse
    /// of the function alone in the edited text, and moves everything after the edit. `edit` is the
    /// edit `start..old_end` → `start..new_end` that happened inside the function's body. Returns the
    /// new facts' extent, for the analysis to redo just that part.
    /// `None`, with the facts unchanged, when the function's signature holds a scope (a lambda in a
    /// default value: the function's scopes would not follow it contiguously), or when the function no
    /// longer ends where the edit moved its end, or at `end` when that is given: the caller then
    /// checked that the whole file's parse ends it there too (statements typed after its last line,
    /// or its last statement erased), and the enclosing classes that ended with it end there too.
    pub fn splice_unit(
        &mut self,
        unit: ScopeId,
        edit: (usize, usize, usize),
        text: &str,
        tree: &Tree,
        end: Option<usize>,
    ) -> Option<Spliced> {
        let (start, _, _) = edit;
        let d = Shift::edit(text, edit);
        let q = queries();
        let raw = collect(text, tree.root_node(), None, &q.facts, &q.captures);
        let def_start = self.scopes[unit].range.start;
        let def = &raw.defs.iter().find(|d| d.scope.range.start == def_start)?.scope;
        // A function that now ends elsewhere than where the edit moved its end (trailing spaces or a
        // comment became part of it, or stopped being): where enclosing classes end follows rules of
        // the whole file's parse, so the whole file is parsed.
        let moved_end = d.end(self.scopes[unit].range.start, self.scopes[unit].range.end);
        if def.range.end != end.unwrap_or(moved_end) || indented_comment_follows(text, def_start, def.range.end) {
            return None;
        }
        let def_end = def.range.end;
        let body = def.body.clone();
        if raw.defs.iter().any(|d| {
            d.scope.range.start != def_start && !(body.start <= d.scope.body.start && d.scope.body.end <= body.end)
        }) {
            return None;
        }
        let old = self.subtree(unit);
        let old_range = self.scopes[unit].range.clone();
        let leaked_before = self.scopes[old.clone()].iter().any(|s| s.leaks);
        debug_assert!(old_range.start <= start);

        // What the old function bound in other scopes (`self.x`, `global x`) goes: it is extracted again.
        if leaked_before {
            // Made by its statements: from its body's start to its end (a binding takes effect at the
            // end of its statement). Its own name, bound at its start, stays.
            let body = self.leak_span(unit);
            let mut up = self.scopes[unit].parent;
            while let Some(p) = up {
                self.unbind(p, |pos| body.contains(&pos));
                up = self.scopes[p].parent;
            }
        }
        let cuts = self.items_starting_in(old_range.clone());

        let new_count = raw.defs.len();

        // Everything else moves: positions after the edit, scope ids after the old function.
        let d =
            Shift { scopes_from: old.end, scopes_by: old.start as isize + new_count as isize - old.end as isize, ..d };
        let kept_decorators = std::mem::take(&mut self.scopes[unit].decorators);
        // The old function's bindings are no longer listed in any scope: they are dropped by `compact`
        // once they outnumber the rest.
        self.dead_bindings += self.scopes[old.clone()]
            .iter()
            .map(|s| s.bindings.values().chain(s.self_attrs.values()).map(Vec::len).sum::<usize>())
            .sum::<usize>();
        let parent = self.scopes[unit].parent.map(|p| d.scope(p));
        self.scopes.splice(old.clone(), std::iter::empty());
        let (calls, attributes, enters) = self.rebuild(cuts, &d, text, raw, unit, parent.map(|p| (p, kept_decorators)));
        if def_end != moved_end {
            // The classes it was the last statement of end with it.
            let mut up = parent;
            while let Some(p) = up {
                let s = &mut self.scopes[p];
                if s.kind != ScopeKind::Module {
                    if s.range.end == moved_end {
                        s.range.end = def_end;
                    }
                    if s.body.end == moved_end {
                        s.body.end = def_end;
                    }
                }
                up = s.parent;
            }
            // So do the `with` bodies around it (a module-level `with`, whose facts stay).
            let def_start = self.scopes[unit].range.start;
            for (_, _, body) in &mut self.enters {
                if body.end == moved_end && body.start <= def_start {
                    body.end = def_end;
                }
            }
        }
        let new = unit..unit + new_count;
        let leaked_after = self.scopes[new.clone()].iter().any(|s| s.leaks);
        Some(Spliced {
            scopes: new,
            old_scopes: old.len(),
            calls,
            attributes,
            enters,
            leaks: leaked_before || leaked_after,
        })
    }

    /// Drops scope `scope`'s bindings (and `self.x` attributes) that take effect at a position
    /// `inside` accepts: they are dropped from `bindings` by `compact`, once they outnumber the rest.
    fn unbind(&mut self, scope: ScopeId, inside: impl Fn(usize) -> bool) {
        let bindings = &self.bindings;
        let s = &mut self.scopes[scope];
        for list in s.bindings.values_mut().chain(s.self_attrs.values_mut()) {
            let n = list.len();
            list.retain(|&id| !inside(bindings[id].pos));
            self.dead_bindings += n - list.len();
        }
        s.bindings.retain(|_, l| !l.is_empty());
        s.self_attrs.retain(|_, l| !l.is_empty());
    }

    /// Replaces the calls, attribute reads and context managers at `cuts` by those of `raw`: removes
    /// them, moves every fact by `d`, adds `raw`'s facts (`build` with `first` and `unit`) and puts its
    /// items where the removed ones were. Returns where they are; compacts the bindings when most are
    /// dead.
    fn rebuild(
        &mut self,
        cuts: (Range<usize>, Range<usize>, Range<usize>),
        d: &Shift,
        text: &str,
        raw: Raw<'_>,
        first: ScopeId,
        unit: Option<(ScopeId, Vec<Decorator>)>,
    ) -> (Range<usize>, Range<usize>, Range<usize>) {
        let (calls, attributes, enters) = cuts;
        self.calls.drain(calls.clone());
        self.attributes.drain(attributes.clone());
        self.enters.drain(enters.clone());
        self.shift(d);
        let before = (self.calls.len(), self.attributes.len(), self.enters.len());
        build(self, text, raw, first, unit);
        let added = (self.calls.len() - before.0, self.attributes.len() - before.1, self.enters.len() - before.2);
        // `build` appends; move the new items to where the old ones were.
        self.calls[calls.start..].rotate_right(added.0);
        self.attributes[attributes.start..].rotate_right(added.1);
        self.enters[enters.start..].rotate_right(added.2);
        if self.dead_bindings * 2 > self.bindings.len() {
            self.compact();
        }
        (
            calls.start..calls.start + added.0,
            attributes.start..attributes.start + added.1,
            enters.start..enters.start + added.2,
        )
    }

    /// Drops the bindings no scope lists (those of functions extracted again), renumbering the rest.
    fn compact(&mut self) {
        const DEAD: usize = usize::MAX;
        let mut remap = vec![DEAD; self.bindings.len()];
        for s in &self.scopes {
            for list in s.bindings.values().chain(s.self_attrs.values()) {
                for &id in list {
                    remap[id] = 0;
                }
            }
        }
        let mut kept = Vec::with_capacity(self.bindings.len() - self.dead_bindings.min(self.bindings.len()));
        for (id, b) in std::mem::take(&mut self.bindings).into_iter().enumerate() {
            if remap[id] != DEAD {
                remap[id] = kept.len();
                kept.push(b);
            }
        }
        self.bindings = kept;
        for s in &mut self.scopes {
            for list in s.bindings.values_mut().chain(s.self_attrs.values_mut()) {
                for id in list {
                    *id = remap[*id];
                }
            }
        }
        self.dead_bindings = 0;
    }

    /// Moves the facts along with an edit that changed no fact (typing inside a comment): bytes
    /// `..old_end` became `..new_end`.
    pub fn moved(&mut self, old_end: usize, new_end: usize) {
        let by = new_end as isize - old_end as isize;
        self.shift(&Shift { from: old_end, by, scopes_from: usize::MAX, scopes_by: 0, keep_ends: false });
    }

    fn shift(&mut self, d: &Shift) {
        self.unit_tree = None;
        for r in &mut self.broken {
            *r = d.range(r);
        }
        if let Some(r) = &mut self.broken_statement {
            *r = d.range(r);
        }
        for s in &mut self.scopes {
            if s.kind == ScopeKind::Module {
                // The whole text, whitespace at its end included (from 0, even after text inserted there).
                s.range = s.range.start..d.pos(s.range.end);
                s.body = s.body.start..d.pos(s.body.end);
            } else {
                s.range = d.range(&s.range);
                s.body = d.range(&s.body);
            }
            s.parent = s.parent.map(|p| d.scope(p));
            if let Some(n) = &mut s.name {
                n.range = d.range(&n.range);
            }
            if let Some(r) = &mut s.returns {
                r.shift(d);
            }
            for b in &mut s.bases {
                b.shift(d);
            }
            for dec in &mut s.decorators {
                dec.expr.shift(d);
                for a in dec.args.iter_mut().flatten() {
                    a.value.shift(d);
                }
            }
        }
        for b in &mut self.bindings {
            b.shift(d);
        }
        for c in &mut self.calls {
            c.range = d.range(&c.range);
            c.func.shift(d);
            c.func_range = d.range(&c.func_range);
            for a in &mut c.args {
                a.value.shift(d);
            }
            c.args_range = d.range(&c.args_range);
            c.scope = d.scope(c.scope);
            if let Some(o) = &mut c.outer {
                o.shift(d);
            }
        }
        for a in &mut self.attributes {
            a.range = d.range(&a.range);
            a.object.shift(d);
            a.scope = d.scope(a.scope);
        }
        for (e, s, body) in &mut self.enters {
            e.shift(d);
            *s = d.scope(*s);
            *body = d.range(body);
        }
    }
}

impl Binding {
    fn shift(&mut self, d: &Shift) {
        self.pos = d.pos(self.pos);
        match &mut self.kind {
            BindingKind::Value(e) | BindingKind::With(e) | BindingKind::Iter(e) => e.shift(d),
            BindingKind::Annotation(a) => a.shift(d),
            BindingKind::Def(s) | BindingKind::Class(s) | BindingKind::SelfParam(s) | BindingKind::ClsParam(s) => {
                *s = d.scope(*s)
            }
            BindingKind::Import(_) | BindingKind::Unknown => {}
        }
    }
}

/// The simple statement of a function's previous parse (before an edit) that holds every byte the edit
/// replaces, for `Facts::splice_statement`: its range and kind in the old text, and whether its facts
/// stay inside it. Taken from the old tree before it is edited: an edit that runs past the statement's
/// end (into a class header on the next line) leaves, in the edited tree, a statement that seems to
/// cover the new text while the old text it replaced held another statement.
#[derive(Clone, Debug)]
pub struct StatementBefore {
    pub range: Range<usize>,
    pub kind: u16,
    pub stays: bool,
}

impl StatementBefore {
    /// The simple statement of `old` (a parse of the old text) that holds `start..old_end`, not at its
    /// first byte.
    pub fn find(old: &Tree, start: usize, old_end: usize) -> Option<StatementBefore> {
        let n = simple_statement(old.root_node(), start, old_end)?;
        Some(StatementBefore { range: n.byte_range(), kind: n.kind_id(), stays: facts_stay_inside(n, false) })
    }
}

/// What `splice_unit` or `splice_statement` replaced, as the function's extent in the new facts.
#[derive(Clone, Debug)]
pub struct Spliced {
    /// The new scopes of the function (itself first).
    pub scopes: Range<ScopeId>,
    /// How many scopes the function had before.
    pub old_scopes: usize,
    pub calls: Range<usize>,
    pub attributes: Range<usize>,
    pub enters: Range<usize>,
    /// The function binds names in other scopes, before or after the edit: other scopes' meaning may
    /// have changed.
    pub leaks: bool,
}

/// Moving facts: byte positions from `from` on by `by`, scope ids from `scopes_from` on by `scopes_by`.
/// When the edit only inserted whitespace at `from` (`keep_ends`), a range that ends there and starts
/// before it keeps its end: no syntax node ends with whitespace, so what was typed after a node's last
/// byte (spaces after a `with` body's or a function's last line, a line break after a statement) is
/// not part of it, while everything starting there moves.
struct Shift {
    from: usize,
    by: isize,
    scopes_from: usize,
    scopes_by: isize,
    keep_ends: bool,
}

impl Shift {
    /// The move of edit `start..old_end` → `start..new_end` of `text` (the new text).
    fn edit(text: &str, (start, old_end, new_end): (usize, usize, usize)) -> Shift {
        let keep_ends = start == old_end
            && new_end > start
            && text.as_bytes()[start..new_end].iter().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c'));
        Shift {
            from: old_end,
            by: new_end as isize - old_end as isize,
            scopes_from: usize::MAX,
            scopes_by: 0,
            keep_ends,
        }
    }

    fn pos(&self, p: usize) -> usize {
        if p >= self.from { (p as isize + self.by) as usize } else { p }
    }

    /// Where the end of a range starting at `start` and ending at `end` goes.
    fn end(&self, start: usize, end: usize) -> usize {
        if self.keep_ends && end == self.from && start < end { end } else { self.pos(end) }
    }

    fn range(&self, r: &Range<usize>) -> Range<usize> {
        self.pos(r.start)..self.end(r.start, r.end)
    }

    fn scope(&self, s: ScopeId) -> ScopeId {
        if s >= self.scopes_from { (s as isize + self.scopes_by) as usize } else { s }
    }
}

/// A definition as matched, before it has an id.
struct RawDef<'t> {
    scope: Scope,
    node: Node<'t>,
    params: Option<Node<'t>>,
    returns: Option<Node<'t>>,
}

#[derive(Default)]
struct Raw<'t> {
    defs: Vec<RawDef<'t>>,
    decorators: Vec<(usize, Node<'t>)>,
    /// `await` expressions and `async` keywords (those of `async def` too).
    awaits: Vec<Node<'t>>,
    yields: Vec<usize>,
    calls: Vec<(Node<'t>, Node<'t>, Node<'t>)>,
    imports: Vec<(Node<'t>, Node<'t>, Option<Node<'t>>)>,
    froms: Vec<(Node<'t>, Node<'t>, Option<Node<'t>>, Option<Node<'t>>)>,
    assigns: Vec<(Node<'t>, Node<'t>, Option<Node<'t>>, Option<Node<'t>>)>,
    withs: Vec<(Node<'t>, Node<'t>, Node<'t>)>,
    enters: Vec<(Node<'t>, Range<usize>)>,
    attributes: Vec<Node<'t>>,
    unknown_targets: Vec<Node<'t>>,
    globals: Vec<Node<'t>>,
    params: Vec<(Node<'t>, Node<'t>, Option<Node<'t>>)>,
}

fn text_of<'t>(text: &'t str, node: Node<'_>) -> &'t str {
    text.get(node.byte_range()).unwrap_or("")
}

/// The query's matches under `root`; with `within`, only the matches whose captures are all in that
/// byte range (the cursor skips the rest of the tree).
fn collect<'t>(
    text: &str,
    root: Node<'t>,
    within: Option<Range<usize>>,
    query: &tree_sitter::Query,
    c: &Captures,
) -> Raw<'t> {
    let mut raw = Raw::default();
    let mut cursor = QueryCursor::new();
    if let Some(r) = &within {
        cursor.set_byte_range(r.clone());
    }
    let mut matches = cursor.matches(query, root, text.as_bytes());
    while let Some(m) = matches.next() {
        let caps = m.captures();
        if let Some(r) = &within
            && caps.iter().any(|cap| cap.node.start_byte() < r.start || cap.node.end_byte() > r.end)
        {
            continue;
        }
        let get = |idx: u32| caps.iter().find(|cap| cap.index == idx).map(|cap| cap.node);
        let first = caps[0].index;
        let has = |idx: u32| caps.iter().any(|cap| cap.index == idx);
        if has(c.def) {
            let (Some(node), Some(body)) = (get(c.def), get(c.def_body)) else { continue };
            let mut s = Scope::new(ScopeKind::Function, node.byte_range(), body.byte_range());
            s.is_async = has(c.def_async);
            s.name = get(c.def_name).map(|n| Name { text: text_of(text, n).into(), range: n.byte_range() });
            s.is_stub = is_stub(body);
            raw.defs.push(RawDef { scope: s, node, params: get(c.def_params), returns: get(c.def_returns) });
        } else if has(c.lambda) {
            let (Some(node), Some(body)) = (get(c.lambda), get(c.lambda_body)) else { continue };
            let s = Scope::new(ScopeKind::Lambda, node.byte_range(), body.byte_range());
            raw.defs.push(RawDef { scope: s, node, params: node.child_by_field_name("parameters"), returns: None });
        } else if has(c.class) {
            let (Some(node), Some(body)) = (get(c.class), get(c.class_body)) else { continue };
            let mut s = Scope::new(ScopeKind::Class, node.byte_range(), body.byte_range());
            s.name = get(c.class_name).map(|n| Name { text: text_of(text, n).into(), range: n.byte_range() });
            if let Some(b) = get(c.class_bases) {
                let mut cur = b.walk();
                s.bases = b
                    .named_children(&mut cur)
                    .filter(|n| n.kind() != "keyword_argument")
                    .map(|n| expr(text, n, 0))
                    .collect();
            }
            raw.defs.push(RawDef { scope: s, node, params: None, returns: None });
        } else if has(c.decorated) {
            if let (Some(def), Some(dec)) = (get(c.decorated), get(c.decorator)) {
                raw.decorators.push((def.id(), dec));
            }
        } else if first == c.await_ {
            raw.awaits.push(caps[0].node);
        } else if first == c.yield_ {
            raw.yields.push(caps[0].node.start_byte());
        } else if has(c.call) {
            if let Some(n) = get(c.call)
                && let (Some(f), Some(a)) = (n.child_by_field_name("function"), n.child_by_field_name("arguments"))
            {
                raw.calls.push((n, f, a));
            }
        } else if has(c.import) {
            if let (Some(stmt), Some(name)) = (get(c.import), get(c.import_name)) {
                raw.imports.push((stmt, name, get(c.import_alias)));
            }
        } else if has(c.from) {
            if let (Some(stmt), Some(module)) = (get(c.from), get(c.from_module)) {
                let name = if has(c.from_star) { None } else { get(c.from_name) };
                if name.is_none() && !has(c.from_star) {
                    continue;
                }
                raw.froms.push((stmt, module, name, get(c.from_alias)));
            }
        } else if has(c.assign) {
            if let (Some(stmt), Some(target)) = (get(c.assign), get(c.assign_target)) {
                raw.assigns.push((stmt, target, get(c.assign_type), get(c.assign_value)));
            }
        } else if has(c.with) {
            if let (Some(item), Some(value), Some(target)) = (get(c.with), get(c.with_value), get(c.with_target)) {
                raw.withs.push((item, value, target));
            }
        } else if first == c.attribute {
            raw.attributes.push(caps[0].node);
        } else if has(c.enter) {
            if let (Some(value), false) = (get(c.enter_value), has(c.enter_async)) {
                // `with x as y`: the manager is `x`.
                let manager = if value.kind() == "as_pattern" { value.named_child(0).unwrap_or(value) } else { value };
                let body = get(c.enter).and_then(|w| w.child_by_field_name("body"));
                let body = body.map_or(manager.end_byte()..manager.end_byte(), |b| b.byte_range());
                raw.enters.push((manager, body));
            }
        } else if first == c.unknown_target {
            raw.unknown_targets.push(caps[0].node);
        } else if first == c.global_name {
            raw.globals.push(caps[0].node);
        } else if has(c.param_list)
            && let (Some(list), Some(name)) = (get(c.param_list), get(c.param_name))
        {
            raw.params.push((list, name, get(c.param_type)));
        }
    }
    raw
}

/// Converts an expression node, as far as name resolution can follow it.
fn expr(text: &str, node: Node<'_>, depth: u32) -> Expr {
    let range = node.byte_range();
    let other = |range| Expr { range, kind: ExprKind::Other };
    if depth > MAX_EXPR_DEPTH {
        return Expr { range, kind: ExprKind::Deep };
    }
    let d = depth + 1;
    let kind = match node.kind() {
        "identifier" => ExprKind::Name(text_of(text, node).into()),
        "attribute" => {
            let (Some(obj), Some(attr)) = (node.child_by_field_name("object"), node.child_by_field_name("attribute"))
            else {
                return other(range);
            };
            ExprKind::Attribute(Box::new(expr(text, obj, d)), text_of(text, attr).into())
        }
        "call" => match node.child_by_field_name("function") {
            Some(func) => ExprKind::Call(Box::new(expr(text, func, d))),
            None => ExprKind::Other,
        },
        "parenthesized_expression" => match node.named_child(0) {
            Some(inner) => return expr(text, inner, d),
            None => ExprKind::Other,
        },
        "subscript" => match node.child_by_field_name("value") {
            Some(obj) => ExprKind::Subscript(Box::new(expr(text, obj, d))),
            None => ExprKind::Other,
        },
        "binary_operator" => match (node.child_by_field_name("left"), node.child_by_field_name("operator")) {
            (Some(left), Some(op)) if op.kind() == "/" => ExprKind::Div(Box::new(expr(text, left, d))),
            _ => ExprKind::Other,
        },
        "await" => match node.named_child(0) {
            Some(inner) => ExprKind::Await(Box::new(expr(text, inner, d))),
            None => ExprKind::Other,
        },
        "lambda" => ExprKind::Lambda,
        "string" if is_fstring(text, node) => ExprKind::FStr(fstring_content(text, node).into()),
        "string" => ExprKind::Str(string_content(text, node).into()),
        _ => ExprKind::Other,
    };
    Expr { range, kind }
}

/// Whether a string literal is an f-string (its prefix has an `f`).
fn is_fstring(text: &str, node: Node<'_>) -> bool {
    node.child(0)
        .is_some_and(|s| s.kind() == "string_start" && text_of(text, s).bytes().any(|b| b == b'f' || b == b'F'))
}

/// An f-string's content as written: its text and interpolations, without the quotes.
fn fstring_content(text: &str, node: Node<'_>) -> String {
    let mut c = node.walk();
    node.named_children(&mut c)
        .filter(|n| matches!(n.kind(), "string_content" | "interpolation"))
        .map(|n| text_of(text, n))
        .collect()
}

/// A string literal's content (interpolations left out).
fn string_content(text: &str, node: Node<'_>) -> String {
    let mut c = node.walk();
    node.named_children(&mut c).filter(|n| n.kind() == "string_content").map(|n| text_of(text, n)).collect()
}

/// Converts an annotation node.
fn ann(text: &str, node: Node<'_>, depth: u32) -> Ann {
    if depth > MAX_EXPR_DEPTH {
        return Ann::Expr(Expr { range: node.byte_range(), kind: ExprKind::Deep });
    }
    let d = depth + 1;
    match node.kind() {
        "type" => node.named_child(0).map_or(Ann::Other, |n| ann(text, n, d)),
        "identifier" | "attribute" => Ann::Expr(expr(text, node, d)),
        "binary_operator" => {
            // `X | None`: the side that is not None; `X | Y | None`: both, a union.
            let mut c = node.walk();
            let mut members = Vec::new();
            for n in node.named_children(&mut c).filter(|n| n.kind() != "none") {
                match ann(text, n, d) {
                    Ann::Union(inner) => members.extend(inner),
                    a => members.push(a),
                }
            }
            match members.len() {
                0 => Ann::Other,
                1 => members.pop().unwrap_or(Ann::Other),
                _ => Ann::Union(members),
            }
        }
        "generic_type" | "subscript" => {
            let (base, args) = if node.kind() == "generic_type" {
                (node.named_child(0), node.named_child(1))
            } else {
                (node.child_by_field_name("value"), node.child_by_field_name("subscript"))
            };
            let Some(base) = base else { return Ann::Other };
            // The first argument that is not None: `Optional[X]`, `Union[X, None]`, `Annotated[X, ...]`;
            // and the second one, a mapping's values (`dict[str, X]`).
            let (first, second) = match args {
                Some(args) if args.kind() == "type_parameter" => {
                    let mut c = args.walk();
                    let first = args.named_children(&mut c).find(|n| !is_none_type(*n));
                    (first, args.named_child(1))
                }
                Some(args) => {
                    let mut c = node.walk();
                    let second = node.children_by_field_name("subscript", &mut c).nth(1);
                    (Some(args), second)
                }
                None => (None, None),
            };
            Ann::Generic {
                base: expr(text, base, d),
                first: first.map(|n| Box::new(ann(text, n, d))),
                second: second.map(|n| Box::new(ann(text, n, d))),
            }
        }
        "string" => {
            let mut c = node.walk();
            let content = node.named_children(&mut c).find(|n| n.kind() == "string_content");
            match content {
                Some(content) => Ann::Str { content: text_of(text, content).into(), at: node.start_byte() },
                None => Ann::Other,
            }
        }
        _ => Ann::Other,
    }
}

fn is_none_type(n: Node<'_>) -> bool {
    n.kind() == "none" || (n.kind() == "type" && n.named_child(0).is_some_and(|c| c.kind() == "none"))
}

fn args(text: &str, node: Node<'_>) -> Vec<Arg> {
    let mut c = node.walk();
    let mut out = Vec::new();
    for a in node.named_children(&mut c) {
        match a.kind() {
            "keyword_argument" => {
                if let (Some(name), Some(value)) = (a.child_by_field_name("name"), a.child_by_field_name("value")) {
                    out.push(Arg { keyword: Some(text_of(text, name).into()), value: shallow(text, value) });
                }
            }
            "list_splat" | "dictionary_splat" | "comment" => {}
            _ => out.push(Arg { keyword: None, value: shallow(text, a) }),
        }
    }
    out
}

/// An argument's value: names, attributes, strings and lambdas are what the rules read there.
fn shallow(text: &str, node: Node<'_>) -> Expr {
    match node.kind() {
        "identifier" | "attribute" | "string" | "lambda" => expr(text, node, 0),
        _ => Expr { range: node.byte_range(), kind: ExprKind::Other },
    }
}

/// A body that only documents, passes or raises: an interface method, not a coroutine that forgot to
/// await.
/// The simple statement (an expression, `return`, `raise`...: not a compound statement) of a block
/// that holds bytes `start..end` after its first byte (an edit at its start may change its indentation).
fn simple_statement(root: Node<'_>, start: usize, end: usize) -> Option<Node<'_>> {
    // Down from the root (a node's `parent()` walks down from the root too, so climbing would be
    // quadratic in the nesting): the deepest node holding the bytes whose parent is a block.
    let mut c = root.walk();
    let mut found = None;
    loop {
        let parent_is_block = c.node().kind() == "block";
        if !c.goto_first_child() {
            break;
        }
        loop {
            let n = c.node();
            if n.start_byte() > start {
                return as_simple(found, start, end);
            }
            // As `descendant_for_byte_range` chooses.
            if end <= n.end_byte() && start < n.end_byte() {
                if parent_is_block {
                    found = Some(n);
                }
                break;
            }
            if !c.goto_next_sibling() {
                return as_simple(found, start, end);
            }
        }
    }
    as_simple(found, start, end)
}

fn as_simple(n: Option<Node<'_>>, start: usize, end: usize) -> Option<Node<'_>> {
    let n = n?;
    let simple = matches!(
        n.kind(),
        "expression_statement"
            | "return_statement"
            | "delete_statement"
            | "raise_statement"
            | "assert_statement"
            | "pass_statement"
            | "break_statement"
            | "continue_statement"
    );
    (simple && n.start_byte() < start && end <= n.end_byte()).then_some(n)
}

/// Whether a statement's facts are only its own calls, attribute reads and bindings in its scope:
/// it holds no scope, nothing that marks its function (`await`, `yield`, `async`), no import (listed
/// per scope), no `global`, and no `self.x = ...` (bound in the class). At module level
/// (`module_level`) an attribute assigned binds nothing (`x.y = v` is bound in functions only), so it
/// is allowed there.
fn facts_stay_inside(stmt: Node<'_>, module_level: bool) -> bool {
    let mut c = stmt.walk();
    for _ in 0..100_000 {
        let n = c.node();
        match n.kind() {
            "function_definition"
            | "class_definition"
            | "decorated_definition"
            | "lambda"
            | "await"
            | "yield"
            | "async"
            | "global_statement"
            | "nonlocal_statement"
            | "import_statement"
            | "import_from_statement"
            | "future_import_statement" => return false,
            "assignment" if !module_level => {
                if let Some(left) = n.child_by_field_name("left")
                    && (left.kind() == "attribute"
                        || left.named_children(&mut left.walk()).any(|item| item.kind() == "attribute"))
                {
                    return false;
                }
            }
            _ => {}
        }
        if c.goto_first_child() {
            continue;
        }
        while !c.goto_next_sibling() {
            if !c.goto_parent() {
                return true;
            }
        }
    }
    false
}

fn is_stub(body: Node<'_>) -> bool {
    let mut c = body.walk();
    body.named_children(&mut c).all(|stmt| match stmt.kind() {
        "pass_statement" | "raise_statement" | "comment" => true,
        "expression_statement" => {
            stmt.named_child(0).is_some_and(|e| matches!(e.kind(), "string" | "ellipsis" | "concatenated_string"))
        }
        "return_statement" => stmt.named_child(0).is_none_or(|e| matches!(e.kind(), "none" | "ellipsis")),
        _ => false,
    })
}

/// Adds the raw facts to `facts`: their scopes are inserted at `first`, then everything is bound. For a
/// whole file, `unit` is `None` and the module scope is already there. For a function extracted alone,
/// `unit` gives the function's parent scope and its decorators (which are outside its own parse), and
/// `first` is where its old scopes were.
fn build(facts: &mut Facts, text: &str, mut raw: Raw<'_>, first: ScopeId, unit: Option<(ScopeId, Vec<Decorator>)>) {
    let parent = unit.as_ref().map(|(p, _)| *p);
    raw.defs.sort_by(|a, b| a.scope.body.start.cmp(&b.scope.body.start).then(b.scope.body.end.cmp(&a.scope.body.end)));
    let n = raw.defs.len();
    let mut nodes = Vec::with_capacity(n);
    let new: Vec<Scope> = raw
        .defs
        .into_iter()
        .map(|d| {
            let mut s = d.scope;
            s.returns = d.returns.map(|r| ann(text, r, 0));
            nodes.push((d.node.id(), d.params.map(|p| p.id())));
            s
        })
        .collect();
    facts.scopes.splice(first..first, new);
    let outer = parent.unwrap_or(0);
    let mut stack: Vec<ScopeId> = vec![outer];
    for id in first..first + n {
        let (start, end) = (facts.scopes[id].body.start, facts.scopes[id].body.end);
        while let Some(&top) = stack.last() {
            let t = &facts.scopes[top].body;
            if top == outer || (t.start <= start && end <= t.end) {
                break;
            }
            stack.pop();
        }
        facts.scopes[id].parent = Some(*stack.last().unwrap_or(&outer));
        stack.push(id);
    }
    if let Some((_, decorators)) = unit
        && n > 0
    {
        facts.scopes[first].decorators = decorators;
    }
    let by_node: HashMap<usize, ScopeId> = nodes.iter().enumerate().map(|(i, (node, _))| (*node, first + i)).collect();
    for (def_id, dec) in raw.decorators {
        if let Some(&s) = by_node.get(&def_id) {
            let (expr, args) = if dec.kind() == "call" {
                (expr(text, dec, 0), dec.child_by_field_name("arguments").map(|a| args(text, a)))
            } else {
                (expr(text, dec, 0), None)
            };
            facts.scopes[s].decorators.push(Decorator { text: text_of(text, dec).into(), expr, args });
        }
    }
    // What `await` applies to (a call there is awaited), without asking nodes for their parent: that
    // walks down from the root, and would make deep nesting quadratic.
    let mut awaited: HashSet<usize> = HashSet::new();
    let async_defs: HashSet<usize> =
        facts.scopes[first..first + n].iter().filter(|s| s.is_async).map(|s| s.range.start).collect();
    for node in raw.awaits {
        if node.kind() == "await" {
            if let Some(inner) = node.named_child(0) {
                awaited.insert(inner.id());
            }
        } else if async_defs.contains(&node.start_byte()) {
            continue; // `async def` does not await
        }
        let s = facts.scope_at(node.start_byte());
        facts.scopes[s].has_await = true;
    }
    for off in raw.yields {
        let s = facts.scope_at(off);
        facts.scopes[s].has_yield = true;
    }

    // `global x`: bindings of x in that function belong to the module.
    let mut globals: HashSet<(ScopeId, &str)> = HashSet::new();
    for g in raw.globals {
        let s = facts.scope_at(g.start_byte());
        facts.scopes[s].has_global = true;
        globals.insert((s, text_of(text, g)));
    }
    let mut b = Binder { facts, text, globals, touched: Vec::new() };

    // Definitions bind their names in the enclosing scope (a function extracted alone is already bound).
    let skip = usize::from(parent.is_some());
    for id in first + skip..first + n {
        let s = &b.facts.scopes[id];
        let Some(name) = &s.name else { continue };
        let kind = if s.kind == ScopeKind::Class { BindingKind::Class(id) } else { BindingKind::Def(id) };
        let start = s.range.start;
        let outer = b.facts.scopes[id].parent.unwrap_or(0);
        let name = name.text.clone();
        b.bind(outer, &name, kind, start);
    }

    // Parameters: grouped per parameter list so that the first one of a method is `self`/`cls`.
    let params_owner: HashMap<usize, ScopeId> =
        nodes.iter().enumerate().filter_map(|(i, (_, p))| p.map(|p| (p, first + i))).collect();
    raw.params.sort_by_key(|(_, name, _)| name.start_byte());
    for (list, name, ty) in raw.params {
        let Some(&fid) = params_owner.get(&list.id()) else { continue };
        let pname = text_of(text, name);
        let pos = b.facts.scopes[fid].body.start;
        let first = b.facts.scopes[fid].first_param.is_none();
        let mut kind = match ty {
            Some(t) => BindingKind::Annotation(ann(text, t, 0)),
            None => BindingKind::Unknown,
        };
        if first {
            b.facts.scopes[fid].first_param = Some(pname.into());
            if let Some(class) = b.method_class(fid) {
                match b.method_kind(fid) {
                    MethodKind::Instance => kind = BindingKind::SelfParam(class),
                    MethodKind::Class => kind = BindingKind::ClsParam(class),
                    MethodKind::Static => {}
                }
            }
        }
        b.bind(fid, pname, kind, pos);
    }

    // Each scope's imported modules in the order of their statements' ends (where their bindings take
    // effect; `import` and `from` statements interleaved), so that an edit of one module-level import
    // replaces its entries where they are (`Facts::splice_module_statement`).
    let mut imported: Vec<(usize, ScopeId, &str)> = Vec::new();
    for (stmt, name, alias) in raw.imports {
        let scope = b.facts.scope_at(stmt.start_byte());
        let dotted = text_of(text, name);
        imported.push((stmt.end_byte(), scope, dotted));
        match alias {
            Some(alias) => {
                let alias = text_of(text, alias);
                b.bind(scope, alias, BindingKind::Import(dotted.to_string()), stmt.end_byte());
            }
            None => {
                let head = dotted.split('.').next().unwrap_or(dotted);
                b.bind(scope, head, BindingKind::Import(head.to_string()), stmt.end_byte());
            }
        }
    }
    for (stmt, module, name, alias) in raw.froms {
        let scope = b.facts.scope_at(stmt.start_byte());
        let module = text_of(text, module);
        imported.push((stmt.end_byte(), scope, module));
        match name {
            None => b.facts.scopes[scope].star_imports.push(module.into()),
            Some(name) => {
                let dotted = text_of(text, name);
                let qualified =
                    if module.ends_with('.') { format!("{module}{dotted}") } else { format!("{module}.{dotted}") };
                let local = match alias {
                    Some(a) => text_of(text, a),
                    None => dotted,
                };
                b.bind(scope, local, BindingKind::Import(qualified), stmt.end_byte());
            }
        }
    }
    imported.sort_by_key(|&(end, ..)| end);
    for (_, scope, module) in imported {
        b.facts.scopes[scope].imports.push(module.into());
    }

    for (stmt, target, ty, value) in raw.assigns {
        let scope = b.facts.scope_at(stmt.start_byte());
        // `a = b = value`: the value of the innermost assignment.
        let mut value = value;
        let mut hops = 0;
        while let Some(v) = value {
            if v.kind() != "assignment" || hops > 64 {
                break;
            }
            value = v.child_by_field_name("right");
            hops += 1;
        }
        let kind = match (ty, value) {
            (Some(t), _) => BindingKind::Annotation(ann(text, t, 0)),
            (None, Some(v)) => BindingKind::Value(expr(text, v, 0)),
            (None, None) => BindingKind::Unknown,
        };
        b.bind_target(scope, target, kind, value, stmt.end_byte());
    }
    let with_targets: HashSet<usize> = raw.withs.iter().map(|(_, _, t)| t.id()).collect();
    for (item, value, target) in raw.withs {
        let scope = b.facts.scope_at(item.start_byte());
        b.bind_target(scope, target, BindingKind::With(expr(text, value, 0)), None, item.end_byte());
    }
    for target in raw.unknown_targets {
        if with_targets.contains(&target.id()) {
            continue;
        }
        let scope = b.facts.scope_at(target.start_byte());
        // `for x in items`: `x` is one of the items (one `parent()` per loop, no walk up).
        let kind = match target.parent() {
            Some(p)
                if target.kind() == "identifier"
                    && p.kind() == "for_statement"
                    && p.child_by_field_name("left") == Some(target) =>
            {
                p.child_by_field_name("right").map_or(BindingKind::Unknown, |r| BindingKind::Iter(expr(text, r, 0)))
            }
            _ => BindingKind::Unknown,
        };
        b.bind_target(scope, target, kind, None, target.end_byte());
    }
    let Binder { facts, mut touched, .. } = b;
    // Bindings were added kind by kind; lookups want them in source order.
    touched.sort_unstable();
    touched.dedup();
    let bindings = &facts.bindings;
    for id in touched {
        let s = &mut facts.scopes[id];
        for list in s.bindings.values_mut().chain(s.self_attrs.values_mut()) {
            list.sort_by_key(|&id| bindings[id].pos);
        }
    }

    let mut calls: Vec<CallFact> = Vec::with_capacity(raw.calls.len());
    // A call written as an argument of another call: the outer call's index, from the argument lists down.
    let by_id: HashMap<usize, usize> = raw.calls.iter().enumerate().map(|(i, (n, _, _))| (n.id(), i)).collect();
    let mut outer_of: HashMap<usize, usize> = HashMap::new();
    for (i, (_, _, args_node)) in raw.calls.iter().enumerate() {
        if args_node.kind() == "argument_list" {
            for a in args_node.named_children(&mut args_node.walk()) {
                if let Some(&inner) = by_id.get(&a.id()) {
                    outer_of.insert(inner, i);
                }
            }
        }
    }
    for (k, (node, func, args_node)) in raw.calls.iter().enumerate() {
        let outer = outer_of.get(&k).map(|&i| Box::new(expr(text, raw.calls[i].1, 0)));
        calls.push(CallFact {
            range: node.byte_range(),
            func: expr(text, *func, 0),
            func_range: func.byte_range(),
            args: args(text, *args_node),
            args_range: args_node.byte_range(),
            scope: facts.scope_at(node.start_byte()),
            awaited: awaited.contains(&node.id()),
            outer,
        });
    }
    calls.sort_by_key(|c| c.range.start);
    facts.calls.extend(calls);

    let callees: HashSet<usize> = raw.calls.iter().map(|(_, f, _)| f.id()).collect();
    let mut attributes: Vec<AttrFact> = Vec::new();
    for a in raw.attributes {
        if callees.contains(&a.id()) {
            continue;
        }
        let scope = facts.scope_at(a.start_byte());
        if facts.scopes[scope].kind != ScopeKind::Function {
            continue;
        }
        let (Some(obj), Some(attr)) = (a.child_by_field_name("object"), a.child_by_field_name("attribute")) else {
            continue;
        };
        attributes.push(AttrFact {
            range: a.byte_range(),
            object: expr(text, obj, 0),
            attr: text_of(text, attr).into(),
            scope,
        });
    }
    attributes.sort_by_key(|a| a.range.start);
    facts.attributes.extend(attributes);
    let mut enters: Vec<(Expr, ScopeId, Range<usize>)> =
        raw.enters.into_iter().map(|(n, body)| (expr(text, n, 0), facts.scope_at(n.start_byte()), body)).collect();
    enters.sort_by_key(|(e, ..)| e.range.start);
    facts.enters.extend(enters);
}

enum MethodKind {
    Instance,
    Class,
    Static,
}

/// Whether the value of a binding (`x = v`, `with v as x`) names `__file__` in its code, not in a string
/// or a comment (`Binding::file`, `checks::names_file`); values longer than 4 KiB are not read.
fn names_file(text: &str, kind: &BindingKind) -> bool {
    let (BindingKind::Value(e) | BindingKind::With(e)) = kind else { return false };
    e.range.len() <= 4096 && text.get(e.range.clone()).is_some_and(super::checks::names_file)
}

struct Binder<'f, 'x> {
    facts: &'f mut Facts,
    text: &'x str,
    globals: HashSet<(ScopeId, &'x str)>,
    /// The scopes that got bindings (their lists are sorted at the end).
    touched: Vec<ScopeId>,
}

impl Binder<'_, '_> {
    fn bind(&mut self, scope: ScopeId, name: &str, kind: BindingKind, pos: usize) {
        let target = if self.globals.contains(&(scope, name)) {
            self.facts.scopes[scope].leaks = true;
            0
        } else {
            scope
        };
        let id = self.facts.bindings.len();
        let file = names_file(self.text, &kind);
        self.facts.bindings.push(Binding { kind, pos, file });
        self.touched.push(target);
        let s = &mut self.facts.scopes[target];
        match s.bindings.get_mut(name) {
            Some(list) => list.push(id),
            None => {
                s.bindings.insert(name.into(), vec![id]);
            }
        }
    }

    /// Binds every name in an assignment target. Tuples unpack a tuple value item by item.
    fn bind_target(
        &mut self,
        scope: ScopeId,
        target: Node<'_>,
        kind: BindingKind,
        value: Option<Node<'_>>,
        pos: usize,
    ) {
        let text = self.text;
        match target.kind() {
            "identifier" => self.bind(scope, text_of(text, target), kind, pos),
            "attribute" => {
                // `x.y = value` in a function, `x` not its instance: read back as `x.y` there
                // (`Resolver::assigned_attribute`).
                if !self.bind_self_attr(scope, target, kind.clone(), pos)
                    && self.facts.scopes[scope].kind == ScopeKind::Function
                    && let (Some(obj), Some(attr)) =
                        (target.child_by_field_name("object"), target.child_by_field_name("attribute"))
                    && obj.kind() == "identifier"
                {
                    let dotted = format!("{}.{}", text_of(text, obj), text_of(text, attr));
                    self.bind(scope, &dotted, kind, pos);
                }
            }
            "pattern_list" | "tuple_pattern" | "list_pattern" | "tuple" | "list" | "parenthesized_expression" => {
                let items: Vec<Node<'_>> = {
                    let mut c = target.walk();
                    target.named_children(&mut c).collect()
                };
                let values: Option<Vec<Node<'_>>> = value
                    .filter(|v| {
                        matches!(v.kind(), "expression_list" | "tuple" | "list")
                            && matches!(kind, BindingKind::Value(_))
                    })
                    .map(|v| {
                        let mut c = v.walk();
                        v.named_children(&mut c).collect()
                    });
                for (i, item) in items.iter().enumerate() {
                    let item_value = values.as_ref().and_then(|vs| (vs.len() == items.len()).then(|| vs[i]));
                    let item_kind = match item_value {
                        Some(v) => BindingKind::Value(expr(text, v, 0)),
                        None => BindingKind::Unknown,
                    };
                    // Nested patterns are bound as unknown, one level deep (no recursion on user input).
                    if item.kind() == "identifier" || item.kind() == "attribute" {
                        self.bind_target(scope, *item, item_kind, None, pos);
                    } else if item.kind() == "list_splat_pattern"
                        && let Some(inner) = item.named_child(0).filter(|n| n.kind() == "identifier")
                    {
                        self.bind(scope, text_of(text, inner), BindingKind::Unknown, pos);
                    }
                }
            }
            _ => {}
        }
    }

    /// `self.x = value` in a method records `x` as an attribute of the method's class.
    fn bind_self_attr(&mut self, scope: ScopeId, target: Node<'_>, kind: BindingKind, pos: usize) -> bool {
        let (Some(obj), Some(attr)) = (target.child_by_field_name("object"), target.child_by_field_name("attribute"))
        else {
            return false;
        };
        if obj.kind() != "identifier" || self.facts.scopes[scope].kind != ScopeKind::Function {
            return false;
        }
        let Some(class) = self.method_class(scope) else { return false };
        if self.facts.scopes[scope].first_param.as_deref() != Some(text_of(self.text, obj)) {
            return false;
        }
        if matches!(self.method_kind(scope), MethodKind::Static) {
            return false;
        }
        self.facts.scopes[scope].leaks = true;
        let id = self.facts.bindings.len();
        let file = names_file(self.text, &kind);
        self.facts.bindings.push(Binding { kind, pos, file });
        let attr = text_of(self.text, attr);
        self.touched.push(class);
        self.facts.scopes[class].self_attrs.entry(attr.into()).or_default().push(id);
        true
    }

    fn method_class(&self, scope: ScopeId) -> Option<ScopeId> {
        let s = &self.facts.scopes[scope];
        if s.kind != ScopeKind::Function {
            return None;
        }
        s.parent.filter(|&p| self.facts.scopes[p].kind == ScopeKind::Class)
    }

    fn method_kind(&self, scope: ScopeId) -> MethodKind {
        for d in &self.facts.scopes[scope].decorators {
            match &*d.text {
                "staticmethod" => return MethodKind::Static,
                "classmethod" => return MethodKind::Class,
                _ => {}
            }
        }
        MethodKind::Instance
    }
}

/// Whether the first line after a function's `end` that is not blank is a comment indented deeper than
/// its `def` (at `def_start`). The function's parse alone stops before it, but the whole file's parse
/// takes such a comment into the function's block when the body is an indented block: `def s(): x`
/// becoming `def s():\n    x` with `    # note` on the next line. The function's extent is then the
/// whole file's to decide.
fn indented_comment_follows(text: &str, def_start: usize, end: usize) -> bool {
    let column = def_start - crate::syntax::line_start(text, def_start);
    let Some(next_line) = text[end..].find('\n') else { return false };
    for line in text[end + next_line + 1..].split('\n') {
        let code = line.trim_start_matches([' ', '\t', '\x0c', '\r']);
        if code.is_empty() {
            continue;
        }
        return code.starts_with('#') && line.len() - code.len() > column;
    }
    false
}
