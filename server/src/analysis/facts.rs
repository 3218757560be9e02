//! Syntax facts: the one query's matches turned into scopes, bindings and calls. Nothing here decides
//! meaning beyond "where is this name bound"; `resolve` and `checks` do the rest.

use std::collections::HashMap;
use std::ops::Range;

use streaming_iterator::StreamingIterator;
use tree_sitter::{Node, QueryCursor, Tree};

use crate::syntax::{Captures, queries};

pub type ScopeId = usize;
pub type BindingId = usize;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeKind {
    Module,
    Function,
    Lambda,
    Class,
}

#[derive(Debug)]
pub struct Scope<'t> {
    pub kind: ScopeKind,
    pub is_async: bool,
    /// The `function_definition`, `lambda` or `class_definition` node (none for the module).
    pub node: Option<Node<'t>>,
    pub name: Option<Node<'t>>,
    pub params: Option<Node<'t>>,
    pub returns: Option<Node<'t>>,
    pub bases: Option<Node<'t>>,
    /// The body's byte range: what runs in this scope.
    pub body: Range<usize>,
    pub body_node: Option<Node<'t>>,
    pub parent: Option<ScopeId>,
    pub decorators: Vec<Node<'t>>,
    pub has_await: bool,
    pub has_yield: bool,
    /// Name → bindings in this scope, in source order.
    pub bindings: HashMap<&'t str, Vec<BindingId>>,
    /// `from m import *` in this scope: the module names.
    pub star_imports: Vec<&'t str>,
    /// For classes: `self.x = ...` in any method, by attribute name.
    pub self_attrs: HashMap<&'t str, Vec<BindingId>>,
    /// The first parameter's name, for methods.
    pub first_param: Option<&'t str>,
}

impl Scope<'_> {
    fn new(kind: ScopeKind, body: Range<usize>) -> Self {
        Scope {
            kind,
            is_async: false,
            node: None,
            name: None,
            params: None,
            returns: None,
            bases: None,
            body,
            body_node: None,
            parent: None,
            decorators: Vec::new(),
            has_await: false,
            has_yield: false,
            bindings: HashMap::new(),
            star_imports: Vec::new(),
            self_attrs: HashMap::new(),
            first_param: None,
        }
    }
}

#[derive(Clone, Debug)]
pub enum BindingKind<'t> {
    /// `import x` / `from m import x`: the qualified name.
    Import(String),
    /// `x = <expr>`, `(x := <expr>)`.
    Value(Node<'t>),
    /// `x: <type>`, a parameter annotation.
    Annotation(Node<'t>),
    /// `with <expr> as x`.
    With(Node<'t>),
    Def(ScopeId),
    Class(ScopeId),
    /// `self` in a method of the class.
    SelfParam(ScopeId),
    /// `cls` in a classmethod of the class.
    ClsParam(ScopeId),
    /// Bound to something the analysis does not follow (loop targets, plain parameters, …).
    Unknown,
}

#[derive(Clone, Debug)]
pub struct Binding<'t> {
    pub kind: BindingKind<'t>,
    /// Where the binding takes effect: uses after this offset see it.
    pub pos: usize,
}

#[derive(Clone, Copy, Debug)]
pub struct CallFact<'t> {
    pub node: Node<'t>,
    pub func: Node<'t>,
    pub args: Node<'t>,
    /// The innermost scope the call runs in.
    pub scope: ScopeId,
}

pub struct Facts<'t> {
    pub text: &'t str,
    pub scopes: Vec<Scope<'t>>,
    pub bindings: Vec<Binding<'t>>,
    pub calls: Vec<CallFact<'t>>,
    /// Attribute reads that are not the callee of a call, with their scope (a `@property` runs code).
    pub attributes: Vec<(Node<'t>, ScopeId)>,
    /// Context managers entered by a plain (not `async`) `with`: the item's value, without `as ...`.
    pub enters: Vec<(Node<'t>, ScopeId)>,
    /// Module names imported anywhere (`import a.b` gives `a.b`, `from a.b import c` gives `a.b`).
    pub imported_modules: Vec<&'t str>,
}

#[derive(Default)]
struct Raw<'t> {
    defs: Vec<Scope<'t>>,
    decorators: Vec<(usize, Node<'t>)>,
    awaits: Vec<usize>,
    yields: Vec<usize>,
    calls: Vec<(Node<'t>, Node<'t>, Node<'t>)>,
    imports: Vec<(Node<'t>, Node<'t>, Option<Node<'t>>)>,
    froms: Vec<(Node<'t>, Node<'t>, Option<Node<'t>>, Option<Node<'t>>)>,
    assigns: Vec<(Node<'t>, Node<'t>, Option<Node<'t>>, Option<Node<'t>>)>,
    withs: Vec<(Node<'t>, Node<'t>, Node<'t>)>,
    enters: Vec<Node<'t>>,
    attributes: Vec<Node<'t>>,
    unknown_targets: Vec<Node<'t>>,
    globals: Vec<Node<'t>>,
    params: Vec<(Node<'t>, Node<'t>, Option<Node<'t>>)>,
}

impl<'t> Facts<'t> {
    pub fn text_of(&self, node: Node<'_>) -> &'t str {
        self.text.get(node.byte_range()).unwrap_or("")
    }

    /// The innermost scope whose body contains `offset`.
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

    /// The nearest enclosing function (or lambda or class) scope of `scope`, itself included.
    pub fn is_on_loop(&self, scope: ScopeId) -> bool {
        let s = &self.scopes[scope];
        s.kind == ScopeKind::Function && s.is_async
    }

    pub fn extract(text: &'t str, tree: &'t Tree) -> Facts<'t> {
        let q = queries();
        let raw = collect(text, tree, &q.facts, &q.captures);
        build(text, raw)
    }
}

fn collect<'t>(text: &'t str, tree: &'t Tree, query: &tree_sitter::Query, c: &Captures) -> Raw<'t> {
    let mut raw = Raw::default();
    let mut cursor = QueryCursor::new();
    let mut matches = cursor.matches(query, tree.root_node(), text.as_bytes());
    while let Some(m) = matches.next() {
        let caps = m.captures();
        let get = |idx: u32| caps.iter().find(|cap| cap.index == idx).map(|cap| cap.node);
        let first = caps[0].index;
        let has = |idx: u32| caps.iter().any(|cap| cap.index == idx);
        if has(c.def) {
            let (Some(node), Some(body)) = (get(c.def), get(c.def_body)) else { continue };
            let mut s = Scope::new(ScopeKind::Function, body.byte_range());
            s.is_async = has(c.def_async);
            s.node = Some(node);
            s.name = get(c.def_name);
            s.params = get(c.def_params);
            s.returns = get(c.def_returns);
            s.body_node = Some(body);
            raw.defs.push(s);
        } else if has(c.lambda) {
            let (Some(node), Some(body)) = (get(c.lambda), get(c.lambda_body)) else { continue };
            let mut s = Scope::new(ScopeKind::Lambda, body.byte_range());
            s.node = Some(node);
            s.params = node.child_by_field_name("parameters");
            raw.defs.push(s);
        } else if has(c.class) {
            let (Some(node), Some(body)) = (get(c.class), get(c.class_body)) else { continue };
            let mut s = Scope::new(ScopeKind::Class, body.byte_range());
            s.node = Some(node);
            s.name = get(c.class_name);
            s.bases = get(c.class_bases);
            s.body_node = Some(body);
            raw.defs.push(s);
        } else if has(c.decorated) {
            if let (Some(def), Some(dec)) = (get(c.decorated), get(c.decorator)) {
                raw.decorators.push((def.id(), dec));
            }
        } else if first == c.await_ {
            raw.awaits.push(caps[0].node.start_byte());
        } else if first == c.yield_ {
            raw.yields.push(caps[0].node.start_byte());
        } else if has(c.call) {
            if let (Some(n), Some(f), Some(a)) = (get(c.call), get(c.call_func), get(c.call_args)) {
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
                raw.enters.push(manager);
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

fn build<'t>(text: &'t str, mut raw: Raw<'t>) -> Facts<'t> {
    // Scopes, sorted so that a parent precedes its children; parents found with a stack.
    let mut scopes = Vec::with_capacity(raw.defs.len() + 1);
    scopes.push(Scope::new(ScopeKind::Module, 0..text.len()));
    raw.defs.sort_by(|a, b| a.body.start.cmp(&b.body.start).then(b.body.end.cmp(&a.body.end)));
    scopes.append(&mut raw.defs);
    let mut stack: Vec<ScopeId> = vec![0];
    for id in 1..scopes.len() {
        let (start, end) = (scopes[id].body.start, scopes[id].body.end);
        while let Some(&top) = stack.last() {
            let t = &scopes[top].body;
            if t.start <= start && end <= t.end && top != id {
                break;
            }
            stack.pop();
        }
        scopes[id].parent = Some(*stack.last().unwrap_or(&0));
        stack.push(id);
    }
    let mut facts = Facts {
        text,
        scopes,
        bindings: Vec::new(),
        calls: Vec::new(),
        enters: Vec::new(),
        attributes: Vec::new(),
        imported_modules: Vec::new(),
    };

    let by_node: HashMap<usize, ScopeId> =
        facts.scopes.iter().enumerate().filter_map(|(i, s)| s.node.map(|n| (n.id(), i))).collect();
    for (def_id, dec) in raw.decorators {
        if let Some(&s) = by_node.get(&def_id) {
            facts.scopes[s].decorators.push(dec);
        }
    }
    for off in raw.awaits {
        let s = facts.scope_at(off);
        facts.scopes[s].has_await = true;
    }
    for off in raw.yields {
        let s = facts.scope_at(off);
        facts.scopes[s].has_yield = true;
    }

    // `global x`: bindings of x in that function belong to the module.
    let mut globals: HashMap<(ScopeId, &str), ()> = HashMap::new();
    for g in raw.globals {
        let s = facts.scope_at(g.start_byte());
        globals.insert((s, facts.text_of(g)), ());
    }
    let mut b = Binder { facts: &mut facts, globals };

    // Definitions bind their names in the enclosing scope.
    for id in 1..b.facts.scopes.len() {
        let s = &b.facts.scopes[id];
        let (Some(node), Some(name)) = (s.node, s.name) else { continue };
        let kind = if s.kind == ScopeKind::Class { BindingKind::Class(id) } else { BindingKind::Def(id) };
        let outer = b.facts.scope_at(node.start_byte());
        let name = b.facts.text_of(name);
        b.bind(outer, name, kind, node.start_byte());
    }

    // Parameters: grouped per parameter list so that the first one of a method is `self`/`cls`.
    let params_owner: HashMap<usize, ScopeId> =
        b.facts.scopes.iter().enumerate().filter_map(|(i, s)| s.params.map(|p| (p.id(), i))).collect();
    raw.params.sort_by_key(|(_, name, _)| name.start_byte());
    for (list, name, ty) in raw.params {
        let Some(&fid) = params_owner.get(&list.id()) else { continue };
        let pname = b.facts.text_of(name);
        let pos = b.facts.scopes[fid].body.start;
        let first = b.facts.scopes[fid].first_param.is_none();
        let mut kind = match ty {
            Some(t) => BindingKind::Annotation(t),
            None => BindingKind::Unknown,
        };
        if first {
            b.facts.scopes[fid].first_param = Some(pname);
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

    for (stmt, name, alias) in raw.imports {
        let scope = b.facts.scope_at(stmt.start_byte());
        let dotted = b.facts.text_of(name);
        b.facts.imported_modules.push(dotted);
        match alias {
            Some(alias) => {
                let alias = b.facts.text_of(alias);
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
        let module = b.facts.text_of(module);
        b.facts.imported_modules.push(module);
        match name {
            None => b.facts.scopes[scope].star_imports.push(module),
            Some(name) => {
                let dotted = b.facts.text_of(name);
                let qualified =
                    if module.ends_with('.') { format!("{module}{dotted}") } else { format!("{module}.{dotted}") };
                let local = match alias {
                    Some(a) => b.facts.text_of(a),
                    None => dotted,
                };
                b.bind(scope, local, BindingKind::Import(qualified), stmt.end_byte());
            }
        }
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
            (Some(t), _) => BindingKind::Annotation(t),
            (None, Some(v)) => BindingKind::Value(v),
            (None, None) => BindingKind::Unknown,
        };
        b.bind_target(scope, target, kind, value, stmt.end_byte());
    }
    for (item, value, target) in raw.withs {
        let scope = b.facts.scope_at(item.start_byte());
        b.bind_target(scope, target, BindingKind::With(value), None, item.end_byte());
    }
    for target in raw.unknown_targets {
        let scope = b.facts.scope_at(target.start_byte());
        b.bind_target(scope, target, BindingKind::Unknown, None, target.end_byte());
    }
    drop(b);
    // Bindings were added kind by kind; lookups want them in source order.
    let bindings = &facts.bindings;
    for list in facts.scopes.iter_mut().flat_map(|s| s.bindings.values_mut().chain(s.self_attrs.values_mut())) {
        list.sort_by_key(|&id| bindings[id].pos);
    }

    facts.calls = raw.calls.into_iter().map(|(node, func, args)| CallFact { node, func, args, scope: 0 }).collect();
    for i in 0..facts.calls.len() {
        facts.calls[i].scope = facts.scope_at(facts.calls[i].node.start_byte());
    }
    let callees: std::collections::HashSet<usize> = facts.calls.iter().map(|c| c.func.id()).collect();
    facts.attributes = raw
        .attributes
        .into_iter()
        .filter(|a| !callees.contains(&a.id()))
        .map(|a| (a, facts.scope_at(a.start_byte())))
        .filter(|&(_, s)| facts.scopes[s].kind == ScopeKind::Function)
        .collect();
    facts.enters = raw.enters.into_iter().map(|n| (n, facts.scope_at(n.start_byte()))).collect();
    facts
}

enum MethodKind {
    Instance,
    Class,
    Static,
}

struct Binder<'f, 't> {
    facts: &'f mut Facts<'t>,
    globals: HashMap<(ScopeId, &'t str), ()>,
}

impl<'t> Binder<'_, 't> {
    fn bind(&mut self, scope: ScopeId, name: &'t str, kind: BindingKind<'t>, pos: usize) {
        let scope = if self.globals.contains_key(&(scope, name)) { 0 } else { scope };
        let id = self.facts.bindings.len();
        self.facts.bindings.push(Binding { kind, pos });
        self.facts.scopes[scope].bindings.entry(name).or_default().push(id);
    }

    /// Binds every name in an assignment target. Tuples unpack a tuple value item by item.
    fn bind_target(
        &mut self,
        scope: ScopeId,
        target: Node<'t>,
        kind: BindingKind<'t>,
        value: Option<Node<'t>>,
        pos: usize,
    ) {
        match target.kind() {
            "identifier" => {
                let name = self.facts.text_of(target);
                self.bind(scope, name, kind, pos);
            }
            "attribute" => self.bind_self_attr(scope, target, kind, pos),
            "pattern_list" | "tuple_pattern" | "list_pattern" | "tuple" | "list" | "parenthesized_expression" => {
                let items: Vec<Node<'t>> = {
                    let mut c = target.walk();
                    target.named_children(&mut c).collect()
                };
                let values: Option<Vec<Node<'t>>> = value
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
                        Some(v) => BindingKind::Value(v),
                        None => BindingKind::Unknown,
                    };
                    // Nested patterns are bound as unknown, one level deep (no recursion on user input).
                    if item.kind() == "identifier" || item.kind() == "attribute" {
                        self.bind_target(scope, *item, item_kind, None, pos);
                    } else if item.kind() == "list_splat_pattern"
                        && let Some(inner) = item.named_child(0).filter(|n| n.kind() == "identifier")
                    {
                        let name = self.facts.text_of(inner);
                        self.bind(scope, name, BindingKind::Unknown, pos);
                    }
                }
            }
            _ => {}
        }
    }

    /// `self.x = value` in a method records `x` as an attribute of the method's class.
    fn bind_self_attr(&mut self, scope: ScopeId, target: Node<'t>, kind: BindingKind<'t>, pos: usize) {
        let (Some(obj), Some(attr)) = (target.child_by_field_name("object"), target.child_by_field_name("attribute"))
        else {
            return;
        };
        if obj.kind() != "identifier" || self.facts.scopes[scope].kind != ScopeKind::Function {
            return;
        }
        let Some(class) = self.method_class(scope) else { return };
        if self.facts.scopes[scope].first_param != Some(self.facts.text_of(obj)) {
            return;
        }
        if matches!(self.method_kind(scope), MethodKind::Static) {
            return;
        }
        let id = self.facts.bindings.len();
        self.facts.bindings.push(Binding { kind, pos });
        let attr = self.facts.text_of(attr);
        self.facts.scopes[class].self_attrs.entry(attr).or_default().push(id);
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
            match self.facts.text_of(*d) {
                "staticmethod" => return MethodKind::Static,
                "classmethod" => return MethodKind::Class,
                _ => {}
            }
        }
        MethodKind::Instance
    }
}
