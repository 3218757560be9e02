//! What a name or expression refers to: a qualified name (`requests.get`), an instance of a catalogued
//! class (`requests.Session`), or a function, class or instance defined in this file.
//!
//! Resolution is lazy and memoized per binding, and bounded in depth, so that deeply nested or
//! self-referential code terminates without growing the stack. Where the bound (or the expression
//! depth `facts` converts) cuts resolution off, the use it was resolving is recorded (`cuts`): what it
//! refers to is unknown, so findings there may be missing, and the CLI says so.

use std::cell::{Cell, RefCell};

use super::facts::{Ann, BindingId, BindingKind, Expr, ExprKind, Facts, ScopeId, ScopeKind};
use crate::catalog::Catalog;

/// How deep resolution may recurse (attribute chains, aliases of aliases, base classes).
pub const MAX_DEPTH: u32 = 48;

/// Why resolution stopped short at a use (see `Resolver::cuts`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CutKind {
    /// An expression nested deeper than `facts::MAX_EXPR_DEPTH`.
    DeepExpression,
    /// More than `MAX_DEPTH` steps of aliases, attributes, calls and base classes.
    DeepResolution,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Unknown,
    /// A module, function, class or attribute reached through imports: `requests.Session.get`.
    Name(String),
    /// An instance of a catalogued class.
    Instance(String),
    /// A function or method defined in this file.
    Def(ScopeId),
    /// A class defined in this file.
    Class(ScopeId),
    /// An instance of a class defined in this file.
    Object(ScopeId),
    /// A dotted path reached through what a non-catalogued name returned (`Svc().fetch` with `Svc`
    /// imported): it can only name something in the project, so it is never matched against the catalog.
    Foreign(String),
    /// A container (`list[X]`, `dict[str, X]`, `path.iterdir()`) whose items (a mapping's values) are
    /// the value.
    Items(Box<Value>),
    /// A method of such a container that returns one of its items (`d.get`).
    ItemGetter(Box<Value>),
}

#[derive(Clone)]
enum Memo {
    InProgress,
    /// The value, and the cut that shortened its resolution, if one did (noted again at every use).
    Done(Value, Option<CutKind>),
}

pub struct Resolver<'a> {
    pub facts: &'a Facts,
    /// The text the facts are positions in.
    pub text: &'a str,
    pub catalog: &'a Catalog,
    memo: RefCell<Vec<Option<Memo>>>,
    /// Each class's MRO, once computed (see `Resolver::mro`).
    /// With the cut that shortened it, if one did (noted again at every use).
    mros: RefCell<std::collections::HashMap<ScopeId, (Mro, Option<CutKind>)>>,
    /// What each unannotated function returns, once inferred (see `Resolver::inferred_return`); `None`
    /// while in progress.
    returns: RefCell<std::collections::HashMap<ScopeId, Option<Value>>>,
    /// Set when a bound cut the resolution in progress short (taken by the outermost `value_of`).
    cut: Cell<Option<CutKind>>,
    /// Where a use could not be resolved because a bound cut it short: its offset and why.
    cuts: RefCell<Vec<(usize, CutKind)>>,
    /// The file's respellings of canonical modules (see `respelled`), once listed.
    respellings: std::cell::OnceCell<std::collections::HashMap<String, String>>,
}

impl<'a> Resolver<'a> {
    pub fn new(facts: &'a Facts, text: &'a str, catalog: &'a Catalog) -> Self {
        Resolver {
            facts,
            text,
            catalog,
            memo: RefCell::new(vec![None; facts.bindings.len()]),
            mros: RefCell::new(std::collections::HashMap::new()),
            returns: RefCell::new(std::collections::HashMap::new()),
            cut: Cell::new(None),
            cuts: RefCell::new(Vec::new()),
            respellings: std::cell::OnceCell::new(),
        }
    }

    /// A canonical name (`httpx.get`) as this file spells its module, when it imports that module only
    /// under the name of another distribution of the same API that the catalog aliases onto it
    /// (`httpx2.get`); `None` when the file spells it as it is. For what a finding says: the user reads
    /// the module they import. The file's imports are read once; a call is then one lookup.
    pub fn respelled(&self, q: &str) -> Option<String> {
        let (top, rest) = q.split_once('.').unwrap_or((q, ""));
        let alt = self.respellings.get_or_init(|| self.respellings()).get(top)?;
        Some(if rest.is_empty() { alt.clone() } else { format!("{alt}.{rest}") })
    }

    /// For each module the catalog aliases a whole imported module onto (`httpx` for `httpx2`) and that
    /// the file does not import itself, the imported alternative (the first by name, as
    /// `Catalog::alternatives_of` orders them).
    fn respellings(&self) -> std::collections::HashMap<String, String> {
        let imported: std::collections::HashSet<&str> = self
            .facts
            .bindings
            .iter()
            .filter_map(|b| match &b.kind {
                BindingKind::Import(q) => Some(q.split('.').next().unwrap_or(q)),
                _ => None,
            })
            .collect();
        let mut out: std::collections::HashMap<String, String> = std::collections::HashMap::new();
        for &alt in &imported {
            let canon = self.catalog.canonical(alt);
            if canon != alt && !canon.contains('.') && !imported.contains(canon.as_str()) {
                let kept = out.entry(canon).or_insert_with(|| alt.to_string());
                if alt < kept.as_str() {
                    *kept = alt.to_string();
                }
            }
        }
        out
    }

    /// Where resolution was cut short so far (by offset, each place once): a use whose expression is
    /// nested deeper than facts convert, or whose resolution took more than `MAX_DEPTH` steps.
    pub fn cuts(&self) -> Vec<(usize, CutKind)> {
        let mut cuts = self.cuts.borrow().clone();
        cuts.sort_unstable();
        cuts.dedup_by_key(|c| c.0);
        cuts
    }

    fn note_cut(&self, kind: CutKind) {
        if self.cut.get().is_none() {
            self.cut.set(Some(kind));
        }
    }

    pub fn text_of(&self, range: &std::ops::Range<usize>) -> &'a str {
        self.text.get(range.clone()).unwrap_or("")
    }

    /// The canonical qualified name a callee value stands for, if any.
    pub fn qualified(&self, v: &Value) -> Option<String> {
        match v {
            Value::Name(q) => Some(self.catalog.canonical(q)),
            _ => None,
        }
    }

    /// The qualified name that calling `v` runs: a name, or `Class.__call__` for an instance.
    pub fn called(&self, v: &Value) -> Option<String> {
        match v {
            Value::Name(q) => Some(self.catalog.canonical(q)),
            Value::Instance(t) => Some(format!("{t}.__call__")),
            _ => None,
        }
    }

    /// The value of an expression; a cut on the way is recorded at the expression.
    pub fn value_of(&self, e: &Expr) -> Value {
        let outer = self.cut.take();
        let v = self.value(e, 0);
        if let Some(kind) = self.cut.get() {
            self.cuts.borrow_mut().push((e.range.start, kind));
        }
        self.cut.set(outer.or(self.cut.get()));
        v
    }

    fn value(&self, e: &Expr, depth: u32) -> Value {
        if depth > MAX_DEPTH {
            self.note_cut(CutKind::DeepResolution);
            return Value::Unknown;
        }
        let d = depth + 1;
        match &e.kind {
            ExprKind::Name(name) => {
                let at = e.range.start;
                self.lookup(name, self.facts.scope_at(at), at, d)
            }
            ExprKind::Attribute(obj, attr) => {
                if let Some(v) = self.assigned_attribute(obj, attr, e.range.start, d) {
                    return v;
                }
                // `super().get(...)` in a method: the class's MRO after the class itself.
                if let Some(class) = self.super_of(obj, d) {
                    return match self.member_from(class, 1, attr, d) {
                        Value::Def(p) if self.is_property(p) => self.call_result(Value::Def(p), d),
                        v => v,
                    };
                }
                let base = self.value(obj, d);
                self.attribute(base, attr, d)
            }
            ExprKind::Call(func) => {
                let callee = self.value(func, d);
                // `zipfile.ZipFile(io.BytesIO())` reads and writes memory: what it returns blocks nowhere.
                if let Some(q) = self.called(&callee)
                    && let Some(class) = self.catalog.over_memory(&q)
                    && self.facts.call_at(&e.range).is_some_and(|c| self.over_buffer(&c.args, d))
                {
                    return self.instance_of(Some(class).filter(|c| !c.is_empty()));
                }
                // `open(p, "rb")` is an `io.BufferedReader`, not an `io.TextIOWrapper`.
                if let Some(q) = self.called(&callee)
                    && let Some(index) = self.catalog.mode_argument(&q)
                    && let Some(c) = self.facts.call_at(&e.range)
                    && let Some(ExprKind::Str(mode)) = mode_argument(&c.args, index).map(|a| &a.kind)
                    && let Some(class) = self.catalog.binary_class(mode)
                {
                    return Value::Instance(class.to_string());
                }
                // `contextlib.closing(x)` is `x`.
                if let Some(q) = self.called(&callee)
                    && self.catalog.identity_functions.contains(&q)
                {
                    return match self.facts.call_at(&e.range).and_then(|c| c.args.iter().find(|a| a.keyword.is_none()))
                    {
                        Some(a) => self.arg_value(&a.value, d),
                        None => Value::Unknown,
                    };
                }
                self.call_result(callee, d)
            }
            ExprKind::Subscript(obj) => match self.value(obj, d) {
                Value::Instance(t) => self.instance_of(self.catalog.attribute(&t, "[]")),
                Value::Items(v) => *v,
                _ => Value::Unknown,
            },
            ExprKind::Await(inner) => self.value(inner, d),
            ExprKind::Div(left) => match self.value(left, d) {
                Value::Instance(t) => self.instance_of(self.catalog.returns(&format!("{t}.__truediv__"))),
                _ => Value::Unknown,
            },
            ExprKind::Deep => {
                self.note_cut(CutKind::DeepExpression);
                Value::Unknown
            }
            ExprKind::Lambda | ExprKind::Str(_) | ExprKind::FStr(_) | ExprKind::Other => Value::Unknown,
        }
    }

    /// `x.y` read in the function that assigned it (`x.y = open(p)` then `x.y.read()`), for a local or
    /// parameter `x` not rebound since: what was assigned, when the analysis can type it.
    fn assigned_attribute(&self, obj: &Expr, attr: &str, at: usize, depth: u32) -> Option<Value> {
        let ExprKind::Name(name) = &obj.kind else { return None };
        let scope = &self.facts.scopes[self.facts.scope_at(at)];
        if scope.kind != ScopeKind::Function {
            return None;
        }
        let list = scope.bindings.get(format!("{name}.{attr}").as_str())?;
        let i = list.partition_point(|&id| self.facts.bindings[id].pos <= at);
        let id = *list.get(i.checked_sub(1)?)?;
        let set = self.facts.bindings[id].pos;
        let rebound = scope
            .bindings
            .get(&**name)
            .is_some_and(|xs| xs.iter().any(|&x| (set..=at).contains(&self.facts.bindings[x].pos)));
        if rebound {
            return None;
        }
        match self.binding_value(id, depth + 1) {
            Value::Unknown => None,
            v => Some(v),
        }
    }

    /// The class whose method `obj` is `super()` in (the builtin, without arguments or as
    /// `super(ThisClass, self)`): its members are looked up after the class itself.
    fn super_of(&self, obj: &Expr, depth: u32) -> Option<ScopeId> {
        let ExprKind::Call(func) = &obj.kind else { return None };
        let ExprKind::Name(name) = &func.kind else { return None };
        if &**name != "super" {
            return None;
        }
        let mut scope = Some(self.facts.scope_at(obj.range.start));
        let class = loop {
            let id = scope?;
            if self.facts.scopes[id].kind == ScopeKind::Class {
                break id;
            }
            scope = self.facts.scopes[id].parent;
        };
        if self.value(func, depth + 1) != Value::Name("builtins.super".to_string()) {
            return None;
        }
        let call = self.facts.call_at(&obj.range)?;
        match call.args.first() {
            None => Some(class),
            Some(a) if call.args.len() == 2 && self.value(&a.value, depth + 1) == Value::Class(class) => Some(class),
            _ => None,
        }
    }

    /// Whether a callee is a dotted path from an imported module or function (`os.path.isfile`,
    /// `time.sleep`), not a method of a value: an `await` before it cannot mean an async method of the
    /// same name.
    pub fn is_module_path(&self, e: &Expr) -> bool {
        match &e.kind {
            ExprKind::Attribute(obj, _) => self.is_module_path(obj),
            ExprKind::Name(name) => {
                let scope = self.facts.scope_at(e.range.start);
                let mut s = Some(scope);
                while let Some(id) = s {
                    let sc = &self.facts.scopes[id];
                    if (sc.kind != ScopeKind::Class || id == scope)
                        && let Some(list) = sc.bindings.get(&**name)
                    {
                        return matches!(
                            self.facts.bindings[pick(self.facts, list, e.range.start)].kind,
                            BindingKind::Import(_)
                        );
                    }
                    s = sc.parent;
                }
                // A builtin: a star import of a module not in the catalog may hide an async one
                // (`await open(p)` with `from aiofiles_compat import *`).
                false
            }
            _ => false,
        }
    }

    /// Whether one of a call's arguments is an in-memory buffer (`io.BytesIO`, `io.StringIO`).
    pub fn over_buffer(&self, args: &[super::facts::Arg], depth: u32) -> bool {
        args.iter().any(|a| {
            let v = self.arg_value(&a.value, depth);
            matches!(v, Value::Instance(t) if self.catalog.memory_buffers.contains(&t))
        })
    }

    /// The value of a call argument. Arguments keep names and attributes; a call written there
    /// (`io.BytesIO(data)`) is a call fact.
    fn arg_value(&self, value: &Expr, depth: u32) -> Value {
        match self.facts.call_at(&value.range) {
            Some(c) if value.kind == ExprKind::Other => self.call_result(self.value(&c.func, depth + 1), depth + 1),
            _ => self.value(value, depth + 1),
        }
    }

    fn instance_of(&self, class: Option<&str>) -> Value {
        class.map_or(Value::Unknown, |c| Value::Instance(c.to_string()))
    }

    /// Python's name lookup: this scope, enclosing functions (not classes, except the one the use is
    /// directly in), the module, star imports of catalogued modules, builtins.
    pub fn lookup(&self, name: &str, from: ScopeId, at: usize, depth: u32) -> Value {
        let mut scope = Some(from);
        while let Some(id) = scope {
            let s = &self.facts.scopes[id];
            if s.kind != ScopeKind::Class || id == from {
                if let Some(list) = s.bindings.get(name) {
                    return self.declared(list, pick(self.facts, list, at), depth);
                }
                for module in s.star_imports.iter().rev() {
                    let q = format!("{module}.{name}");
                    if self.catalog.knows(&self.catalog.canonical(&q)) {
                        return Value::Name(q);
                    }
                }
            }
            scope = s.parent;
        }
        Value::Name(format!("builtins.{name}"))
    }

    /// The value of binding `id` of a name (`list`: the name's bindings in its scope). A declared type
    /// holds for the whole scope, as for a type checker: when the analysis cannot type the value
    /// assigned (`f: TextIOWrapper = ...` then `f = load()`), the last declaration before it answers.
    fn declared(&self, list: &[BindingId], id: BindingId, depth: u32) -> Value {
        let v = self.binding_value(id, depth);
        if v != Value::Unknown || !matches!(self.facts.bindings[id].kind, BindingKind::Value(_)) {
            return v;
        }
        let pos = self.facts.bindings[id].pos;
        list.iter()
            .rev()
            .filter(|&&b| b != id && self.facts.bindings[b].pos <= pos)
            .find(|&&b| matches!(self.facts.bindings[b].kind, BindingKind::Annotation(_)))
            .map_or(v, |&b| self.binding_value(b, depth))
    }

    /// The value of a binding.
    pub fn binding(&self, id: BindingId) -> Value {
        let outer = self.cut.take();
        let v = self.binding_value(id, 0);
        if let Some(kind) = self.cut.get() {
            self.cuts.borrow_mut().push((self.facts.bindings[id].pos, kind));
        }
        self.cut.set(outer.or(self.cut.get()));
        v
    }

    fn binding_value(&self, id: BindingId, depth: u32) -> Value {
        if let Some(m) = &self.memo.borrow()[id] {
            return match m {
                Memo::InProgress => Value::Unknown,
                Memo::Done(v, cut) => {
                    if let Some(kind) = cut {
                        self.note_cut(*kind);
                    }
                    v.clone()
                }
            };
        }
        self.memo.borrow_mut()[id] = Some(Memo::InProgress);
        let outer = self.cut.take();
        let v = match &self.facts.bindings[id].kind {
            BindingKind::Import(q) => Value::Name(q.clone()),
            BindingKind::Value(e) => self.value(e, depth + 1),
            BindingKind::Annotation(a) => self.annotation(a, depth + 1),
            BindingKind::With(e) => match self.value(e, depth + 1) {
                Value::Instance(t) => match self.catalog.returns(&format!("{t}.__enter__")) {
                    Some(entered) => Value::Instance(entered.to_string()),
                    None => Value::Instance(t),
                },
                other @ (Value::Object(_) | Value::Foreign(_)) => other,
                _ => Value::Unknown,
            },
            // `for x in items`: one of the items.
            BindingKind::Iter(e) => match self.value(e, depth + 1) {
                Value::Items(v) => *v,
                _ => Value::Unknown,
            },
            BindingKind::Def(s) => Value::Def(*s),
            BindingKind::Class(s) => Value::Class(*s),
            BindingKind::SelfParam(c) => Value::Object(*c),
            BindingKind::ClsParam(c) => Value::Class(*c),
            BindingKind::Unknown => Value::Unknown,
        };
        let cut = self.cut.get();
        self.cut.set(outer.or(cut));
        // A value computed while a cycle was cut short is not cached: another path may complete it.
        if depth <= MAX_DEPTH {
            self.memo.borrow_mut()[id] = Some(Memo::Done(v.clone(), cut));
        } else {
            self.memo.borrow_mut()[id] = None;
        }
        v
    }

    /// The class an annotation names: `X`, `mod.X`, `Optional[X]`, `X | None`, `Annotated[X, ...]`,
    /// `Union[X, None]`, `"X"`.
    pub fn annotation(&self, a: &Ann, depth: u32) -> Value {
        if depth > MAX_DEPTH {
            self.note_cut(CutKind::DeepResolution);
            return Value::Unknown;
        }
        let d = depth + 1;
        match a {
            Ann::Expr(e) => self.as_instance(self.value(e, d)),
            Ann::Generic { base, first, second } => {
                let base_value = self.value(base, d);
                let Some(base_name) = self.qualified(&base_value) else { return self.as_instance(base_value) };
                // `list[X]`, `dict[str, X]`: a container of `X`s (unknown ones stay unknown).
                let items = if self.catalog.typing_items.contains(&base_name) {
                    Some(first)
                } else if self.catalog.typing_mappings.contains(&base_name) {
                    Some(second)
                } else {
                    None
                };
                if let Some(item) = items {
                    return match item.as_ref().map(|a| self.annotation(a, d)) {
                        Some(v) if v != Value::Unknown => Value::Items(Box::new(v)),
                        _ => Value::Unknown,
                    };
                }
                if !self.catalog.typing_unwrap.contains(&base_name) {
                    // A generic class: `subprocess.Popen[bytes]` is a `subprocess.Popen`.
                    return self.as_instance(base_value);
                }
                first.as_ref().map_or(Value::Unknown, |f| self.annotation(f, d))
            }
            Ann::Str { content, at } => {
                // A forward reference such as `"requests.Session"`: resolve the dotted name inside.
                let mut parts = content.split('.');
                let Some(head) = parts.next().filter(|h| is_identifier(h)) else { return Value::Unknown };
                let mut v = self.lookup(head, self.facts.scope_at(*at), *at, d);
                for part in parts {
                    if !is_identifier(part) {
                        return Value::Unknown;
                    }
                    v = self.attribute(v, part, d);
                }
                self.as_instance(v)
            }
            // A union is typed as its first member (what awaiting a method of it runs: `alternatives`).
            Ann::Union(members) => members.first().map_or(Value::Unknown, |a| self.annotation(a, d)),
            Ann::Other => Value::Unknown,
        }
    }

    /// The members of the union a name's declared type is, when it is one (`client: A | B | None`,
    /// `Union[A, B]`), as instances, for the name bound by that annotation or assigned from such a name
    /// (`c = client`, as `lookup` picks the binding at the use); empty otherwise. A call awaited on it
    /// runs the member's method that is a coroutine (`summary`'s `CallSite::alternatives`).
    pub fn alternatives(&self, e: &Expr) -> Vec<Value> {
        let mut e = e;
        for _ in 0..8 {
            let ExprKind::Name(name) = &e.kind else { return Vec::new() };
            let at = e.range.start;
            let Some(id) = self.binding_at(name, self.facts.scope_at(at), at) else { return Vec::new() };
            match &self.facts.bindings[id].kind {
                BindingKind::Annotation(a) => {
                    return self
                        .union_members(a, 0)
                        .into_iter()
                        .map(|a| self.annotation(a, 1))
                        .filter(|v| *v != Value::Unknown)
                        .collect();
                }
                BindingKind::Value(v) => e = v,
                _ => return Vec::new(),
            }
        }
        Vec::new()
    }

    /// The members of a union annotation: `X | Y`, `Union[X, Y]` (its first two arguments that are not
    /// None), also inside `Optional[...]` and the like; empty for anything else.
    fn union_members<'x>(&self, a: &'x Ann, depth: u32) -> Vec<&'x Ann> {
        match a {
            Ann::Union(members) => members.iter().collect(),
            Ann::Generic { base, first: Some(first), second } if depth < 4 => {
                let Some(q) = self.qualified(&self.value_of(base)) else { return Vec::new() };
                if self.catalog.typing_unions.contains(&q) {
                    match second.as_deref() {
                        Some(second) if second != &**first => vec![&**first, second],
                        _ => Vec::new(),
                    }
                } else if self.catalog.typing_unwrap.contains(&q) {
                    self.union_members(first, depth + 1)
                } else {
                    Vec::new()
                }
            }
            _ => Vec::new(),
        }
    }

    /// The binding of `name` that a use at `at` in scope `from` sees, as `lookup` finds it.
    pub(super) fn binding_at(&self, name: &str, from: ScopeId, at: usize) -> Option<BindingId> {
        let mut scope = Some(from);
        while let Some(id) = scope {
            let s = &self.facts.scopes[id];
            if (s.kind != ScopeKind::Class || id == from)
                && let Some(list) = s.bindings.get(name)
            {
                return Some(pick(self.facts, list, at));
            }
            scope = s.parent;
        }
        None
    }

    /// An instance of what `v` names: a catalogued or imported class's instance, a local class's object.
    pub fn as_instance(&self, v: Value) -> Value {
        match v {
            Value::Name(q) => Value::Instance(self.catalog.canonical(&q)),
            Value::Class(c) => Value::Object(c),
            Value::Foreign(p) => Value::Foreign(p),
            _ => Value::Unknown,
        }
    }

    pub fn attribute(&self, base: Value, attr: &str, depth: u32) -> Value {
        if depth > MAX_DEPTH {
            self.note_cut(CutKind::DeepResolution);
            return Value::Unknown;
        }
        match base {
            Value::Name(q) => Value::Name(format!("{q}.{attr}")),
            Value::Instance(t) => match self.catalog.attribute(&t, attr) {
                Some(c) => Value::Instance(c.to_string()),
                None => Value::Name(format!("{t}.{attr}")),
            },
            // Reading a property on an instance runs it: its value is what it returns.
            Value::Object(c) => match self.member(c, attr, depth + 1) {
                Value::Def(p) if self.is_property(p) => self.call_result(Value::Def(p), depth + 1),
                v => v,
            },
            Value::Class(c) => self.member(c, attr, depth + 1),
            Value::Foreign(p) => Value::Foreign(format!("{p}.{attr}")),
            Value::Items(v) if self.catalog.item_methods.contains(attr) => Value::ItemGetter(v),
            Value::Def(_) | Value::Items(_) | Value::ItemGetter(_) | Value::Unknown => Value::Unknown,
        }
    }

    /// Whether a function is a `@property` (or `cached_property`): reading the attribute runs it.
    pub fn is_property(&self, scope: ScopeId) -> bool {
        self.facts.scopes[scope]
            .decorators
            .iter()
            .any(|d| matches!(&*d.text, "property" | "cached_property" | "functools.cached_property"))
    }

    /// A member of a class defined here: methods and class attributes, `self.x` assignments, in the
    /// order of its MRO (C3: `class D(Left, Right)` finds `Right._read` before the `Base._read` that
    /// `Left` inherits); an imported or catalogued class in it answers for the rest.
    fn member(&self, class: ScopeId, attr: &str, depth: u32) -> Value {
        self.member_from(class, 0, attr, depth)
    }

    /// `member`, skipping the first `skip` classes of the MRO (1 for `super()`).
    fn member_from(&self, class: ScopeId, skip: usize, attr: &str, depth: u32) -> Value {
        if depth > MAX_DEPTH {
            self.note_cut(CutKind::DeepResolution);
            return Value::Unknown;
        }
        for item in self.mro(class, depth + 1).iter().skip(skip) {
            let c = match item {
                MroItem::Local(c) => *c,
                MroItem::Name(q) => return self.attribute(Value::Instance(self.catalog.canonical(q)), attr, depth + 1),
            };
            let s = &self.facts.scopes[c];
            if let Some(list) = s.bindings.get(attr) {
                return self.binding_value(*list.last().expect("binding lists are never empty"), depth + 1);
            }
            if let Some(list) = s.self_attrs.get(attr) {
                // Prefer an assignment the analysis can type (`self.s = requests.Session()` in `__init__`
                // over `self.s = None` in `close`).
                let mut fallback = Value::Unknown;
                for &id in list {
                    match self.binding_value(id, depth + 1) {
                        Value::Unknown => {}
                        v => {
                            fallback = v;
                            break;
                        }
                    }
                }
                return fallback;
            }
        }
        Value::Unknown
    }

    /// Whether `attr` on an instance of `class` is a method that the project's C3 order decides: a
    /// method (not a property) of a class of this file in `class`'s MRO, or, before any is found, a base
    /// imported from the project (`class D(Local, Imported)`: what `Imported` and its own bases define,
    /// and where they come in D's MRO, is known only across modules). False for an attribute
    /// (`self.x = ...`, a class-level value) and for a base from a catalogued library.
    pub fn project_method(&self, class: ScopeId, attr: &str) -> bool {
        for item in self.mro(class, 0).iter() {
            let c = match item {
                MroItem::Local(c) => *c,
                MroItem::Name(q) => return !self.catalog.is_library_name(q),
            };
            let s = &self.facts.scopes[c];
            if let Some(list) = s.bindings.get(attr) {
                let last = *list.last().expect("binding lists are never empty");
                return matches!(self.facts.bindings[last].kind, BindingKind::Def(f)
                    if self.facts.scopes[f].parent == Some(c) && !self.is_property(f));
            }
            if s.self_attrs.contains_key(attr) {
                return false;
            }
        }
        false
    }

    /// A class's method resolution order (C3), itself first: classes of this file, and other bases by
    /// name (what they inherit is not known here). Memoized; a cycle ends it, and a hierarchy C3 cannot
    /// order (or longer than `MAX_MRO`) falls back to depth-first order.
    fn mro(&self, class: ScopeId, depth: u32) -> Mro {
        if let Some((m, cut)) = self.mros.borrow().get(&class) {
            if let Some(kind) = cut {
                self.note_cut(*kind);
            }
            return m.clone();
        }
        // In progress: a class that is its own ancestor stops here.
        self.mros.borrow_mut().insert(class, (std::rc::Rc::new(vec![MroItem::Local(class)]), None));
        let outer = self.cut.take();
        let mut seqs: Vec<Vec<MroItem>> = Vec::new();
        let mut direct: Vec<MroItem> = Vec::new();
        if depth <= MAX_DEPTH {
            for base in &self.facts.scopes[class].bases {
                let item = match self.value(base, depth + 1) {
                    Value::Class(b) if b != class => MroItem::Local(b),
                    Value::Name(q) => MroItem::Name(q),
                    _ => continue,
                };
                seqs.push(match &item {
                    MroItem::Local(b) => self.mro(*b, depth + 1).to_vec(),
                    MroItem::Name(_) => vec![item.clone()],
                });
                direct.push(item);
            }
        } else {
            self.note_cut(CutKind::DeepResolution);
        }
        let mut out = vec![MroItem::Local(class)];
        let depth_first: Vec<MroItem> = seqs.iter().flatten().cloned().collect();
        seqs.push(direct);
        match c3(seqs) {
            Some(rest) => out.extend(rest),
            None => {
                for item in depth_first {
                    if !out.contains(&item) && out.len() < MAX_MRO {
                        out.push(item);
                    }
                }
            }
        }
        let out = std::rc::Rc::new(out);
        let cut = self.cut.get();
        self.cut.set(outer.or(cut));
        self.mros.borrow_mut().insert(class, (out.clone(), cut));
        out
    }

    pub fn call_result(&self, callee: Value, depth: u32) -> Value {
        if depth > MAX_DEPTH {
            self.note_cut(CutKind::DeepResolution);
            return Value::Unknown;
        }
        match callee {
            Value::Name(q) => {
                let q = self.catalog.canonical(&q);
                // `path.iterdir()`: what iterating it yields.
                if let Some(class) = self.catalog.iterates.get(&q) {
                    return Value::Items(Box::new(Value::Instance(class.clone())));
                }
                match self.catalog.returns(&q) {
                    Some(class) => Value::Instance(class.to_string()),
                    // Maybe a project class: its instance's members are `q.member`.
                    None if !q.starts_with("builtins.") => Value::Foreign(q),
                    None => Value::Unknown,
                }
            }
            Value::Instance(t) => self.instance_of(self.catalog.returns(&format!("{t}.__call__"))),
            Value::Class(c) => Value::Object(c),
            Value::Def(f) => match &self.facts.scopes[f].returns {
                Some(r) if !self.facts.scopes[f].has_yield => self.annotation(r, depth + 1),
                _ => Value::Unknown,
            },
            Value::ItemGetter(v) => *v,
            Value::Object(_) | Value::Foreign(_) | Value::Items(_) | Value::Unknown => Value::Unknown,
        }
    }
}

impl Resolver<'_> {
    /// What an unannotated function returns, when every `return` statement of its own body returns the
    /// same typed value (`return httpx.Client()`, `return self._client`, `return Path(p)`): an instance
    /// of a catalogued or project class, or a container of them. A function with no `return`, a bare
    /// `return`, a `return None`, different values, or a value the analysis cannot type returns
    /// nothing known; except that instances of different catalogued classes (`return RedisCluster(...)`
    /// in one branch, `return redis.Redis(...)` last: a factory of clients) are typed as the last
    /// `return`, the factory's default case (the summary's call sites then reach that class's methods).
    /// Memoized per function.
    ///
    /// Only summaries use it (`FunctionSummary::returns`, and calls written `f().attr` in this file),
    /// and the project links them: `call_result` of a function of this file stays what its annotation
    /// says, so what one function's analysis finds never depends on another function's body (an edit
    /// inside a function is analysed alone, see `reanalyze_edit`).
    pub fn inferred_return(&self, f: ScopeId, depth: u32) -> Value {
        if depth > MAX_DEPTH {
            self.note_cut(CutKind::DeepResolution);
            return Value::Unknown;
        }
        if let Some(known) = self.returns.borrow().get(&f) {
            return known.clone().unwrap_or(Value::Unknown);
        }
        self.returns.borrow_mut().insert(f, None);
        let outer = self.cut.take();
        let mut out: Option<Value> = None;
        for range in self.return_values(f) {
            let v = match range.and_then(|r| self.returned_expr(r)) {
                Some(e) => self.value(&e, depth + 1),
                None => Value::Unknown,
            };
            let typed = match &v {
                Value::Instance(_) | Value::Object(_) | Value::Items(_) => true,
                // What a project name returned (`return make_client()` with it imported), not a library's.
                Value::Foreign(p) => !self.catalog.is_library_name(p),
                _ => false,
            };
            if !typed {
                out = None;
                break;
            }
            match &out {
                Some(o) if *o != v => {
                    // Instances of different catalogued classes: the last (a factory's default case).
                    if !(matches!(o, Value::Instance(_)) && matches!(v, Value::Instance(_))) {
                        out = None;
                        break;
                    }
                    out = Some(v);
                }
                Some(_) => {}
                None => out = Some(v),
            }
        }
        let v = out.unwrap_or(Value::Unknown);
        let cut = self.cut.get();
        self.cut.set(outer.or(cut));
        if cut.is_some() {
            self.returns.borrow_mut().remove(&f);
        } else {
            self.returns.borrow_mut().insert(f, Some(v.clone()));
        }
        v
    }

    /// The values of function `f`'s own `return` statements (not those of functions or classes inside
    /// it), read from its body's text: each one's range, `None` for a bare `return` or one the text scan
    /// cannot delimit (a line continuation). At most `MAX_RETURNS`; more give one `None`.
    fn return_values(&self, f: ScopeId) -> Vec<Option<std::ops::Range<usize>>> {
        const MAX_RETURNS: usize = 32;
        let s = &self.facts.scopes[f];
        if s.kind != ScopeKind::Function {
            return vec![None];
        }
        let body = s.body.clone();
        let Some(text) = self.text.get(body.clone()) else { return vec![None] };
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.');
        let mut out = Vec::new();
        for (i, _) in text.match_indices("return") {
            let at = body.start + i;
            let after = &text[i + "return".len()..];
            if word(text[..i].chars().next_back()) || word(after.chars().next()) {
                continue;
            }
            // At the start of a statement: first on its line, or after `:` / `;` (`if x: return y`).
            let line = text[..i].rsplit('\n').next().unwrap_or("").trim_end();
            if !(line.trim_start().is_empty() || line.ends_with(':') || line.ends_with(';')) {
                continue;
            }
            if self.facts.scope_at(at) != f {
                continue;
            }
            if out.len() == MAX_RETURNS {
                return vec![None];
            }
            let start = at + "return".len() + (after.len() - after.trim_start_matches([' ', '\t']).len());
            out.push(statement_end(self.text, start).map(|end| start..end).filter(|r| !r.is_empty()));
        }
        if out.is_empty() {
            out.push(None);
        }
        out
    }

    /// The expression a `return` gives, as resolution reads it: a call, an attribute, a name, or `await`
    /// of one of them. `None` for anything else (a literal, an operator, a conditional).
    fn returned_expr(&self, range: std::ops::Range<usize>) -> Option<Expr> {
        let text = self.text.get(range.clone())?;
        if let Some(inner) = text.strip_prefix("await") {
            let skip = "await".len() + inner.len() - inner.trim_start().len();
            if skip == "await".len() {
                return None;
            }
            let inner = self.returned_expr(range.start + skip..range.end)?;
            return Some(Expr { range, kind: ExprKind::Await(Box::new(inner)) });
        }
        if let Some(c) = self.facts.call_at(&range) {
            return Some(Expr { range, kind: ExprKind::Call(Box::new(c.func.clone())) });
        }
        let attrs = &self.facts.attributes;
        let i = attrs.partition_point(|a| a.range.start < range.start);
        if let Some(a) = attrs[i..].iter().take_while(|a| a.range.start == range.start).find(|a| a.range == range) {
            return Some(Expr { range, kind: ExprKind::Attribute(Box::new(a.object.clone()), a.attr.clone()) });
        }
        if is_identifier(text) && !matches!(text, "None" | "True" | "False") {
            return Some(Expr { range, kind: ExprKind::Name(text.into()) });
        }
        None
    }
}

/// Where the simple statement starting at `start` ends (before a `;`, a comment or the line's end,
/// outside brackets and strings); `None` when a backslash continues it or a string is left open.
fn statement_end(text: &str, start: usize) -> Option<usize> {
    let (mut depth, mut quote) = (0i32, None::<char>);
    let rest = text.get(start..)?;
    for (i, c) in rest.char_indices() {
        match (quote, c) {
            (_, '\\') => return None,
            (Some(q), c) if c == q => quote = None,
            (Some(_), '\n') => return None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => depth -= 1,
            (None, '\n' | ';' | '#') if depth <= 0 => return Some(start + rest[..i].trim_end().len()),
            _ => {}
        }
        if i > 64 * 1024 {
            return None;
        }
    }
    Some(start + rest.trim_end().len())
}

/// At most this many classes in an MRO.
pub(crate) const MAX_MRO: usize = 64;

/// A class's MRO, shared by the memo and its users.
type Mro = std::rc::Rc<Vec<MroItem>>;

/// A class in an MRO: one of this file, or another by its qualified name.
#[derive(Clone, Debug, PartialEq, Eq)]
enum MroItem {
    Local(ScopeId),
    Name(String),
}

/// C3's merge of the bases' MROs and the list of bases; `None` when no order keeps every list's
/// order (Python refuses such a class) or it grows past `MAX_MRO`.
pub(crate) fn c3<T: Clone + PartialEq>(seqs: Vec<Vec<T>>) -> Option<Vec<T>> {
    let mut out = Vec::new();
    let mut starts = vec![0usize; seqs.len()];
    loop {
        let live: Vec<usize> = (0..seqs.len()).filter(|&i| starts[i] < seqs[i].len()).collect();
        if live.is_empty() {
            return Some(out);
        }
        let head = live
            .iter()
            .map(|&i| &seqs[i][starts[i]])
            .find(|h| !live.iter().any(|&j| seqs[j][starts[j] + 1..].contains(h)))?;
        let head = head.clone();
        for &i in &live {
            if seqs[i][starts[i]] == head {
                starts[i] += 1;
            }
        }
        out.push(head);
        if out.len() > MAX_MRO {
            return None;
        }
    }
}

/// The binding a use at `at` sees: the last one before it, else the first one (a use in a function
/// body that runs after the module finished binding).
pub(super) fn pick(facts: &Facts, list: &[BindingId], at: usize) -> BindingId {
    let i = list.partition_point(|&id| facts.bindings[id].pos <= at);
    if i == 0 { list[0] } else { list[i - 1] }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_') && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// A call's mode argument: the `index`-th positional argument or `mode=` (an opener's mode).
fn mode_argument(args: &[super::facts::Arg], index: usize) -> Option<&Expr> {
    args.iter()
        .find(|a| a.keyword.as_deref() == Some("mode"))
        .or_else(|| args.iter().filter(|a| a.keyword.is_none()).nth(index))
        .map(|a| &a.value)
}
