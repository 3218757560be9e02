//! A sync database connection → its async driver (`sqlite3` → `aiosqlite`), as the catalog's
//! `[[counterparts]]` describe it: the connection opened by the blocking call becomes the async
//! driver's, and every call on it and on the cursors it returns is awaited.
//!
//! ```python
//! conn = sqlite3.connect(path)                      conn = await aiosqlite.connect(path)
//! rows = conn.execute(q).fetchall()          →      rows = await (await conn.execute(q)).fetchall()
//! conn.close()                                      await conn.close()
//! ```
//!
//! `with sqlite3.connect(path) as conn:` commits at the end of the block and leaves the connection open,
//! where `async with aiosqlite.connect(path) as conn:` closes it without committing: the block gets
//! `await conn.commit()` as its last statement (an exception still rolls back: closing an uncommitted
//! transaction discards it), and a use of the connection after the block refuses it.
//!
//! Only uses the rewrite knows to be the same are written; anything else refuses it, naming the line:
//! the connection or a cursor passed to a function, returned, stored or iterated, a method the catalog
//! does not list, a use in a nested function, a connection bound by assignment and never closed (an
//! aiosqlite connection keeps a thread until it is), a `return` in the middle of a `with` block. The
//! fix is always unsafe: another library answers.

use tree_sitter::Node;

use super::kinds::{self, MAX_NODES, await_allowed, awaited, enclosing_def, short};
use super::{Applicability, Edit, FileContext, Fix, FixId, Fixes, Refusal, Target};
use crate::catalog::{ClientBinding, Counterpart};

pub(super) fn fix(ctx: &FileContext<'_>, t: &Target, call: Node<'_>, out: &mut Fixes) {
    let Some(callee) = t.callee.as_deref() else { return };
    let Some(cp) = ctx.catalog.counterparts.get(callee) else { return };
    let Some(func) = call.child_by_field_name("function") else { return };
    if !kinds::called_by_name(ctx, callee, ctx.node_text(func)) {
        return;
    }
    let library = callee.split('.').next().unwrap_or(callee);
    if let Some(why) = &cp.refused {
        let title = format!("Use an async driver instead of `{}`", short(ctx.node_text(func)));
        return out.refused.push(Refusal { id: FixId::AsyncDriver, title, reason: why.clone() });
    }
    let title = if let Some(cb) = &cp.client_binding {
        format!("Use `{}` with client-side binding instead of `{library}` ({})", cp.package, cb.note)
    } else if cp.package == library {
        format!("Use `{}` instead of `{callee}`", cp.to)
    } else {
        format!("Use `{}` instead of `{library}`", cp.package)
    };
    match rewrite(ctx, cp, call, func) {
        Ok(edits) => out.fixes.push(Fix { id: FixId::AsyncDriver, title, applicability: Applicability::Unsafe, edits }),
        Err(reason) => out.refused.push(Refusal { id: FixId::AsyncDriver, title, reason }),
    }
}

/// How the connection is bound.
#[derive(Clone, Copy)]
enum Bound<'t> {
    /// `conn = connect(...)`: the assignment.
    Assigned(Node<'t>),
    /// `with connect(...) as conn:`: the `with` statement.
    With(Node<'t>),
}

fn rewrite<'t>(ctx: &FileContext<'t>, cp: &Counterpart, call: Node<'t>, func: Node<'t>) -> Result<Vec<Edit>, String> {
    let def = enclosing_def(ctx, call).ok_or("the call is not in a function")?;
    let args = call
        .child_by_field_name("arguments")
        .filter(|a| a.kind() == "argument_list")
        .ok_or("the arguments are a generator expression")?;
    let mut positional = 0;
    let mut c = args.walk();
    for a in args.named_children(&mut c) {
        match a.kind() {
            "list_splat" | "dictionary_splat" => {
                return Err("the arguments are unpacked: they cannot be checked".into());
            }
            "keyword_argument" => {
                let k = a.child_by_field_name("name").map_or("", |n| ctx.node_text(n));
                if let Some(why) = cp.refused_keywords.get(k) {
                    return Err(format!("`{k}=`: {why}"));
                }
            }
            "comment" => {}
            _ => positional += 1,
        }
    }
    if positional > cp.positional {
        return Err(format!(
            "`{}` takes {} positional argument{}: pass the others by keyword",
            cp.to,
            cp.positional,
            if cp.positional == 1 { "" } else { "s" }
        ));
    }
    let (bound, name_node) = binding(ctx, call).ok_or(
        "the connection is not bound to a name (`conn = ...` or `with ... as conn:`), so its uses cannot be followed",
    )?;
    let name = ctx.node_text(name_node);
    let line_of = |n: Node<'_>| n.start_position().row + 1;
    if let (Some(cb), Bound::With(w)) = (&cp.client_binding, bound) {
        return Err(format!("`with` at line {}: {}", line_of(w), cb.with_refused));
    }
    let mut edits = Vec::new();
    // The names of the sync library the client-binding rewrite replaced (`cursor_factory=` values).
    let mut bound_names: Vec<std::ops::Range<usize>> = Vec::new();
    // The connection's uses, then each cursor's.
    let mut names: Vec<(String, Vec<usize>, bool)> = vec![(name.to_string(), vec![name_node.id()], true)];
    let mut closed = false;
    let mut i = 0;
    while i < names.len() {
        let (var, binders, is_conn) = names[i].clone();
        i += 1;
        let body = def.child_by_field_name("body").ok_or("the function has no body")?;
        let mut stack = vec![body];
        let mut seen = 0;
        while let Some(n) = stack.pop() {
            seen += 1;
            if seen > MAX_NODES {
                return Err("the function is too large to check".into());
            }
            let mut c = n.walk();
            stack.extend(n.children(&mut c));
            if n.kind() != "identifier" || ctx.node_text(n) != var || binders.contains(&n.id()) {
                continue;
            }
            let line = line_of(n);
            let what = if is_conn { "the connection" } else { "the cursor" };
            if enclosing_def(ctx, n).is_none_or(|d| d.id() != def.id()) || inside_lambda(ctx, n, def) {
                return Err(format!("{what} `{var}` is used in a nested function at line {line}"));
            }
            if let Bound::With(w) = bound
                && let Some(b) = w.child_by_field_name("body")
                && !(b.start_byte() <= n.start_byte() && n.end_byte() <= b.end_byte())
            {
                let library = cp.connect.split('.').next().unwrap_or_default();
                return Err(match cp.with_commits {
                    Some(_) => format!(
                        "{what} `{var}` is used after the `with` block at line {line}: {library}'s `with` leaves the connection open, `async with` closes it"
                    ),
                    None => format!("{what} `{var}` is used after the `with` block at line {line}, which closes it"),
                });
            }
            let parent = ctx.up(n).ok_or("a use has no parent")?;
            let is =
                |p: Node<'_>, field: &str, x: Node<'_>| p.child_by_field_name(field).is_some_and(|c| c.id() == x.id());
            if parent.kind() == "for_statement" && is(parent, "right", n) {
                if !is_conn && cp.cursor_async_for {
                    async_for(parent, &mut edits)?;
                    continue;
                }
                return Err(format!(
                    "{what} `{var}` is iterated at line {line}: the async one is iterated with `async for`, which loopsafe does not write"
                ));
            }
            if parent.kind() == "assignment" && is(parent, "left", n) {
                return Err(format!("`{var}` is bound again at line {line}"));
            }
            if let Some(cb) = &cp.client_binding
                && is_conn
                && matches!(parent.kind(), "with_item" | "as_pattern")
            {
                return Err(format!("`with {var}` at line {line}: {}", cb.with_refused));
            }
            if parent.kind() != "attribute" || !is(parent, "object", n) {
                return Err(format!(
                    "{what} `{var}` is used as a value at line {line} (passed on, returned or stored), where its users expect the sync one"
                ));
            }
            let member = parent.child_by_field_name("attribute").map_or("", |a| ctx.node_text(a));
            let called = ctx.up(parent).filter(|c| c.kind() == "call" && is(*c, "function", parent));
            let (methods, attributes) =
                if is_conn { (&cp.awaited, &cp.attributes) } else { (&cp.cursor_awaited, &cp.cursor_attributes) };
            let Some(call) = called else {
                if attributes.iter().any(|a| a == member) {
                    continue;
                }
                return Err(format!(
                    "`{var}.{member}` at line {line} has no equivalent in `{}` that loopsafe knows",
                    cp.package
                ));
            };
            // `with conn.transaction():` → `async with conn.transaction():`, the one item of a sync
            // `with`, bound to no name.
            if is_conn && cp.entered_with.iter().any(|m| m == member) {
                let with = ctx
                    .up(call)
                    .filter(|i| i.kind() == "with_item")
                    .and_then(|i| ctx.up(i))
                    .filter(|c| c.kind() == "with_clause" && c.named_child_count() == 1)
                    .and_then(|c| ctx.up(c))
                    .filter(|w| w.kind() == "with_statement" && w.child(0).is_some_and(|c| c.kind() == "with"));
                let Some(with_kw) = with.and_then(|w| w.child(0)) else {
                    return Err(format!(
                        "`{var}.{member}(...)` at line {line} is used otherwise than as the one item of a `with` bound to no name, which `async with` would enter"
                    ));
                };
                await_allowed(ctx, call).map_err(|why| format!("`{var}.{member}` at line {line}: {why}"))?;
                edits.push(Edit { range: with_kw.start_byte()..with_kw.start_byte(), text: "async ".into() });
                continue;
            }
            let returns_cursor = is_conn && cp.cursors.iter().any(|m| m == member);
            let is_awaited = methods.iter().any(|m| m == member);
            if !is_awaited && !returns_cursor {
                return Err(format!(
                    "`{var}.{member}(...)` at line {line} has no awaited equivalent in `{}` that loopsafe knows",
                    cp.package
                ));
            }
            await_allowed(ctx, call).map_err(|why| format!("`{var}.{member}` at line {line}: {why}"))?;
            if let Some(cb) = &cp.client_binding {
                client_call_args(ctx, cb, is_conn && returns_cursor, call, &mut edits, &mut bound_names)?;
            }
            closed |= is_conn && member == cp.close;
            // The call as the async driver has it: awaited, or not (psycopg's `conn.cursor()`).
            let call_text =
                if is_awaited { awaited(ctx, call, ctx.node_text(call)) } else { ctx.node_text(call).into() };
            let outer = ctx.up(call);
            // `with conn.cursor() as cur:` → `async with`, `cur` followed too.
            if returns_cursor && let Some((Bound::With(w), left)) = binding(ctx, call) {
                follow_cursor(&mut names, ctx.node_text(left), left.id(), name, line)?;
                if is_awaited {
                    edits.push(Edit { range: call.byte_range(), text: call_text });
                }
                let with_kw = w.child(0).ok_or("no `with`")?;
                edits.push(Edit { range: with_kw.start_byte()..with_kw.start_byte(), text: "async ".into() });
                continue;
            }
            // `for row in conn.execute(q):` → `async for row in await conn.execute(q):`.
            if returns_cursor
                && cp.cursor_async_for
                && let Some(f) = outer.filter(|f| f.kind() == "for_statement" && is(*f, "right", call))
            {
                async_for(f, &mut edits)?;
                edits.push(Edit { range: call.byte_range(), text: call_text });
                continue;
            }
            // `conn.cursor().execute(q)` (psycopg's cursor is not awaited): `await conn.cursor().execute(q)`.
            let chained_sync = !is_awaited && outer.is_some_and(|a| a.kind() == "attribute" && is(a, "object", call));
            if !is_awaited && !chained_sync && !outer.is_some_and(|a| a.kind() == "assignment" && is(a, "right", call))
            {
                return Err(format!(
                    "the cursor `{var}.{member}(...)` returns at line {line} is used otherwise than bound to a name, in `with` or in `for`"
                ));
            }
            match outer {
                // `conn.execute(q).fetchall()`: both awaited.
                Some(attr) if returns_cursor && attr.kind() == "attribute" && is(attr, "object", call) => {
                    let m2 = attr.child_by_field_name("attribute").map_or("", |a| ctx.node_text(a));
                    let outer_call = ctx.up(attr).filter(|c| c.kind() == "call" && is(*c, "function", attr));
                    match outer_call {
                        Some(oc) if cp.cursor_awaited.iter().any(|m| m == m2) => {
                            if let Some(cb) = &cp.client_binding {
                                client_call_args(ctx, cb, false, oc, &mut edits, &mut bound_names)?;
                            }
                            let rest = &ctx.text[attr.end_byte()..oc.end_byte()];
                            // psycopg's `conn.cursor()` is not awaited: `await conn.cursor().execute(q)`.
                            let expr = if is_awaited {
                                format!("(await {}).{m2}{rest}", ctx.node_text(call))
                            } else {
                                format!("{}.{m2}{rest}", ctx.node_text(call))
                            };
                            edits.push(Edit { range: oc.byte_range(), text: awaited(ctx, oc, &expr) });
                        }
                        None if chained_sync && cp.cursor_attributes.iter().any(|a| a == m2) => {}
                        None if cp.cursor_attributes.iter().any(|a| a == m2) => {
                            edits
                                .push(Edit { range: call.byte_range(), text: awaited(ctx, call, ctx.node_text(call)) });
                        }
                        _ => {
                            return Err(format!(
                                "`.{m2}` on the cursor at line {line} has no awaited equivalent in `{}` that loopsafe knows",
                                cp.package
                            ));
                        }
                    }
                }
                // `cur = conn.execute(q)`: `cur` is followed too.
                Some(a)
                    if returns_cursor
                        && a.kind() == "assignment"
                        && is(a, "right", call)
                        && a.child_by_field_name("left").is_some_and(|l| l.kind() == "identifier") =>
                {
                    let left = a.child_by_field_name("left").expect("checked");
                    follow_cursor(&mut names, ctx.node_text(left), left.id(), name, line)?;
                    if is_awaited {
                        edits.push(Edit { range: call.byte_range(), text: call_text });
                    }
                }
                Some(s) if !returns_cursor || s.kind() == "expression_statement" => {
                    edits.push(Edit { range: call.byte_range(), text: awaited(ctx, call, ctx.node_text(call)) });
                }
                _ => {
                    return Err(format!(
                        "the cursor `{var}.{member}(...)` returns at line {line} is used as a value, where its users expect the sync one"
                    ));
                }
            }
        }
    }
    let cursor_names: Vec<&str> = names.iter().map(|(v, _, _)| v.as_str()).collect();
    let stmt = match bound {
        Bound::Assigned(a) => a,
        Bound::With(w) => w,
    };
    let scoped = ctx.imports_at(stmt);
    let (module, rest) = cp.to.split_once('.').unwrap_or((cp.to.as_str(), ""));
    let to = scoped.module_attr(module, rest, &mut edits, ctx.text);
    if let Some(why) = scoped.conflict() {
        return Err(why);
    }
    match bound {
        Bound::Assigned(_) => {
            if !closed {
                let f = def.child_by_field_name("name").map_or("", |n| ctx.node_text(n));
                return Err(format!(
                    "the connection `{name}` is never closed in `{f}`: `{}` keeps a thread for it until `await {name}.{}()`",
                    cp.package, cp.close
                ));
            }
            let args_text = match &cp.client_binding {
                Some(cb) => client_connect_args(ctx, cb, args, &scoped, &mut edits, &mut bound_names)?,
                None => ctx.node_text(args).to_string(),
            };
            let expr = format!("{to}{args_text}");
            edits.push(Edit { range: call.byte_range(), text: awaited(ctx, call, &expr) });
        }
        Bound::With(w) => {
            let to = if cp.with_awaited { format!("await {to}") } else { to };
            edits.push(Edit { range: func.byte_range(), text: to });
            let with_kw = w.child(0).ok_or("no `with`")?;
            edits.push(Edit { range: with_kw.start_byte()..with_kw.start_byte(), text: "async ".into() });
            if let Some(commit) = &cp.with_commits {
                edits.push(commit_at_end(ctx, w, name, commit, &cursor_names)?);
            }
        }
    }
    if let Some(cb) = &cp.client_binding {
        client_names(ctx, cb, cp, def, func, &bound_names, &mut edits)?;
        if let Some(why) = scoped.conflict() {
            return Err(why);
        }
        super::normalize(&mut edits);
        return Ok(edits);
    }
    // The sync library's import, when this call was its last use (and the async driver is not in it).
    if let Some(root) = kinds::root_identifier(func)
        && ctx.node_text(root) != module
        && let Some(import) = kinds::unused_import(ctx, ctx.node_text(root), Some(func))
    {
        kinds::remove_statement(ctx, import, &mut edits);
    }
    super::normalize(&mut edits);
    Ok(edits)
}

/// The name the connection made by `call` is bound to, and how.
fn binding<'t>(ctx: &FileContext<'t>, call: Node<'t>) -> Option<(Bound<'t>, Node<'t>)> {
    let parent = ctx.up(call)?;
    let is = |p: Node<'_>, field: &str, x: Node<'_>| p.child_by_field_name(field).is_some_and(|c| c.id() == x.id());
    if parent.kind() == "assignment" && is(parent, "right", call) {
        let left = parent.child_by_field_name("left").filter(|l| l.kind() == "identifier")?;
        ctx.up(parent).filter(|s| s.kind() == "expression_statement")?;
        return Some((Bound::Assigned(parent), left));
    }
    // `with connect(...) as conn:`, the only item of a sync `with`.
    if parent.kind() != "as_pattern" || parent.named_child(0).is_none_or(|c| c.id() != call.id()) {
        return None;
    }
    let alias = parent.child_by_field_name("alias")?;
    let name =
        if alias.kind() == "identifier" { alias } else { alias.named_child(0).filter(|n| n.kind() == "identifier")? };
    if alias.named_child_count() > 1 {
        return None;
    }
    let item = ctx.up(parent).filter(|i| i.kind() == "with_item")?;
    let clause = ctx.up(item).filter(|c| c.kind() == "with_clause" && c.named_child_count() == 1)?;
    let with =
        ctx.up(clause).filter(|w| w.kind() == "with_statement" && w.child(0).is_some_and(|c| c.kind() == "with"))?;
    Some((Bound::With(with), name))
}

/// `for` → `async for` (refused where the loop is already async).
fn async_for(f: Node<'_>, edits: &mut Vec<Edit>) -> Result<(), String> {
    let kw = f.child(0).ok_or("no `for`")?;
    if kw.kind() != "for" {
        return Err(format!("the loop at line {} is already `async for`", f.start_position().row + 1));
    }
    edits.push(Edit { range: kw.start_byte()..kw.start_byte(), text: "async ".into() });
    Ok(())
}

fn inside_lambda(ctx: &FileContext<'_>, n: Node<'_>, def: Node<'_>) -> bool {
    let mut m = ctx.up(n);
    while let Some(cur) = m.filter(|c| c.id() != def.id()) {
        if matches!(cur.kind(), "lambda" | "generator_expression") {
            return true;
        }
        m = ctx.up(cur);
    }
    false
}

/// `await conn.commit()` as the last statement of the `with` block `w` (before a final `return` whose
/// value does not use the connection or its cursors); refused where the block can be left otherwise.
fn commit_at_end(ctx: &FileContext<'_>, w: Node<'_>, name: &str, commit: &str, names: &[&str]) -> Result<Edit, String> {
    let body = w.child_by_field_name("body").ok_or("the `with` has no body")?;
    let mut c = body.walk();
    let stmts: Vec<Node<'_>> = body.named_children(&mut c).filter(|s| s.kind() != "comment").collect();
    let last = *stmts.last().ok_or("the `with` block is empty")?;
    // What leaves the block before its end: the commit there would be skipped.
    let mut stack = vec![body];
    let mut seen = 0;
    while let Some(n) = stack.pop() {
        seen += 1;
        if seen > MAX_NODES {
            return Err("the block is too large to check".into());
        }
        let line = n.start_position().row + 1;
        match n.kind() {
            "function_definition" | "class_definition" | "lambda" => continue,
            "return_statement" if n.id() != last.id() => {
                return Err(format!(
                    "the `with` block returns at line {line}: sqlite3 commits there, and the commit loopsafe adds at the end of the block would be skipped"
                ));
            }
            "yield" => return Err(format!("the `with` block yields at line {line}")),
            "break_statement" | "continue_statement" if !in_loop_within(ctx, n, w) => {
                return Err(format!("the `with` block is left at line {line}, skipping the commit at its end"));
            }
            _ => {}
        }
        let mut c = n.walk();
        stack.extend(n.children(&mut c));
    }
    let text = ctx.text;
    let start = crate::syntax::line_start(text, last.start_byte());
    let indent = &text[start..last.start_byte()];
    if !indent.trim().is_empty() {
        return Err("the `with` block shares a line with other code".into());
    }
    let stmt = format!("await {name}.{commit}()");
    if last.kind() == "return_statement" {
        let mut stack = vec![last];
        while let Some(n) = stack.pop() {
            if n.kind() == "identifier" && names.contains(&ctx.node_text(n)) {
                return Err(format!(
                    "the `with` block ends by returning what uses `{}` (line {}): the commit would have to come after it",
                    ctx.node_text(n),
                    n.start_position().row + 1
                ));
            }
            let mut c = n.walk();
            stack.extend(n.children(&mut c));
        }
        let nl = super::imports::newline(text);
        return Ok(Edit { range: last.start_byte()..last.start_byte(), text: format!("{stmt}{nl}{indent}") });
    }
    let end = text[last.end_byte()..].find(['\r', '\n']).map_or(text.len(), |i| last.end_byte() + i);
    if !text[last.end_byte()..end].trim().is_empty() {
        return Err("the `with` block's last line has a comment or more code after the statement".into());
    }
    Ok(Edit { range: end..end, text: format!("{}{indent}{stmt}", super::imports::newline(text)) })
}

/// Whether a `break`/`continue` has its loop inside the `with` statement `w`.
fn in_loop_within(ctx: &FileContext<'_>, n: Node<'_>, w: Node<'_>) -> bool {
    let mut m = ctx.up(n);
    while let Some(cur) = m.filter(|c| c.id() != w.id()) {
        if matches!(cur.kind(), "for_statement" | "while_statement") {
            return true;
        }
        m = ctx.up(cur);
    }
    false
}

/// A cursor bound to `cur` (its binding node `id`) is followed too, like the connection `name` it
/// came from; binding the connection's name again refuses the fix.
fn follow_cursor(
    names: &mut Vec<(String, Vec<usize>, bool)>,
    cur: &str,
    id: usize,
    name: &str,
    line: usize,
) -> Result<(), String> {
    if cur == name {
        return Err(format!("`{cur}` is bound again at line {line}"));
    }
    match names.iter_mut().find(|(v, _, conn)| v == cur && !conn) {
        Some((_, b, _)) => b.push(id),
        None => names.push((cur.to_string(), vec![id], false)),
    }
    Ok(())
}

// ------------------------------------------------------------------------------ module-level client
// `cache = redis.Redis(...)` → `cache = redis.asyncio.Redis(...)`, every `cache.cmd(...)` awaited. The
// async client opens a connection per command in flight, where threads bounded the sync one: past its
// pool's `max_connections` commands raise instead of waiting (the catalog's comment says so).

/// A module-level `name = redis.Redis(...)`, the only top-level statement binding `name`, whose
/// constructor the catalog's `[[counterparts]]` map to an async one.
pub(super) struct Client<'t, 'c> {
    pub(super) stmt: Node<'t>,
    ctor: Node<'t>,
    left: Node<'t>,
    pub(super) name: String,
    to: String,
    cp: &'c Counterpart,
}

/// The client name of a call `name.method(...)` that is the blocking `callee` (`redis.Redis.get`), and the
/// catalog's async counterpart of the callee's class.
fn client_call<'t, 'c>(ctx: &FileContext<'t>, call: Node<'t>, callee: &str) -> Option<(&'t str, &'c Counterpart)>
where
    't: 'c,
{
    let func = call.child_by_field_name("function").filter(|f| f.kind() == "attribute")?;
    let object = func.child_by_field_name("object").filter(|o| o.kind() == "identifier")?;
    let (class, method) = callee.rsplit_once('.')?;
    if ctx.node_text(func.child_by_field_name("attribute")?) != method {
        return None;
    }
    let cp: &'c Counterpart = ctx.catalog.counterparts.get(class).filter(|c| c.class == class)?;
    Some((ctx.node_text(object), cp))
}

/// The module-level client a call `name.method(...)` is made on, when the call is the blocking
/// `callee` (`redis.Redis.get`) and the catalog has an async counterpart for the client's class.
pub(super) fn module_client<'t, 'c>(ctx: &FileContext<'t>, call: Node<'t>, callee: &str) -> Option<Client<'t, 'c>>
where
    't: 'c,
{
    let (name, cp) = client_call(ctx, call, callee)?;
    let (stmt, ctor, left, q) = ctx.module_constructed(name)?;
    let to = cp.constructors.get(&q)?.clone();
    Some(Client { stmt, ctor, left, name: name.to_string(), to, cp })
}

/// Calls `f` with each use of the module-level client `c` in the file (each `name` but the one it is
/// bound to) in tree order: the identifier, the attribute it is the object of, that attribute's member
/// and its line. A use as a value (not `name.member`), or of a member the catalog says is not simply
/// awaited, refuses, naming the line.
fn for_each_use<'t>(
    ctx: &FileContext<'t>,
    c: &Client<'_, '_>,
    mut f: impl FnMut(Node<'t>, Node<'t>, &'t str, usize) -> Result<(), String>,
) -> Result<(), String> {
    let name = c.name.as_str();
    let is = |p: Node<'_>, field: &str, x: Node<'_>| p.child_by_field_name(field).is_some_and(|y| y.id() == x.id());
    let mut stack = vec![ctx.tree.root_node()];
    let mut seen = 0;
    while let Some(n) = stack.pop() {
        seen += 1;
        if seen > MAX_NODES {
            return Err("the file is too large to check".into());
        }
        if n.kind() != "identifier" || ctx.node_text(n) != name || n.id() == c.left.id() {
            let mut w = n.walk();
            stack.extend(n.children(&mut w));
            continue;
        }
        let line = n.start_position().row + 1;
        let attr = ctx.up(n).filter(|p| p.kind() == "attribute" && is(*p, "object", n)).ok_or_else(|| {
            format!("`{name}` is used as a value at line {line}, where its users expect the sync client")
        })?;
        let member = attr.child_by_field_name("attribute").map_or("", |a| ctx.node_text(a));
        if let Some(why) = c.cp.not_awaited.get(member) {
            return Err(format!("`{name}.{member}` at line {line}: {why}"));
        }
        if let Some(d) = enclosing_def(ctx, n)
            && let Some(kind) = super::chain::deferred_between(ctx, n, d).filter(|k| k.starts_with("default"))
        {
            return Err(format!("`{name}.{member}` is used in a {kind}, line {line}"));
        }
        f(n, attr, member, line)?;
    }
    Ok(())
}

/// The module-level sync functions of the file (decorated ones too) that use the module-level client
/// of the command `call` (`cache.get(...)`, the blocking `callee`) anywhere in their own body, in tree
/// order. A chain made async makes them async too (their callers awaiting them), since the client they
/// use becomes the async one; any other use that cannot await (module level, a method, a nested
/// function) is left to `module_client_fix`, which refuses it naming the line.
pub(super) fn sync_users<'t>(ctx: &FileContext<'t>, call: Node<'t>, callee: &str) -> Vec<Node<'t>> {
    let Some(c) = module_client(ctx, call, callee) else { return Vec::new() };
    let mut out: Vec<Node<'t>> = Vec::new();
    let mut stack = vec![ctx.tree.root_node()];
    let mut seen = 0;
    while let Some(n) = stack.pop() {
        seen += 1;
        if seen > MAX_NODES {
            break;
        }
        if n.kind() != "identifier" || ctx.node_text(n) != c.name || n.id() == c.left.id() {
            let mut w = n.walk();
            stack.extend(n.children(&mut w));
            continue;
        }
        let Some(d) = enclosing_def(ctx, n) else { continue };
        let top = ctx.up(d).is_some_and(|p| {
            p.kind() == "module"
                || (p.kind() == "decorated_definition" && ctx.up(p).is_some_and(|m| m.kind() == "module"))
        });
        if top
            && d.child(0).is_some_and(|t| t.kind() == "def")
            && !out.iter().any(|o| o.id() == d.id())
            && !binds_locally(ctx, d, &c.name)
        {
            out.push(d);
        }
    }
    out.sort_by_key(|d| d.start_byte());
    out
}

/// How another module reaches the end module's client `cache`: the names it binds to the client itself
/// (`from app.cache import cache`, `... import cache as c`) and the module paths it binds to the client's
/// module, through which `cache_mod.cache` or `app.cache.cache` is the client (`from app import cache as
/// cache_mod`, `import app.cache`).
#[derive(Default)]
pub(super) struct ClientAccess {
    pub(super) names: Vec<String>,
    pub(super) modules: Vec<String>,
}

/// The uses of the module-level client `c` (of the chain's end module) in another module `ctx` (at
/// `path`) that reaches it as `access` says: each use's enclosing function and the edits awaiting it,
/// inserted around it so that they compose with the chain's own (`await seen(await cache.get(...))`):
/// `await cache.get(...)`, or `await (await s3()).op(...)` for a client per event loop. The functions are
/// made async with the chain (a sync one must be a module-level function, which the caller converts like
/// the chain's own); a use that cannot await (module level, a method or nested sync function, a lambda,
/// a generator expression, a value, a function binding the name itself) refuses, naming `path:line`.
pub(super) fn imported_client_uses<'t>(
    ctx: &FileContext<'t>,
    c: &Client<'_, '_>,
    access: &ClientAccess,
    path: &str,
) -> Result<Vec<(Node<'t>, Vec<Edit>)>, String> {
    let is = |p: Node<'_>, field: &str, x: Node<'_>| p.child_by_field_name(field).is_some_and(|y| y.id() == x.id());
    // `cache_mod.cache`, `app.cache.cache`: the client reached through its module.
    let through_module = |n: Node<'_>| {
        n.kind() == "attribute"
            && n.child_by_field_name("attribute").is_some_and(|a| ctx.node_text(a) == c.name)
            && n.child_by_field_name("object").is_some_and(|o| {
                kinds::root_identifier(o).is_some()
                    && access.modules.iter().any(|m| ctx.node_text(o).split_whitespace().collect::<String>() == *m)
            })
    };
    let mut out: Vec<(Node<'t>, Vec<Edit>)> = Vec::new();
    let mut stack = vec![ctx.tree.root_node()];
    let mut seen = 0;
    while let Some(n) = stack.pop() {
        seen += 1;
        if seen > MAX_NODES {
            return Err(format!("{path} is too large to check"));
        }
        if matches!(n.kind(), "import_statement" | "import_from_statement" | "future_import_statement") {
            continue;
        }
        let by_name = n.kind() == "identifier"
            && access.names.iter().any(|a| a == ctx.node_text(n))
            && !ctx.up(n).is_some_and(|p| {
                (p.kind() == "attribute" && is(p, "attribute", n))
                    || (p.kind() == "keyword_argument" && is(p, "name", n))
            });
        if !by_name && !through_module(n) {
            let mut w = n.walk();
            stack.extend(n.children(&mut w));
            continue;
        }
        let name = ctx.node_text(n);
        let at = format!("{path}:{}", n.start_position().row + 1);
        let attr = ctx.up(n).filter(|p| p.kind() == "attribute" && is(*p, "object", n)).ok_or_else(|| {
            format!("the client `{name}` is used as a value at {at}, where its users expect the sync client")
        })?;
        let member = attr.child_by_field_name("attribute").map_or("", |a| ctx.node_text(a));
        if let Some(why) = c.cp.not_awaited.get(member) {
            return Err(format!("`{name}.{member}` at {at}: {why}"));
        }
        let def = enclosing_def(ctx, n).ok_or_else(|| format!("`{name}.{member}` is used at module level at {at}"))?;
        let fname = def.child_by_field_name("name").map_or("", |x| ctx.node_text(x));
        let top = ctx.up(def).is_some_and(|p| {
            p.kind() == "module"
                || (p.kind() == "decorated_definition" && ctx.up(p).is_some_and(|m| m.kind() == "module"))
        });
        // The name the function would have to leave alone: the client's, or the module's (`cache_mod`).
        let bound = kinds::root_identifier(n).map_or(name, |r| ctx.node_text(r));
        if binds_locally(ctx, def, bound) {
            return Err(format!("`{fname}` binds `{bound}` itself, at {at}: its `{name}` may be another object"));
        }
        if def.child(0).is_none_or(|t| t.kind() != "async") && !top {
            return Err(format!(
                "`{name}` is used at {at} by the sync function `{fname}`, a method or nested function, which is not made async"
            ));
        }
        if let Some(kind) = super::chain::deferred_between(ctx, n, def) {
            return Err(format!("`{name}.{member}` is used in a {kind} at {at}"));
        }
        let call = ctx.up(attr).filter(|x| x.kind() == "call" && is(*x, "function", attr));
        if let Some(call) = call
            && kinds::already_awaited(ctx, call)
        {
            return Err(format!("`{name}.{member}(...)` is already awaited at {at}"));
        }
        let kept = c.cp.entered && c.cp.attributes.iter().any(|a| a == member);
        let mut edits = match call {
            Some(call) if !kept => super::chain::await_insertions(ctx, call),
            None if !kept => {
                return Err(format!(
                    "`{name}.{member}` at {at} is not a command call, and has no known async equivalent"
                ));
            }
            _ => Vec::new(),
        };
        // A client per event loop: `s3` (or `store.s3`) is the function giving the loop's client.
        if c.cp.entered {
            edits.push(Edit { range: n.byte_range(), text: format!("(await {name}())") });
        }
        out.push((def, edits));
    }
    out.sort_by_key(|(_, e)| e.first().map_or(0, |e| e.range.start));
    Ok(out)
}

/// Whether the function `def` binds `name` itself (a parameter, an assignment, a `for` or `as` target),
/// where its `name` may not be the module-level client: it is not made async for it (the client's fix
/// then refuses, naming the use).
fn binds_locally(ctx: &FileContext<'_>, def: Node<'_>, name: &str) -> bool {
    let mut stack = vec![def];
    let mut seen = 0;
    while let Some(n) = stack.pop() {
        seen += 1;
        if seen > MAX_NODES {
            return true;
        }
        let mut w = n.walk();
        stack.extend(n.children(&mut w));
        if n.kind() != "identifier" || ctx.node_text(n) != name {
            continue;
        }
        let Some(p) = ctx.up(n) else { continue };
        let is = |field: &str| p.child_by_field_name(field).is_some_and(|c| c.id() == n.id());
        let binding = match p.kind() {
            "parameters"
            | "default_parameter"
            | "typed_parameter"
            | "typed_default_parameter"
            | "lambda_parameters" => {
                p.kind() == "parameters" || is("name") || p.named_child(0).is_some_and(|c| c.id() == n.id())
            }
            "assignment" | "augmented_assignment" | "for_statement" | "for_in_clause" => is("left"),
            "named_expression" => is("name"),
            "as_pattern_target" | "pattern_list" | "tuple_pattern" | "list_pattern" | "global_statement" => true,
            "as_pattern" => is("alias"),
            _ => false,
        };
        if binding {
            return true;
        }
    }
    false
}

/// Every command on the module-level client awaited and the client made the async one; `ctx` is the
/// file with the chain's functions already `async def`. A use in a sync function or at module level,
/// as a value, or of a method the catalog says is not simply awaited refuses it, naming the line.
pub(super) fn module_client_fix(ctx: &FileContext<'_>, c: &Client<'_, '_>) -> Result<Fix, String> {
    let name = c.name.as_str();
    if c.cp.entered {
        return module_entered_fix(ctx, c);
    }
    let mut edits = Vec::new();
    let is = |p: Node<'_>, field: &str, x: Node<'_>| p.child_by_field_name(field).is_some_and(|y| y.id() == x.id());
    for_each_use(ctx, c, |_, attr, member, line| {
        let call = ctx.up(attr).filter(|x| x.kind() == "call" && is(*x, "function", attr)).ok_or_else(|| {
            format!("`{name}.{member}` at line {line} is not a command call, and has no known async equivalent")
        })?;
        match enclosing_def(ctx, call) {
            None => return Err(format!("`{name}.{member}` is called at module level, line {line}")),
            Some(d) if d.child(0).is_none_or(|t| t.kind() != "async") => {
                let f = d.child_by_field_name("name").map_or("", |x| ctx.node_text(x));
                return Err(format!(
                    "`{name}` is also used by the sync function `{f}` at line {line}, which is not made async"
                ));
            }
            Some(_) => await_allowed(ctx, call).map_err(|why| format!("`{name}.{member}` at line {line}: {why}"))?,
        }
        edits.push(Edit { range: call.byte_range(), text: awaited(ctx, call, ctx.node_text(call)) });
        Ok(())
    })?;
    let (module, rest) = c.to.rsplit_once('.').unwrap_or((c.to.as_str(), ""));
    let func = c.ctor.child_by_field_name("function").ok_or("no constructor")?;
    // `import redis` need not import `redis.asyncio`: the submodule is imported by name.
    let to = if ctx.imports.imports_module(module) || ctx.imports.spelling(module).is_none() {
        ctx.imports.module_attr(module, rest, &mut edits, ctx.text)
    } else {
        edits.push(ctx.imports.add_plain(module, ctx.text));
        c.to.clone()
    };
    if let Some(why) = ctx.imports.conflict() {
        return Err(why);
    }
    edits.push(Edit { range: func.byte_range(), text: to.clone() });
    super::normalize(&mut edits);
    let title = format!("Use one module-level `{to}` as `{name}`, awaiting its commands");
    Ok(Fix { id: FixId::AsyncDriver, title, applicability: Applicability::Unsafe, edits })
}

// `s3 = boto3.client("s3")` at module level → an aioboto3 client per event loop, entered the first time
// the loop uses it: `s3` becomes `async def s3()`, which gives the running loop's client, and every
// `s3.op(...)` becomes `await (await s3()).op(...)`. An aiobotocore client's connections belong to the
// loop that entered it, so one shared by every loop would fail in the second; entered per call it would
// pay a new connection pool per call. The client is entered in an async generator (`async with ... as
// client: yield client`) kept with it: the loop's `shutdown_asyncgens` (run by `asyncio.run` and
// uvicorn) closes it, where a client left open would be reported unclosed by aiohttp at exit.

/// A module-level client of an `entered` counterpart (`boto3.client(...)`) made an async client per
/// event loop, every operation on it awaited. Only constant arguments move into the function (they were
/// evaluated at import); a use at module level, in a sync function, as a value, or listed in the
/// catalog's `not_awaited` refuses it, naming the line.
fn module_entered_fix(ctx: &FileContext<'_>, c: &Client<'_, '_>) -> Result<Fix, String> {
    let name = c.name.as_str();
    let text = ctx.text;
    let args = c.ctor.child_by_field_name("arguments").filter(|a| a.kind() == "argument_list").ok_or("no arguments")?;
    let mut w = args.walk();
    for a in args.named_children(&mut w) {
        let value = if a.kind() == "keyword_argument" { a.child_by_field_name("value") } else { Some(a) };
        if a.kind() != "comment" && !value.is_some_and(super::httpx::is_constant) {
            return Err(format!(
                "`{name}` is made at import with `{}`, which is not a constant: made when each event loop first uses it, it could differ",
                short(ctx.node_text(a))
            ));
        }
    }
    let (session, clients, entered) =
        (format!("{name}_session"), format!("{name}_clients"), format!("_{name}_entered"));
    for taken in [&session, &clients, &entered] {
        if super::workspace::contains_word(text, taken) {
            return Err(format!("`{taken}`, the name the per-loop client needs, is taken"));
        }
    }
    let mut edits = Vec::new();
    let is = |p: Node<'_>, field: &str, x: Node<'_>| p.child_by_field_name(field).is_some_and(|y| y.id() == x.id());
    let mut rewritten: Vec<std::ops::Range<usize>> = Vec::new();
    for_each_use(ctx, c, |n, attr, member, line| {
        match enclosing_def(ctx, n) {
            None => return Err(format!("`{name}.{member}` is used at module level, line {line}")),
            Some(d) if d.child(0).is_none_or(|t| t.kind() != "async") => {
                let f = d.child_by_field_name("name").map_or("", |x| ctx.node_text(x));
                return Err(format!(
                    "`{name}` is also used by the sync function `{f}` at line {line}, which is not made async"
                ));
            }
            Some(_) => {}
        }
        if inside_lambda(ctx, n, enclosing_def(ctx, n).expect("checked")) {
            return Err(format!("`{name}.{member}` is used in a lambda at line {line}"));
        }
        let call = ctx.up(attr).filter(|x| x.kind() == "call" && is(*x, "function", attr));
        let kept = c.cp.attributes.iter().any(|a| a == member);
        let (range, new) = match call {
            // `s3.op(...)` → `await (await s3()).op(...)`.
            Some(call) if !kept => {
                await_allowed(ctx, call).map_err(|why| format!("`{name}.{member}` at line {line}: {why}"))?;
                let rest = &text[n.end_byte()..call.end_byte()];
                (call.byte_range(), awaited(ctx, call, &format!("(await {name}()){rest}")))
            }
            None if !kept => {
                return Err(format!(
                    "`{name}.{member}` at line {line} is not an operation call, and has no known async equivalent"
                ));
            }
            // `s3.exceptions.NoSuchKey`, `s3.can_paginate(...)`: the same on the async client.
            _ => {
                await_allowed(ctx, attr).map_err(|why| format!("`{name}.{member}` at line {line}: {why}"))?;
                (n.byte_range(), format!("(await {name}())"))
            }
        };
        if rewritten.iter().any(|r| r.start < range.end && range.start < r.end) {
            return Err(format!("`{name}` is used inside another use of it at line {line}"));
        }
        rewritten.push(range.clone());
        edits.push(Edit { range, text: new });
        Ok(())
    })?;
    let mut first = Vec::new();
    let get_loop = ctx.imports.module_attr("asyncio", "get_running_loop", &mut first, text);
    let event_loop = ctx.imports.module_attr("asyncio", "AbstractEventLoop", &mut first, text);
    let (class, _) = c.to.split_once("()").unwrap_or((c.to.as_str(), ""));
    let (module, attr) = class.rsplit_once('.').unwrap_or((class, ""));
    let make_session = ctx.imports.module_attr(module, attr, &mut first, text);
    if let Some(why) = ctx.imports.conflict() {
        return Err(why);
    }
    if let Some(f) = c.ctor.child_by_field_name("function")
        && let Some(root) = kinds::root_identifier(f)
        && let Some(import) = kinds::unused_import(ctx, ctx.node_text(root), Some(f))
    {
        kinds::remove_statement(ctx, import, &mut first);
    }
    edits.extend(first);
    let method = c.to.rsplit_once("().").map_or("client", |p| p.1);
    let nl = super::imports::newline(text);
    let lines = [
        "# aioboto3's session is made at import; each running event loop enters its own client the first".into(),
        "# time it uses one (its connections belong to that loop), and closes it when it shuts down.".into(),
        format!("{session} = {make_session}()"),
        format!("{clients}: dict[{event_loop}, tuple] = {{}}"),
        String::new(),
        String::new(),
        format!("async def {entered}():"),
        "    # An async generator: the loop's shutdown (`shutdown_asyncgens`, which `asyncio.run` and uvicorn".into(),
        "    # run) closes it, and the client with it.".into(),
        format!("    async with {session}.{method}{} as client:", ctx.node_text(args)),
        "        yield client".into(),
        String::new(),
        String::new(),
        format!("async def {name}():"),
        "    \"\"\"The running event loop's own client, entered the first time the loop uses one.\"\"\"".into(),
        format!("    loop = {get_loop}()"),
        format!("    if loop not in {clients}:"),
        format!("        for closed in [other for other in {clients} if other.is_closed()]:"),
        format!("            del {clients}[closed]"),
        format!("        entered = {entered}()"),
        "        client = await entered.__anext__()".into(),
        format!("        if loop in {clients}:"),
        "            # Another task of the loop made one while this one waited.".into(),
        "            await entered.aclose()".into(),
        "        else:".into(),
        format!("            {clients}[loop] = (client, entered)"),
        format!("    return {clients}[loop][0]"),
    ];
    let mut new = lines.join(nl);
    new.push_str(&super::blank_lines_after(text, c.stmt.end_byte(), nl));
    edits.push(Edit { range: c.stmt.byte_range(), text: new });
    super::normalize(&mut edits);
    let title = format!("Use an `{}` client per event loop as `{name}()`, awaiting its operations", c.cp.package);
    Ok(Fix { id: FixId::AsyncDriver, title, applicability: Applicability::Unsafe, edits })
}

// ------------------------------------------------------------------------------ client made in the function
// `s3 = boto3.client("s3")` followed by its uses becomes `async with aioboto3.Session().client("s3") as s3:`
// around them (the catalog's `entered` counterparts), every operation on it awaited.

/// `name = ctor(...)` (or `with ctor(...) as name:`) in the function that makes the call `name.method(...)`,
/// where the catalog's class counterpart of the call's class maps `ctor` to an async client that is
/// entered (or says why there is none).
pub(super) struct LocalClient<'t, 'c> {
    /// The `name = ...` expression statement, or the `with` statement.
    pub(super) stmt: Node<'t>,
    bound: Bound<'t>,
    ctor: Node<'t>,
    def: Node<'t>,
    left: Node<'t>,
    name: String,
    to: String,
    cp: &'c Counterpart,
}

/// The client made in the enclosing function that the call `name.method(...)` (the blocking `callee`,
/// `botocore.client.BaseClient.put_object`) is made on.
pub(super) fn local_client<'t, 'c>(ctx: &FileContext<'t>, call: Node<'t>, callee: &str) -> Option<LocalClient<'t, 'c>>
where
    't: 'c,
{
    let (name, cp) = client_call(ctx, call, callee)?;
    if !cp.entered && cp.refused.is_none() {
        return None;
    }
    let class = cp.class.as_str();
    let def = enclosing_def(ctx, call)?;
    let body = def.child_by_field_name("body")?;
    let mut found = None;
    let mut stack = vec![body];
    let mut seen = 0;
    while let Some(n) = stack.pop() {
        seen += 1;
        if seen > MAX_NODES {
            return None;
        }
        if matches!(n.kind(), "function_definition" | "class_definition" | "lambda") {
            continue;
        }
        let mut c = n.walk();
        stack.extend(n.children(&mut c));
        if n.kind() != "call" {
            continue;
        }
        let Some(q) = n
            .child_by_field_name("function")
            .and_then(|f| ctx.imports.qualified(ctx.node_text(f)))
            .map(|q| ctx.catalog.canonical(&q))
        else {
            continue;
        };
        if ctx.catalog.returns(&q) != Some(class) {
            continue;
        }
        let Some((bound, left)) = binding(ctx, n) else { continue };
        if ctx.node_text(left) != name {
            continue;
        }
        if found.is_some() {
            return None;
        }
        let stmt = match bound {
            Bound::Assigned(a) => ctx.up(a)?,
            Bound::With(w) => w,
        };
        let to = cp.constructors.get(&q).cloned().unwrap_or_default();
        found = Some(LocalClient { stmt, bound, ctor: n, def, left, name: name.to_string(), to, cp });
    }
    found
}

/// The client made the async one in `async with`, every operation on it awaited; `ctx` is the file with
/// the chain's functions already `async def`. What has no exact equivalent refuses it, naming the line:
/// a use of the client as a value, in a nested function, after its block or listed in the catalog's
/// `not_awaited`.
pub(super) fn local_client_fix(ctx: &FileContext<'_>, c: &LocalClient<'_, '_>) -> Result<Fix, String> {
    if let Some(why) = &c.cp.refused {
        return Err(why.clone());
    }
    let name = c.name.as_str();
    let text = ctx.text;
    if c.to.is_empty() {
        let made = ctx.node_text(c.ctor.child_by_field_name("function").ok_or("no constructor")?);
        return Err(format!("`{made}(...)` has no `{}` counterpart loopsafe knows", c.cp.package));
    }
    // The statements that the `async with` will hold: those following the assignment in its block, up to
    // the last one using the client.
    let (block, after): (Node<'_>, Vec<Node<'_>>) = match c.bound {
        Bound::Assigned(_) => {
            let block = ctx.up(c.stmt).filter(|b| b.kind() == "block").ok_or("the client is not made in a block")?;
            let mut w = block.walk();
            let after = block.named_children(&mut w).filter(|s| s.start_byte() >= c.stmt.end_byte()).collect();
            (block, after)
        }
        Bound::With(w) => (w.child_by_field_name("body").ok_or("the `with` has no body")?, Vec::new()),
    };
    let mut last: Option<Node<'_>> = None;
    let mut edits = Vec::new();
    let is = |p: Node<'_>, field: &str, x: Node<'_>| p.child_by_field_name(field).is_some_and(|y| y.id() == x.id());
    let mut stack = vec![c.def];
    let mut seen = 0;
    while let Some(n) = stack.pop() {
        seen += 1;
        if seen > MAX_NODES {
            return Err("the function is too large to check".into());
        }
        let mut w = n.walk();
        stack.extend(n.children(&mut w));
        if n.kind() != "identifier" || ctx.node_text(n) != name || n.id() == c.left.id() {
            continue;
        }
        let line = n.start_position().row + 1;
        if enclosing_def(ctx, n).is_none_or(|d| d.id() != c.def.id()) || inside_lambda(ctx, n, c.def) {
            return Err(format!("the client `{name}` is used in a nested function at line {line}"));
        }
        match c.bound {
            Bound::Assigned(_) => {
                let Some(s) = after.iter().find(|s| s.start_byte() <= n.start_byte() && n.end_byte() <= s.end_byte())
                else {
                    return Err(format!(
                        "the client `{name}` is used at line {line}, outside the statements that follow it in its block, which the `async with` would hold"
                    ));
                };
                if last.is_none_or(|l| l.end_byte() < s.end_byte()) {
                    last = Some(*s);
                }
            }
            Bound::With(_) if !(block.start_byte() <= n.start_byte() && n.end_byte() <= block.end_byte()) => {
                return Err(format!("the client `{name}` is used after the `with` block at line {line}"));
            }
            Bound::With(_) => {}
        }
        let Some(attr) = ctx.up(n).filter(|p| p.kind() == "attribute" && is(*p, "object", n)) else {
            return Err(format!(
                "the client `{name}` is used as a value at line {line} (passed on, returned, stored or bound again), where its users expect the sync one"
            ));
        };
        let member = attr.child_by_field_name("attribute").map_or("", |a| ctx.node_text(a));
        if let Some(why) = c.cp.not_awaited.get(member) {
            return Err(format!("`{name}.{member}` at line {line}: {why}"));
        }
        if c.cp.attributes.iter().any(|a| a == member) {
            continue;
        }
        let call = ctx.up(attr).filter(|x| x.kind() == "call" && is(*x, "function", attr)).ok_or_else(|| {
            format!("`{name}.{member}` at line {line} is not an operation call, and has no known async equivalent")
        })?;
        await_allowed(ctx, call).map_err(|why| format!("`{name}.{member}` at line {line}: {why}"))?;
        // Insertions, not a replacement: the lines of a call spanning several are re-indented too.
        let (start, end) = (call.start_byte(), call.end_byte());
        if awaited(ctx, call, "").starts_with('(') {
            edits.push(Edit { range: start..start, text: "(await ".into() });
            edits.push(Edit { range: end..end, text: ")".into() });
        } else {
            edits.push(Edit { range: start..start, text: "await ".into() });
        }
    }
    let scoped = ctx.imports_at(c.stmt);
    let (class, rest) = c.to.split_once("()").unwrap_or((c.to.as_str(), ""));
    let (module, attr) = class.rsplit_once('.').unwrap_or((class, ""));
    let session = scoped.module_attr(module, attr, &mut edits, text);
    if let Some(why) = scoped.conflict() {
        return Err(why);
    }
    let to = if c.to.contains("()") { format!("{session}(){rest}") } else { session };
    let func = c.ctor.child_by_field_name("function").ok_or("no constructor")?;
    let args = c.ctor.child_by_field_name("arguments").ok_or("no arguments")?;
    match c.bound {
        Bound::Assigned(_) => {
            let last = last.ok_or_else(|| format!("the client `{name}` is not used after it is made"))?;
            let start = crate::syntax::line_start(text, c.stmt.start_byte());
            let indent = &text[start..c.stmt.start_byte()];
            if !indent.chars().all(|ch| ch == ' ' || ch == '\t') {
                return Err(format!("the client `{name}` is made on a line with other code"));
            }
            // The indentation unit: this block's own, past the line of the statement that opens it.
            let header = ctx.up(block).ok_or("the block has no statement")?;
            let unit = super::block::indent_unit(text, header, c.stmt, indent);
            let mut strings = Vec::new();
            for s in after.iter().take_while(|s| s.start_byte() <= last.start_byte()) {
                strings.extend(super::block::multiline_strings(ctx, *s).ok_or("the function is too large to check")?);
            }
            let first_line = text[c.stmt.end_byte()..].find('\n').map_or(text.len(), |i| c.stmt.end_byte() + i + 1);
            let mut at = first_line;
            while at < last.end_byte() {
                let end = text[at..].find('\n').map_or(text.len(), |i| at + i + 1);
                let in_string = strings.iter().any(|r| r.start < at && at < r.end);
                if !in_string && !text[at..end].trim().is_empty() {
                    edits.push(Edit { range: at..at, text: unit.clone() });
                }
                at = end;
            }
            edits.push(Edit {
                range: c.stmt.byte_range(),
                text: format!("async with {to}{} as {name}:", ctx.node_text(args)),
            });
        }
        Bound::With(w) => {
            edits.push(Edit { range: func.byte_range(), text: to.clone() });
            let with_kw = w.child(0).ok_or("no `with`")?;
            edits.push(Edit { range: with_kw.start_byte()..with_kw.start_byte(), text: "async ".into() });
        }
    }
    if let Some(root) = kinds::root_identifier(func)
        && let Some(import) = kinds::unused_import(ctx, ctx.node_text(root), Some(func))
    {
        kinds::remove_statement(ctx, import, &mut edits);
    }
    super::normalize(&mut edits);
    let shown = c.to.split_once("()").map_or(c.to.clone(), |(a, b)| format!("{a}(){b}"));
    let title = format!("Use `{shown}(...)` in `async with` as `{name}`, awaiting its operations");
    Ok(Fix { id: FixId::AsyncDriver, title, applicability: Applicability::Unsafe, edits })
}

// ------------------------------------------------------------------------------ client-side binding
// psycopg2 → psycopg 3's `AsyncConnection` with `cursor_factory=psycopg.AsyncClientCursor` (the catalog's
// `client_binding`): the connection's keywords and cursors, the queries, and the sync library's names in the
// function and the file, checked and rewritten where tests/fix_safety/psycopg2_vs_psycopg3.py shows them alike.

/// The arguments of the async connect: `cursor_factory=RealDictCursor` → `row_factory=psycopg.rows.dict_row`,
/// and the client-side cursor class added (`cursor_factory=psycopg.AsyncClientCursor`).
fn client_connect_args(
    ctx: &FileContext<'_>,
    cb: &ClientBinding,
    args: Node<'_>,
    scoped: &super::Imports,
    edits: &mut Vec<Edit>,
    bound_names: &mut Vec<std::ops::Range<usize>>,
) -> Result<String, String> {
    let mut parts: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    let mut last_end = None;
    let mut c = args.walk();
    for a in args.named_children(&mut c) {
        if a.kind() == "comment" {
            continue;
        }
        last_end = Some(a.end_byte());
        if a.kind() == "keyword_argument"
            && a.child_by_field_name("name").is_some_and(|n| ctx.node_text(n) == cb.keyword)
        {
            parts.push((a.byte_range(), row_factory(ctx, cb, a, scoped, edits, bound_names)?));
        }
    }
    let (module, rest) = cb.value.split_once('.').unwrap_or((cb.value.as_str(), ""));
    let value = scoped.module_attr(module, rest, edits, ctx.text);
    let at = last_end.unwrap_or(args.start_byte() + 1);
    let sep = if last_end.is_some() { ", " } else { "" };
    parts.push((at..at, format!("{sep}{}={value}", cb.keyword)));
    let mut out = String::new();
    let mut from = args.start_byte();
    for (r, t) in parts {
        out.push_str(&ctx.text[from..r.start]);
        out.push_str(&t);
        from = r.end;
    }
    out.push_str(&ctx.text[from..args.end_byte()]);
    Ok(out)
}

/// `cursor_factory=V` → `row_factory=R`, where the catalog maps `V` (qualified) to `R`.
fn row_factory(
    ctx: &FileContext<'_>,
    cb: &ClientBinding,
    kw: Node<'_>,
    scoped: &super::Imports,
    edits: &mut Vec<Edit>,
    bound_names: &mut Vec<std::ops::Range<usize>>,
) -> Result<String, String> {
    let line = kw.start_position().row + 1;
    let value = kw.child_by_field_name("value").ok_or("a keyword without a value")?;
    let to = ctx.imports.qualified(ctx.node_text(value)).and_then(|q| cb.row_factories.get(&q)).ok_or_else(|| {
        format!(
            "`{}={}` at line {line} has no psycopg 3 row factory loopsafe knows: convert it by hand",
            cb.keyword,
            ctx.node_text(value)
        )
    })?;
    bound_names.push(value.byte_range());
    let (module, rest) = to.split_once('.').unwrap_or((to.as_str(), ""));
    Ok(format!("row_factory={}", scoped.module_attr(module, rest, edits, ctx.text)))
}

/// A call on the connection or a cursor, for the client-binding rewrite: `conn.cursor(...)`
/// (`cursor_ctor`) takes no argument but `cursor_factory=` (a named cursor is a server-side one), and the
/// query of `cur.execute(q, ...)` is one statement without `IN %s`.
fn client_call_args(
    ctx: &FileContext<'_>,
    cb: &ClientBinding,
    cursor_ctor: bool,
    call: Node<'_>,
    edits: &mut Vec<Edit>,
    bound_names: &mut Vec<std::ops::Range<usize>>,
) -> Result<(), String> {
    let line = call.start_position().row + 1;
    let Some(args) = call.child_by_field_name("arguments").filter(|a| a.kind() == "argument_list") else {
        return Err(format!("the arguments at line {line} are a generator expression"));
    };
    let member = call
        .child_by_field_name("function")
        .and_then(|f| f.child_by_field_name("attribute"))
        .map_or("", |a| ctx.node_text(a));
    let mut c = args.walk();
    let named: Vec<Node<'_>> = args.named_children(&mut c).filter(|a| a.kind() != "comment").collect();
    if cursor_ctor {
        for a in named {
            let k = a.child_by_field_name("name").filter(|_| a.kind() == "keyword_argument").map(|n| ctx.node_text(n));
            if k != Some(cb.keyword.as_str()) {
                return Err(format!(
                    "`{}` at line {line}: a named, scrollable or held cursor is a server-side one in psycopg 3, which loopsafe does not write",
                    ctx.node_text(call)
                ));
            }
            let scoped = ctx.imports_at(call);
            let text = row_factory(ctx, cb, a, &scoped, edits, bound_names)?;
            if let Some(why) = scoped.conflict() {
                return Err(why);
            }
            edits.push(Edit { range: a.byte_range(), text });
        }
        return Ok(());
    }
    if member == "execute" {
        let q = named.first().filter(|q| q.kind() != "keyword_argument").ok_or_else(|| {
            format!("the query at line {line} is passed by keyword or not at all: {}", cb.query_unknown)
        })?;
        check_query(ctx, cb, *q)?;
    }
    Ok(())
}

/// The query `q` of an `execute` is a string literal, or a module-level string constant, with one
/// statement and no `IN %s`.
fn check_query(ctx: &FileContext<'_>, cb: &ClientBinding, q: Node<'_>) -> Result<(), String> {
    let line = q.start_position().row + 1;
    let unknown = || format!("the query at line {line}: {}", cb.query_unknown);
    let literal = match q.kind() {
        "string" | "concatenated_string" => q,
        "identifier" => module_string(ctx, ctx.node_text(q), q).ok_or_else(unknown)?,
        _ => return Err(unknown()),
    };
    let sql = string_value(ctx, literal).ok_or_else(unknown)?.to_lowercase();
    if sql.trim_end_matches(|c: char| c.is_whitespace() || c == ';').contains(';') {
        return Err(format!("the query at line {line}: {}", cb.several_statements));
    }
    let b = sql.as_bytes();
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] == b'%' && b[i + 1] == b'%' {
            i += 2;
            continue;
        }
        if b[i] == b'%' && matches!(b[i + 1], b's' | b'(') {
            let before = sql[..i].trim_end();
            let word = before.len() >= 2 && before.ends_with("in");
            let alone = before.len() == 2
                || !before.as_bytes()[before.len() - 3].is_ascii_alphanumeric()
                    && before.as_bytes()[before.len() - 3] != b'_';
            if word && alone {
                return Err(format!("the query at line {line}: {}", cb.in_tuple));
            }
        }
        i += 1;
    }
    Ok(())
}

/// The text of a string literal or of literals concatenated (`None` for an f-string with a value in it,
/// or a bytes literal).
fn string_value(ctx: &FileContext<'_>, n: Node<'_>) -> Option<String> {
    let mut out = String::new();
    let parts: Vec<Node<'_>> = if n.kind() == "concatenated_string" {
        let mut c = n.walk();
        n.named_children(&mut c).filter(|p| p.kind() != "comment").collect()
    } else {
        vec![n]
    };
    for p in parts {
        if p.kind() != "string" {
            return None;
        }
        let mut c = p.walk();
        let kids: Vec<Node<'_>> = p.children(&mut c).collect();
        let (start, end) = (kids.first()?, kids.last()?);
        if kids.iter().any(|k| k.kind() == "interpolation") || ctx.node_text(*start).to_lowercase().contains('b') {
            return None;
        }
        out.push_str(ctx.text.get(start.end_byte()..end.start_byte())?);
    }
    Some(out)
}

/// The string literal a module-level constant `name` is bound to, where that is its only top-level
/// binding and the function around `site` binds no `name` of its own.
fn module_string<'t>(ctx: &FileContext<'t>, name: &str, site: Node<'t>) -> Option<Node<'t>> {
    let root = ctx.tree.root_node();
    let mut c = root.walk();
    let mut found = None;
    for s in root.named_children(&mut c) {
        let mut stack = vec![s];
        while let Some(n) = stack.pop() {
            if matches!(n.kind(), "function_definition" | "class_definition" | "lambda") {
                continue;
            }
            if n.kind() == "identifier" && ctx.node_text(n) == name && binds(ctx, n) {
                let a = ctx.up(n).filter(|a| a.kind() == "assignment" && s.kind() == "expression_statement");
                let right = a.and_then(|a| a.child_by_field_name("right"));
                if found.is_some() || right.is_none_or(|r| !matches!(r.kind(), "string" | "concatenated_string")) {
                    return None;
                }
                found = right;
            }
            let mut c = n.walk();
            stack.extend(n.children(&mut c));
        }
    }
    let def = enclosing_def(ctx, site)?;
    let mut stack = vec![def];
    let mut seen = 0;
    while let Some(n) = stack.pop() {
        seen += 1;
        if seen > MAX_NODES || (n.kind() == "identifier" && ctx.node_text(n) == name && binds(ctx, n)) {
            return None;
        }
        let mut c = n.walk();
        stack.extend(n.children(&mut c));
    }
    found
}

/// Whether the identifier `n` is bound there (assigned, a parameter, a loop or `with`/`except` target,
/// declared `global`).
fn binds(ctx: &FileContext<'_>, n: Node<'_>) -> bool {
    let Some(p) = ctx.up(n) else { return false };
    let is = |f: &str| p.child_by_field_name(f).is_some_and(|x| x.id() == n.id());
    match p.kind() {
        "assignment" | "augmented_assignment" | "for_statement" | "for_in_clause" => is("left"),
        "named_expression" | "default_parameter" | "typed_default_parameter" => is("name"),
        "parameters" | "lambda_parameters" | "global_statement" | "nonlocal_statement" | "pattern_list"
        | "tuple_pattern" | "list_pattern" | "as_pattern_target" | "typed_parameter" => true,
        "as_pattern" => is("alias"),
        _ => false,
    }
}

/// The sync library's names: in the function `def`, its DB-API classes become the async library's
/// (`psycopg2.OperationalError` → `psycopg.OperationalError`) and any other refuses the rewrite; in the
/// file, a `register_*` adapter refuses it, and so does an `except` naming one of its classes outside the
/// function (it would no longer catch what the function raises). The imports the function alone used go.
fn client_names(
    ctx: &FileContext<'_>,
    cb: &ClientBinding,
    cp: &Counterpart,
    def: Node<'_>,
    func: Node<'_>,
    bound_names: &[std::ops::Range<usize>],
    edits: &mut Vec<Edit>,
) -> Result<(), String> {
    let library = cp.connect.split('.').next().unwrap_or_default();
    let inside = |n: Node<'_>, r: std::ops::Range<usize>| r.start <= n.start_byte() && n.end_byte() <= r.end;
    let mut roots: Vec<String> = Vec::new();
    let mut stack = vec![ctx.tree.root_node()];
    let mut seen = 0;
    while let Some(n) = stack.pop() {
        seen += 1;
        if seen > MAX_NODES {
            return Err("the file is too large to check".into());
        }
        if matches!(n.kind(), "import_statement" | "import_from_statement" | "future_import_statement") {
            continue;
        }
        if !matches!(n.kind(), "identifier" | "attribute") {
            let mut c = n.walk();
            stack.extend(n.children(&mut c));
            continue;
        }
        let parent = ctx.up(n);
        let field = |f: &str| parent.and_then(|p| p.child_by_field_name(f)).is_some_and(|x| x.id() == n.id());
        let pk = parent.map_or("", |p| p.kind());
        // Part of a longer dotted name, or a keyword's name: the longer one is looked at.
        if (pk == "attribute" && (field("object") || field("attribute"))) || (pk == "keyword_argument" && field("name"))
        {
            if n.kind() == "attribute" {
                let mut c = n.walk();
                stack.extend(n.children(&mut c));
            }
            continue;
        }
        let text = ctx.node_text(n);
        let q = text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
            .then(|| ctx.imports.qualified(text))
            .flatten()
            .filter(|q| q == library || q.starts_with(&format!("{library}.")));
        let Some(q) = q else {
            if n.kind() == "attribute" {
                let mut c = n.walk();
                stack.extend(n.children(&mut c));
            }
            continue;
        };
        let line = n.start_position().row + 1;
        let last = q.rsplit('.').next().unwrap_or_default();
        if last.starts_with("register_") {
            return Err(format!("`{text}` at line {line}: {}", cb.register));
        }
        let root = text.split('.').next().unwrap_or(text).to_string();
        if !inside(n, def.byte_range()) {
            // An `except` whose `try` calls the function (by its name, in this file).
            let mut m = parent;
            while let Some(p) = m {
                if p.kind() == "except_clause"
                    && let Some(body) = ctx.up(p).and_then(|t| t.child_by_field_name("body"))
                    && calls_def(ctx, body, def)
                {
                    return Err(format!(
                        "line {line} catches `{text}` around a call of the converted function, which raises psycopg 3's classes"
                    ));
                }
                m = ctx.up(p);
            }
            continue;
        }
        if n.id() == func.id() || bound_names.iter().any(|r| inside(n, r.clone())) {
            roots.push(root);
            continue;
        }
        let rest = q.strip_prefix(library).and_then(|r| r.strip_prefix('.')).unwrap_or_default();
        if !cb.same_names.iter().any(|s| s == rest) {
            return Err(format!("`{text}` at line {line} has no `{}` equivalent that loopsafe writes", cp.package));
        }
        let scoped = ctx.imports_at(n);
        let to = scoped.module_attr(&cp.package, rest, edits, ctx.text);
        if let Some(why) = scoped.conflict() {
            return Err(why);
        }
        edits.push(Edit { range: n.byte_range(), text: to });
        roots.push(root);
    }
    roots.sort();
    roots.dedup();
    for r in roots {
        let root_used = used_outside(ctx, &r, def);
        let top = ctx.tree.root_node();
        let mut c = top.walk();
        for s in top.named_children(&mut c) {
            let mut c = s.walk();
            let names: Vec<Node<'_>> = s.children_by_field_name("name", &mut c).collect();
            // `import psycopg2.extras` goes too where nothing outside the function uses `psycopg2.extras`.
            let binds_r = match (s.kind(), names.as_slice()) {
                ("import_statement", [n]) if n.kind() == "dotted_name" => {
                    let d = ctx.node_text(*n);
                    (d == r && !root_used)
                        || (d.starts_with(&format!("{r}.")) && (!root_used || !dotted_used_outside(ctx, d, def)))
                }
                ("import_from_statement", [n]) => n.kind() == "dotted_name" && ctx.node_text(*n) == r && !root_used,
                _ => false,
            };
            if binds_r {
                kinds::remove_statement(ctx, s, edits);
            }
        }
    }
    Ok(())
}

/// Whether a call in `body` calls the function `def` by its name (`f(...)`, `module.f(...)`).
fn calls_def(ctx: &FileContext<'_>, body: Node<'_>, def: Node<'_>) -> bool {
    let Some(name) = def.child_by_field_name("name").map(|n| ctx.node_text(n)) else { return true };
    let dotted = format!(".{name}");
    kinds::any_node_bounded(
        body,
        |_| false,
        |n| {
            n.kind() == "call"
                && n.child_by_field_name("function").is_some_and(|f| {
                    let f = ctx.node_text(f);
                    f == name || f.ends_with(&dotted)
                })
        },
    )
}

/// Whether a node of the file outside `def` and the import statements, which are not looked into, is
/// one `hit` holds for; also when the file is too large to look through.
fn outside_def(ctx: &FileContext<'_>, def: Node<'_>, hit: impl FnMut(Node<'_>) -> bool) -> bool {
    let skip = |n: Node<'_>| {
        n.id() == def.id()
            || matches!(n.kind(), "import_statement" | "import_from_statement" | "future_import_statement")
    };
    kinds::any_node_bounded(ctx.tree.root_node(), skip, hit)
}

/// Whether a dotted name `d` (`psycopg2.extras`) is used, alone or as a prefix, outside `def` and the
/// import statements; also when the file is too large to look through.
fn dotted_used_outside(ctx: &FileContext<'_>, d: &str, def: Node<'_>) -> bool {
    let prefix = format!("{d}.");
    outside_def(ctx, def, |n| {
        n.kind() == "attribute" && {
            let t = ctx.node_text(n);
            t == d || t.starts_with(&prefix)
        }
    })
}

/// Whether `name` is used in the file outside `def` and the import statements (an attribute's or a
/// keyword's name aside); also when the file is too large to look through.
fn used_outside(ctx: &FileContext<'_>, name: &str, def: Node<'_>) -> bool {
    outside_def(ctx, def, |n| {
        if n.kind() == "identifier" && ctx.node_text(n) == name {
            let p = ctx.up(n);
            let named = |f: &str| p.and_then(|p| p.child_by_field_name(f)).is_some_and(|x| x.id() == n.id());
            let k = p.map_or("", |p| p.kind());
            return !((k == "attribute" && named("attribute")) || (k == "keyword_argument" && named("name")));
        }
        n.kind() == "string_content" && ctx.node_text(n) == name
    })
}

#[cfg(test)]
mod tests {
    use crate::catalog::FixKind;
    use crate::fix::FixId;
    use crate::fix::tests::fixes_at;
    use crate::rules::Rule;

    /// The text after the async-driver fix of the call to `callee` in `text`, or the reasons it was refused.
    fn convert(text: &str, callee: &str) -> Result<String, String> {
        let fixes = fixes_at(text, callee, Rule::BlockingDatabase, callee, vec![FixKind::AsyncDriver], false);
        match fixes.fixes.iter().find(|f| f.id == FixId::AsyncDriver) {
            Some(f) => Ok(crate::fix::apply(text, &f.edits).unwrap()),
            None => {
                Err(fixes.refused.iter().filter(|r| r.id == FixId::AsyncDriver).map(|r| r.reason.clone()).collect())
            }
        }
    }

    fn driver(text: &str) -> Result<String, String> {
        convert(text, "sqlite3.connect")
    }

    #[test]
    fn a_connection_and_its_cursors_are_awaited() {
        let text = "import sqlite3\n\n\nasync def load(p):\n    conn = sqlite3.connect(p, timeout=5)\n    cur = conn.cursor()\n    cur.execute(\"select 1\")\n    one = cur.fetchone()[0]\n    n = conn.execute(\"select 2\").fetchall()\n    conn.commit()\n    conn.close()\n    return one, n, cur.rowcount\n";
        assert_eq!(
            driver(text).unwrap(),
            "import aiosqlite\n\n\nasync def load(p):\n    conn = await aiosqlite.connect(p, timeout=5)\n    cur = await conn.cursor()\n    await cur.execute(\"select 1\")\n    one = (await cur.fetchone())[0]\n    n = await (await conn.execute(\"select 2\")).fetchall()\n    await conn.commit()\n    await conn.close()\n    return one, n, cur.rowcount\n"
        );
    }

    #[test]
    fn a_with_block_commits_at_its_end() {
        let text = "import sqlite3\n\n\nasync def save(p, v):\n    with sqlite3.connect(p) as conn:\n        conn.execute(\"insert into t values (?)\", (v,))\n    return v\n";
        assert_eq!(
            driver(text).unwrap(),
            "import aiosqlite\n\n\nasync def save(p, v):\n    async with aiosqlite.connect(p) as conn:\n        await conn.execute(\"insert into t values (?)\", (v,))\n        await conn.commit()\n    return v\n"
        );
        let ret = "import sqlite3\n\n\nasync def count(p):\n    with sqlite3.connect(p) as conn:\n        rows = conn.execute(\"select * from t\").fetchall()\n        return len(rows)\n";
        assert!(driver(ret).unwrap().contains("        await conn.commit()\n        return len(rows)\n"));
    }

    #[test]
    fn what_it_cannot_convert_exactly_refuses_naming_the_line() {
        let head = "import sqlite3\n\n\nasync def f(p):\n";
        let cases = [
            ("    conn = sqlite3.connect(p)\n    helper(conn)\n    conn.close()\n", "used as a value at line 6"),
            (
                "    conn = sqlite3.connect(p)\n    for row in conn.execute('x'):\n        pass\n    conn.close()\n",
                "returns at line 6",
            ),
            (
                "    conn = sqlite3.connect(p)\n    cur = conn.execute('x')\n    for row in cur:\n        pass\n    conn.close()\n",
                "iterated at line 7",
            ),
            ("    conn = sqlite3.connect(p)\n    return conn.execute('x').fetchall()\n", "never closed in `f`"),
            (
                "    with sqlite3.connect(p) as conn:\n        conn.execute('x')\n    conn.close()\n",
                "used after the `with` block at line 7",
            ),
            (
                "    with sqlite3.connect(p) as conn:\n        if p:\n            return 1\n        conn.execute('x')\n",
                "returns at line 7",
            ),
            ("    conn = sqlite3.connect(p, 5.0)\n    conn.close()\n", "takes 1 positional argument"),
            (
                "    conn = sqlite3.connect(p)\n    conn.create_function('f', 1, len)\n    conn.close()\n",
                "`conn.create_function(...)` at line 6",
            ),
            (
                "    conn = sqlite3.connect(p)\n    g = lambda: conn.commit()\n    conn.close()\n",
                "nested function at line 6",
            ),
            ("    rows = list(sqlite3.connect(p).execute('x'))\n", "not bound to a name"),
        ];
        for (body, why) in cases {
            let text = format!("{head}{body}");
            let got = driver(&text);
            assert!(matches!(&got, Err(r) if r.contains(why)), "{text}\n{got:?}, expected {why:?}");
        }
    }

    fn psycopg(text: &str) -> Result<String, String> {
        convert(text, "psycopg.connect")
    }

    #[test]
    fn psycopg_3_becomes_its_async_connection_with_async_with_and_async_for() {
        let text = "import psycopg\n\n\nasync def load(dsn):\n    with psycopg.connect(dsn, autocommit=True) as conn:\n        with conn.cursor() as cur:\n            cur.execute(\"select 1\")\n            one = cur.fetchone()[0]\n            for row in cur:\n                print(row)\n        for row in conn.execute(\"select 2\"):\n            print(row)\n        n = conn.execute(\"select 3\").fetchall()\n    return one, n\n";
        assert_eq!(
            psycopg(text).unwrap(),
            "import psycopg\n\n\nasync def load(dsn):\n    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:\n        async with conn.cursor() as cur:\n            await cur.execute(\"select 1\")\n            one = (await cur.fetchone())[0]\n            async for row in cur:\n                print(row)\n        async for row in await conn.execute(\"select 2\"):\n            print(row)\n        n = await (await conn.execute(\"select 3\")).fetchall()\n    return one, n\n"
        );
        let assigned = "import psycopg\n\n\nasync def load(dsn):\n    conn = psycopg.connect(dsn)\n    cur = conn.cursor()\n    cur.execute(\"select 1\")\n    rows = cur.fetchall()\n    conn.commit()\n    conn.close()\n    return rows, cur.rowcount\n";
        assert_eq!(
            psycopg(assigned).unwrap(),
            "import psycopg\n\n\nasync def load(dsn):\n    conn = await psycopg.AsyncConnection.connect(dsn)\n    cur = conn.cursor()\n    await cur.execute(\"select 1\")\n    rows = await cur.fetchall()\n    await conn.commit()\n    await conn.close()\n    return rows, cur.rowcount\n"
        );
        // A transaction block is entered with `async with`.
        let tx = "import psycopg\n\n\nasync def save(dsn, v):\n    with psycopg.connect(dsn) as conn:\n        with conn.transaction():\n            conn.execute(\"insert into t values (%s)\", (v,))\n            with conn.transaction():\n                conn.execute(\"insert into u values (%s)\", (v,))\n";
        assert_eq!(
            psycopg(tx).unwrap(),
            "import psycopg\n\n\nasync def save(dsn, v):\n    async with await psycopg.AsyncConnection.connect(dsn) as conn:\n        async with conn.transaction():\n            await conn.execute(\"insert into t values (%s)\", (v,))\n            async with conn.transaction():\n                await conn.execute(\"insert into u values (%s)\", (v,))\n"
        );
        let head = "import psycopg\n\n\nasync def f(dsn):\n";
        let cases = [
            ("    conn = psycopg.connect(dsn, cursor_factory=C)\n    conn.close()\n", "`cursor_factory=`: the async"),
            (
                "    with psycopg.connect(dsn) as conn:\n        with conn.pipeline():\n            conn.execute('x')\n",
                "`conn.pipeline(...)` at line 6",
            ),
            (
                "    with psycopg.connect(dsn) as conn:\n        with conn.transaction() as tx:\n            conn.execute('x')\n",
                "`conn.transaction(...)` at line 6 is used otherwise than as the one item of a `with` bound to no name",
            ),
            (
                "    with psycopg.connect(dsn) as conn:\n        tx = conn.transaction()\n",
                "`conn.transaction(...)` at line 6 is used otherwise",
            ),
            (
                "    with psycopg.connect(dsn) as conn:\n        conn.execute('x')\n    conn.close()\n",
                "which closes it",
            ),
            (
                "    conn = psycopg.connect(dsn)\n    conn.autocommit = True\n    conn.close()\n",
                "`conn.autocommit` at line 6",
            ),
            (
                "    with psycopg.connect(dsn) as conn:\n        return [r for r in conn.cursor()]\n",
                "used otherwise than bound to a name",
            ),
        ];
        for (body, why) in cases {
            let text = format!("{head}{body}");
            let got = psycopg(&text);
            assert!(matches!(&got, Err(r) if r.contains(why)), "{text}\n{got:?}, expected {why:?}");
        }
    }

    #[test]
    fn a_sqlite3_connection_opened_elsewhere_is_not_moved_to_a_thread() {
        let head =
            "import sqlite3\n\nfrom fastapi import FastAPI\n\napp = FastAPI()\nconn = sqlite3.connect(\"n.db\")\n\n\n";
        let chain = format!(
            "{head}def count():\n    return conn.execute(\"x\").fetchone()[0]\n\n\n@app.get(\"/\")\nasync def route():\n    return count()\n"
        );
        let callee = "sqlite3.Connection.execute";
        let fixes = fixes_at(&chain, "count()\n", Rule::BlockingDatabase, callee, vec![FixKind::Offload], true);
        assert!(fixes.fixes.iter().all(|f| f.id != FixId::Offload && f.id != FixId::MakeSync), "{:?}", fixes.fixes);
        let r = fixes.refused.iter().find(|r| r.id == FixId::Offload).expect("offload refused");
        assert!(r.reason.contains("`ProgrammingError`") && r.reason.contains("check_same_thread=False"), "{r:?}");
        assert!(fixes.refused.iter().any(|r| r.id == FixId::MakeSync), "{:?}", fixes.refused);
        // A route using the module-level connection directly stays a coroutine; one that opens its own
        // connection may become a plain `def`.
        let direct = format!("{head}@app.get(\"/\")\nasync def route():\n    return conn.execute(\"x\").fetchall()\n");
        let fixes = fixes_at(&direct, "conn.execute(\"x\")", Rule::BlockingDatabase, callee, vec![], false);
        assert!(fixes.fixes.iter().all(|f| f.id != FixId::MakeSync), "{:?}", fixes.fixes);
        assert!(fixes.refused.iter().any(|r| r.id == FixId::MakeSync), "{:?}", fixes.refused);
        let own = format!(
            "{head}@app.get(\"/\")\nasync def route(p):\n    c = sqlite3.connect(p)\n    n = c.execute(\"x\").fetchall()\n    c.close()\n    return n\n"
        );
        let fixes = fixes_at(&own, "c.execute(\"x\")", Rule::BlockingDatabase, callee, vec![], false);
        assert!(fixes.fixes.iter().any(|f| f.id == FixId::MakeSync), "{:?}", fixes.fixes);
    }

    #[test]
    fn psycopg2_becomes_psycopg_3_with_client_side_binding() {
        let text = "import psycopg2\nimport psycopg2.extras\n\nQ = \"select %s\"\n\n\nasync def f(dsn, v):\n    conn = psycopg2.connect(dsn, connect_timeout=5)\n    try:\n        with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:\n            cur.execute(Q, (v,))\n            one = cur.fetchone()\n        conn.cursor().execute(\"select 1; \")\n        conn.commit()\n    except (psycopg2.OperationalError, psycopg2.Error):\n        conn.rollback()\n    finally:\n        conn.close()\n    return one\n";
        assert_eq!(
            convert(text, "psycopg2.connect").unwrap(),
            "import psycopg\n\nQ = \"select %s\"\n\n\nasync def f(dsn, v):\n    conn = await psycopg.AsyncConnection.connect(dsn, connect_timeout=5, cursor_factory=psycopg.AsyncClientCursor)\n    try:\n        async with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:\n            await cur.execute(Q, (v,))\n            one = await cur.fetchone()\n        await conn.cursor().execute(\"select 1; \")\n        await conn.commit()\n    except (psycopg.OperationalError, psycopg.Error):\n        await conn.rollback()\n    finally:\n        await conn.close()\n    return one\n"
        );
        // psycopg2 used elsewhere in the file keeps its import; no arguments get the keyword alone.
        let kept = "import psycopg2\n\n\ndef g():\n    return psycopg2.connect()\n\n\nasync def f():\n    conn = psycopg2.connect()\n    conn.close()\n";
        assert_eq!(
            convert(kept, "psycopg2.connect").unwrap(),
            "import psycopg\nimport psycopg2\n\n\ndef g():\n    return psycopg2.connect()\n\n\nasync def f():\n    conn = await psycopg.AsyncConnection.connect(cursor_factory=psycopg.AsyncClientCursor)\n    await conn.close()\n"
        );
    }

    #[test]
    fn psycopg2_refuses_what_psycopg_3_does_otherwise_naming_the_line() {
        let head = "import psycopg2\nimport psycopg2.extras\n\nQ = \"select 1\"\n\n\nasync def f(dsn, q, ids):\n";
        let cases = [
            (
                "    with psycopg2.connect(dsn) as conn:\n        pass\n",
                "`with` at line 8: psycopg2's `with conn:` commits and leaves",
            ),
            (
                "    conn = psycopg2.connect(dsn)\n    with conn:\n        pass\n    conn.close()\n",
                "`with conn` at line 9",
            ),
            (
                "    conn = psycopg2.connect(dsn)\n    cur = conn.cursor()\n    cur.execute(\"select 1 from t where id in %s\", (ids,))\n    conn.close()\n",
                "the query at line 10: `IN %s`",
            ),
            (
                "    conn = psycopg2.connect(dsn)\n    cur = conn.cursor()\n    cur.execute(\"select 1 where x in%(a)s\", {\"a\": ids})\n    conn.close()\n",
                "the query at line 10: `IN %s`",
            ),
            (
                "    conn = psycopg2.connect(dsn)\n    cur = conn.cursor()\n    cur.execute(\"select 1; select 2\")\n    conn.close()\n",
                "the query at line 10: several statements",
            ),
            (
                "    conn = psycopg2.connect(dsn)\n    conn.cursor().execute(\"begin;\" \"select 2\")\n    conn.close()\n",
                "the query at line 9: several statements",
            ),
            (
                "    conn = psycopg2.connect(dsn)\n    cur = conn.cursor()\n    cur.execute(q)\n    conn.close()\n",
                "the query at line 10: the query is not a string literal",
            ),
            (
                "    conn = psycopg2.connect(dsn)\n    cur = conn.cursor()\n    cur.execute(f\"select {q}\")\n    conn.close()\n",
                "the query is not a string literal",
            ),
            (
                "    Q = q\n    conn = psycopg2.connect(dsn)\n    cur = conn.cursor()\n    cur.execute(Q)\n    conn.close()\n",
                "the query is not a string literal",
            ),
            (
                "    conn = psycopg2.connect(dsn)\n    cur = conn.cursor()\n    cur.execute(\"insert into t values (%s)\", (psycopg2.extras.Json(q),))\n    conn.close()\n",
                "`psycopg2.extras.Json` at line 10 has no `psycopg` equivalent",
            ),
            (
                "    conn = psycopg2.connect(dsn)\n    psycopg2.extras.register_uuid(conn_or_curs=conn)\n    conn.close()\n",
                "used as a value",
            ),
            (
                "    conn = psycopg2.connect(dsn)\n    psycopg2.extras.register_uuid()\n    conn.close()\n",
                "`psycopg2.extras.register_uuid` at line 9: a psycopg2 adapter",
            ),
            (
                "    conn = psycopg2.connect(dsn, cursor_factory=psycopg2.extras.DictCursor)\n    conn.close()\n",
                "`cursor_factory=psycopg2.extras.DictCursor` at line 8 has no psycopg 3 row factory",
            ),
            (
                "    conn = psycopg2.connect(dsn)\n    cur = conn.cursor(\"named\")\n    conn.close()\n",
                "server-side one",
            ),
            (
                "    conn = psycopg2.connect(dsn)\n    cur = conn.cursor()\n    cur.executemany(\"select %s\", ids)\n    conn.close()\n",
                "`cur.executemany(...)` at line 10 has no awaited equivalent",
            ),
            (
                "    conn = psycopg2.connect(dsn)\n    conn.autocommit = True\n    conn.close()\n",
                "`conn.autocommit` at line 9",
            ),
            (
                "    conn = psycopg2.connect(dsn, database=q)\n    conn.close()\n",
                "`database=`: psycopg 3 passes keywords to libpq",
            ),
            (
                "    conn = psycopg2.connect(dsn)\n    try:\n        conn.commit()\n    except psycopg2.extensions.QueryCanceledError:\n        pass\n    conn.close()\n",
                "`psycopg2.extensions.QueryCanceledError` at line 11",
            ),
        ];
        for (body, why) in cases {
            let text = format!("{head}{body}");
            let got = convert(&text, "psycopg2.connect");
            assert!(matches!(&got, Err(r) if r.contains(why)), "{text}\n{got:?}, expected {why:?}");
        }
        // A module-level adapter, and an `except` outside the function naming psycopg2's classes.
        let outside = [
            ("psycopg2.extras.register_uuid()\n", "`psycopg2.extras.register_uuid` at line 3"),
            (
                "def g(dsn):\n    try:\n        return f(dsn)\n    except psycopg2.Error:\n        pass\n",
                "line 6 catches `psycopg2.Error` around a call",
            ),
        ];
        for (module, why) in outside {
            let text = format!(
                "import psycopg2\nimport psycopg2.extras\n{module}\n\nasync def f(dsn):\n    conn = psycopg2.connect(dsn)\n    conn.close()\n"
            );
            let got = convert(&text, "psycopg2.connect");
            assert!(matches!(&got, Err(r) if r.contains(why)), "{text}\n{got:?}, expected {why:?}");
        }
        // `%s` after a word ending in `in` and `%%` are not `IN %s`; a trailing `;` is one statement.
        let ok = "import psycopg2\n\n\nasync def f(dsn):\n    conn = psycopg2.connect(dsn)\n    cur = conn.cursor()\n    cur.execute(\"select join%s, 'in %%s', x = any(%s);\", (1, [2]))\n    conn.close()\n";
        assert!(convert(ok, "psycopg2.connect").is_ok(), "{:?}", convert(ok, "psycopg2.connect"));
        // An `except` around other psycopg2 code stays, with `import psycopg2`; `psycopg2.extras` goes.
        let other = "import psycopg2\nimport psycopg2.extras\n\n\ndef g():\n    try:\n        return psycopg2.connect()\n    except psycopg2.Error:\n        pass\n\n\nasync def f():\n    conn = psycopg2.connect(cursor_factory=psycopg2.extras.RealDictCursor)\n    conn.close()\n";
        assert_eq!(
            convert(other, "psycopg2.connect").unwrap(),
            "import psycopg\nimport psycopg2\n\n\ndef g():\n    try:\n        return psycopg2.connect()\n    except psycopg2.Error:\n        pass\n\n\nasync def f():\n    conn = await psycopg.AsyncConnection.connect(row_factory=psycopg.rows.dict_row, cursor_factory=psycopg.AsyncClientCursor)\n    await conn.close()\n"
        );
    }

    #[test]
    fn psycopg2_title_names_what_the_code_does_not_show() {
        let text = "import psycopg2\n\n\nasync def f(dsn):\n    conn = psycopg2.connect(dsn)\n    conn.close()\n";
        let fixes = fixes_at(
            text,
            "psycopg2.connect",
            Rule::BlockingDatabase,
            "psycopg2.connect",
            vec![FixKind::AsyncDriver],
            false,
        );
        let f = fixes.fixes.iter().find(|f| f.id == FixId::AsyncDriver).expect("a fix");
        assert_eq!(
            f.title,
            "Use `psycopg` with client-side binding instead of `psycopg2` (uuid, inet, bytea, timestamptz, range and record columns come back as other types)"
        );
    }
}
