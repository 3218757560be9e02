//! requests (or the sync httpx functions) → `httpx.AsyncClient` in `async with`.
//!
//! `r = requests.get(url, timeout=5)` becomes
//!
//! ```python
//! async with httpx.AsyncClient(follow_redirects=True) as client:
//!     r = await client.get(url, timeout=5)
//! ```
//!
//! The tables below are the differences between the two libraries that the rewrite handles (renamed
//! keywords, keywords that move to the client, defaults that differ); anything else it does not know to
//! be equivalent makes it refuse with the reason. The fix is always unsafe: another library answers.

use tree_sitter::Node;

use super::kinds::{await_allowed, awaited, enclosing_def, short};
use super::{Applicability, Edit, FileContext, Fix, FixId, Fixes, KindName, Refusal, Target};

/// The request functions of `requests` / `httpx` that map onto `AsyncClient` methods of the same name.
const METHODS: &[&str] = &["get", "post", "put", "patch", "delete", "head", "options", "request"];
/// `AsyncClient` methods that take no request body (`data`, `json`, `files`, `content`).
const NO_BODY: &[&str] = &["get", "head", "options", "delete"];
const BODY_KEYWORDS: &[&str] = &["data", "json", "files", "content"];
/// Request keywords with the same meaning in both.
const SAME: &[&str] =
    &["params", "headers", "cookies", "json", "files", "auth", "timeout", "data", "content", "extensions"];
/// requests keyword → httpx keyword.
const RENAMED: &[(&str, &str)] = &[("allow_redirects", "follow_redirects")];
/// Keywords that httpx takes on the client, not on the request.
const CLIENT: &[&str] = &["verify", "cert", "trust_env", "proxy"];
const UNSUPPORTED: &[(&str, &str)] = &[
    ("stream", "`stream=` needs `client.stream(...)` in `async with` and `aiter_bytes()`: change it by hand"),
    ("proxies", "httpx takes `proxy=` or `mounts=` on the client, not a `proxies` mapping"),
    ("hooks", "httpx has `event_hooks=` on the client, with other signatures"),
];
/// Response attributes with no (or a different) httpx equivalent.
const RESPONSE: &[(&str, &str)] = &[
    ("ok", "httpx responses have no `.ok` (`.is_success` is the nearest)"),
    ("iter_content", "`.iter_content()` has no httpx equivalent (`.iter_bytes()` on a streamed response)"),
    ("raw", "`.raw` has no httpx equivalent"),
    ("reason", "httpx calls it `.reason_phrase`"),
    ("apparent_encoding", "httpx responses have no `.apparent_encoding`"),
    ("is_permanent_redirect", "httpx responses have no `.is_permanent_redirect`"),
];

pub(super) fn fix(ctx: &FileContext<'_>, t: &Target, call: Node<'_>, out: &mut Fixes) {
    let Some(func) = call.field("function") else { return };
    let Some(callee) = t.callee.as_deref() else { return };
    let (library, method) = callee.rsplit_once('.').unwrap_or(("", callee));
    let module = client_module(ctx);
    let title = format!("Use `{module}.AsyncClient` instead of `{}`", short(ctx.node_text(func)));
    let refuse =
        |out: &mut Fixes, reason: String| out.refused.push(Refusal { id: FixId::Httpx, title: title.clone(), reason });
    // A function of the library called by its imported name; a session's or client's method needs the
    // session itself replaced, which this fix does not do.
    if library.contains('.')
        && let Some(session) = session_block(ctx, call, func, library)
    {
        return session_fix(ctx, session, out);
    }
    if spelled(ctx, callee).as_deref() != Some(ctx.node_text(func)) || library.contains('.') {
        return refuse(
            out,
            "the session or client must itself become one shared `httpx.AsyncClient` (closed with `aclose()`): change it by hand".into(),
        );
    }
    if !METHODS.contains(&method) {
        return refuse(out, format!("`{method}` has no `httpx.AsyncClient` method: change it by hand"));
    }
    if let Err(why) = await_allowed(ctx, call) {
        return refuse(out, why);
    }
    let from_requests = library == "requests";
    let mapped = match map_arguments(ctx, call, method, from_requests) {
        Ok(m) => m,
        Err(why) => return refuse(out, why),
    };
    let (client_method, call_args, mut client_kw) = (mapped.method, mapped.args, mapped.client);
    // requests follows redirects (but for HEAD) and waits forever by default; httpx does neither.
    if from_requests {
        if method != "head" && !mapped.follow_given {
            client_kw.push("follow_redirects=True".into());
        }
        if !mapped.timeout_given {
            client_kw.push("timeout=None".into());
        }
    }

    if let Some(why) = response_escapes(ctx, call) {
        return refuse(out, why);
    }
    if let Some(why) = catches_library_errors(ctx, call, library) {
        return refuse(out, why);
    }
    let Some(stmt) = own_line_statement(ctx, call) else {
        return refuse(out, "the call is not in a statement of its own line, where `async with` could go".into());
    };
    let Some(def) = enclosing_def(ctx, call) else { return };
    let name = client_name(ctx, def);
    let text = ctx.text;
    let line_start = crate::syntax::line_start(text, stmt.start_byte());
    let indent = &text[line_start..stmt.start_byte()];
    let unit = if indent.contains('\t') { "\t" } else { "    " };
    let mut edits = Vec::new();
    let scoped = ctx.imports_at(stmt);
    let client = scoped.module_attr(&module, "AsyncClient", &mut edits, text);
    if let Some(why) = scoped.conflict() {
        return refuse(out, why);
    }
    let request = awaited(ctx, call, &format!("{name}.{client_method}({})", call_args.join(", ")));
    let stmt_text =
        format!("{}{request}{}", &text[stmt.start_byte()..call.start_byte()], &text[call.end_byte()..stmt.end_byte()]);
    edits.push(Edit {
        range: stmt.start_byte()..stmt.end_byte(),
        text: format!(
            "async with {client}({}) as {name}:{}{indent}{unit}{stmt_text}",
            client_kw.join(", "),
            super::imports::newline(text)
        ),
    });
    out.fixes.push(Fix { id: FixId::Httpx, title, applicability: Applicability::Unsafe, edits });
}

struct Mapped {
    method: &'static str,
    args: Vec<String>,
    client: Vec<String>,
    follow_given: bool,
    timeout_given: bool,
}

/// A request call's arguments for `client.<method>(...)`: keywords renamed, moved to the client, or a
/// reason why there is no equivalent.
fn map_arguments(ctx: &FileContext<'_>, call: Node<'_>, method: &str, from_requests: bool) -> Result<Mapped, String> {
    let Some(args) = call.field("arguments").filter(|a| a.kind_name() == "argument_list") else {
        return Err("the arguments are a generator expression".into());
    };
    let mut positional = Vec::new();
    let mut request_kw: Vec<(String, String)> = Vec::new();
    let mut client_kw: Vec<String> = Vec::new();
    let mut c = args.walk();
    for a in args.named_children(&mut c) {
        match a.kind_name() {
            "comment" => return Err("the arguments have comments, which the rewrite would lose".into()),
            "list_splat" | "dictionary_splat" => {
                return Err("the arguments are unpacked: their keywords cannot be checked".into());
            }
            "keyword_argument" => {
                let (Some(n), Some(v)) = (a.field("name"), a.field("value")) else {
                    return Err("a keyword argument is incomplete".into());
                };
                let (name, value) = (ctx.node_text(n), ctx.node_text(v));
                if let Some((_, why)) = UNSUPPORTED.iter().find(|(k, _)| *k == name) {
                    return Err((*why).to_string());
                }
                if let Some((_, to)) = RENAMED.iter().find(|(k, _)| *k == name).filter(|_| from_requests) {
                    request_kw.push(((*to).into(), value.into()));
                } else if CLIENT.contains(&name) {
                    client_kw.push(format!("{name}={value}"));
                } else if name == "data" && v.kind_name() == "string" {
                    // httpx sends raw text or bytes as `content=`.
                    request_kw.push(("content".into(), value.into()));
                } else if name == "timeout" && v.kind_name() == "tuple" {
                    return Err("a `(connect, read)` timeout tuple means something else to httpx".into());
                } else if SAME.contains(&name) || (!from_requests && name == "follow_redirects") {
                    request_kw.push((name.into(), value.into()));
                } else {
                    return Err(format!("`{name}=` has no known httpx equivalent"));
                }
            }
            _ => positional.push(ctx.node_text(a).to_string()),
        }
    }
    let has_body = request_kw.iter().any(|(k, _)| BODY_KEYWORDS.contains(&k.as_str()));
    let method: &'static str = METHODS.iter().copied().find(|m| *m == method).ok_or("not a request method")?;
    let (client_method, mut call_args) = if NO_BODY.contains(&method) && has_body {
        ("request", vec![format!("\"{}\"", method.to_ascii_uppercase())])
    } else {
        (method, Vec::new())
    };
    call_args.extend(positional);
    let follow_given = request_kw.iter().any(|(k, _)| k == "follow_redirects");
    let timeout_given = request_kw.iter().any(|(k, _)| k == "timeout");
    call_args.extend(request_kw.iter().map(|(k, v)| format!("{k}={v}")));
    Ok(Mapped { method: client_method, args: call_args, client: client_kw, follow_given, timeout_given })
}

/// `with requests.Session() as s:` around the call, whose body uses `s` only for requests.
struct Session<'t> {
    with: Node<'t>,
    ctor: Node<'t>,
    name: String,
    library: String,
}

fn session_block<'t>(ctx: &FileContext<'t>, call: Node<'t>, func: Node<'t>, library: &str) -> Option<Session<'t>> {
    if func.kind_name() != "attribute" {
        return None;
    }
    let object = func.field("object").filter(|o| o.kind_name() == "identifier")?;
    let name = ctx.node_text(object);
    let mut n = ctx.up(call);
    for _ in 0..256 {
        let cur = n?;
        if cur.kind_name() == "function_definition" {
            return None;
        }
        if cur.kind_name() == "with_statement" && cur.child(0).is_some_and(|c| c.kind_name() == "with") {
            let clause = cur.named_child(0).filter(|c| c.kind_name() == "with_clause")?;
            if clause.named_child_count() == 1
                && let Some(pattern) = clause.named_child(0)?.field("value").filter(|v| v.kind_name() == "as_pattern")
                && let Some(ctor) = pattern.named_child(0).filter(|c| c.kind_name() == "call")
                && let Some(alias) = pattern.field("alias")
                && ctx.node_text(alias).trim() == name
            {
                let f = ctor.field("function")?;
                // The constructor as imported (`Client` after `from httpx2 import Client`, `httpx2.Client`),
                // in the catalog's spelling: `httpx.Client`, or `requests.session` for `requests.Session`.
                let made = ctx.imports.qualified(ctx.node_text(f)).map(|q| ctx.catalog.canonical(&q));
                if made.as_deref() != Some(library) && made != Some(library.to_ascii_lowercase()) {
                    return None;
                }
                return Some(Session { with: cur, ctor, name: name.to_string(), library: library.to_string() });
            }
        }
        n = ctx.up(cur);
    }
    None
}

/// Response-like attributes of a session that an `AsyncClient` has too.
const SESSION_ATTRIBUTES: &[&str] = &["headers", "cookies", "params", "auth"];

fn session_fix(ctx: &FileContext<'_>, s: Session<'_>, out: &mut Fixes) {
    let (key, block) = (s.with.id(), s.with.start_byte());
    super::shared_fix(ctx, &ctx.memo.sessions, key, block, |f| build_session_fix(ctx, s, f), out);
}

fn build_session_fix(ctx: &FileContext<'_>, s: Session<'_>, out: &mut Fixes) {
    let module = client_module(ctx);
    let spelled_class = s.ctor.field("function").map_or(s.library.as_str(), |f| ctx.node_text(f));
    let title = format!("Use `{module}.AsyncClient` instead of the `{spelled_class}`");
    let refuse =
        |out: &mut Fixes, reason: String| out.refused.push(Refusal { id: FixId::Httpx, title: title.clone(), reason });
    if let Err(why) = await_allowed(ctx, s.with) {
        return refuse(out, why);
    }
    if s.ctor.field("arguments").is_some_and(|a| a.named_child_count() > 0) {
        return refuse(out, "the session is created with arguments".into());
    }
    let from_requests = s.library.starts_with("requests.");
    let mut edits = Vec::new();
    let Some(body) = s.with.field("body") else { return };
    let mut stack = vec![body];
    let mut seen = 0;
    while let Some(n) = stack.pop() {
        seen += 1;
        if seen > 200_000 {
            return refuse(out, "the block is too large to check".into());
        }
        if n.kind_name() == "identifier" && ctx.node_text(n) == s.name {
            let line = n.start_position().row + 1;
            let Some(attr) = ctx
                .up(n)
                .filter(|p| p.kind_name() == "attribute" && p.field("object").is_some_and(|o| o.id() == n.id()))
            else {
                return refuse(out, format!("the session is used as a value at line {line}"));
            };
            let method = attr.field("attribute").map(|a| ctx.node_text(a)).unwrap_or_default();
            let call = ctx
                .up(attr)
                .filter(|c| c.kind_name() == "call" && c.field("function").is_some_and(|f| f.id() == attr.id()));
            match call {
                Some(call) if METHODS.contains(&method) => {
                    let mapped = match map_arguments(ctx, call, method, from_requests) {
                        Ok(m) => m,
                        Err(why) => return refuse(out, format!("line {line}: {why}")),
                    };
                    if !mapped.client.is_empty() {
                        return refuse(out, format!("line {line}: `verify`/`cert` per request belong on the client"));
                    }
                    if let Some(why) = response_escapes(ctx, call) {
                        return refuse(out, format!("line {line}: {why}"));
                    }
                    let mut args = mapped.args;
                    // A session's HEAD does not follow redirects; the client below does.
                    if from_requests && method == "head" && !mapped.follow_given {
                        args.push("follow_redirects=False".into());
                    }
                    let expr = format!("{}.{}({})", s.name, mapped.method, args.join(", "));
                    edits.push(Edit { range: call.byte_range(), text: awaited(ctx, call, &expr) });
                }
                None if SESSION_ATTRIBUTES.contains(&method) => {}
                _ => {
                    return refuse(
                        out,
                        format!("`{}.{method}` at line {line} has no direct `AsyncClient` equivalent", s.name),
                    );
                }
            }
            continue;
        }
        let mut c = n.walk();
        stack.extend(n.children(&mut c));
    }
    let scoped = ctx.imports_at(s.with);
    let client = scoped.module_attr(&module, "AsyncClient", &mut edits, ctx.text);
    if let Some(why) = scoped.conflict() {
        return refuse(out, why);
    }
    let defaults = if from_requests { "follow_redirects=True, timeout=None" } else { "" };
    edits.push(Edit { range: s.with.start_byte()..s.with.start_byte(), text: "async ".into() });
    edits.push(Edit { range: s.ctor.byte_range(), text: format!("{client}({defaults})") });
    out.fixes.push(Fix { id: FixId::Httpx, title, applicability: Applicability::Unsafe, edits });
}

/// The statement holding the call, when it is a simple statement alone on its lines (directly in a
/// block), so that it can move into an `async with` block.
fn own_line_statement<'t>(ctx: &FileContext<'t>, call: Node<'t>) -> Option<Node<'t>> {
    let mut n = call;
    for _ in 0..64 {
        let p = ctx.up(n)?;
        if matches!(p.kind_name(), "block" | "module") {
            break;
        }
        n = p;
    }
    if !matches!(n.kind_name(), "expression_statement" | "return_statement") {
        return None;
    }
    let text = ctx.text;
    let before = &text[crate::syntax::line_start(text, n.start_byte())..n.start_byte()];
    let after_end = text[n.end_byte()..].find('\n').map_or(text.len(), |i| n.end_byte() + i);
    let after = text[n.end_byte()..after_end].trim();
    (before.trim().is_empty() && (after.is_empty() || after.starts_with('#'))).then_some(n)
}

/// Why the response cannot be handed over as an httpx response: it leaves the statement (returned,
/// passed on) or an attribute it reads has no httpx equivalent.
fn response_escapes(ctx: &FileContext<'_>, call: Node<'_>) -> Option<String> {
    let parent = ctx.up(call)?;
    let check_attr = |attr: &str| RESPONSE.iter().find(|(a, _)| *a == attr).map(|(_, why)| (*why).to_string());
    match parent.kind_name() {
        "expression_statement" => None,
        "attribute" => check_attr(ctx.node_text(parent.field("attribute")?)),
        "assignment" if parent.field("right").is_some_and(|r| r.id() == call.id()) => {
            let left = parent.field("left")?;
            if left.kind_name() != "identifier" {
                return Some("the response is stored in something other than a name".into());
            }
            let name = ctx.node_text(left);
            // Every `name.attr` in the function, listed once per function.
            let def = enclosing_def(ctx, call)?;
            let mut memo = ctx.memo.response_attrs.borrow_mut();
            let attrs = memo.entry(def.id()).or_insert_with(|| {
                let mut found: std::collections::HashMap<String, String> = std::collections::HashMap::new();
                let mut stack = vec![def];
                let mut seen = 0;
                while let Some(n) = stack.pop() {
                    seen += 1;
                    if seen > 200_000 {
                        // Too large to check: every name is refused.
                        found.insert(String::new(), "the function is too large to check".into());
                        break;
                    }
                    if n.kind_name() == "attribute"
                        && let Some(o) = n.field("object").filter(|o| o.kind_name() == "identifier")
                        && let Some(why) = n.field("attribute").and_then(|a| check_attr(ctx.node_text(a)))
                    {
                        found.entry(ctx.node_text(o).to_string()).or_insert(why);
                    }
                    let mut c = n.walk();
                    stack.extend(n.children(&mut c));
                }
                found
            });
            attrs.get(name).or_else(|| attrs.get("")).cloned()
        }
        _ => Some("the response is passed on, and its users may rely on the requests API".into()),
    }
}

/// An enclosing `try` whose handlers name the library (`except requests.RequestException`): httpx
/// raises its own exceptions, which those handlers would no longer catch.
fn catches_library_errors(ctx: &FileContext<'_>, call: Node<'_>, library: &str) -> Option<String> {
    let spelled = spelled(ctx, library).unwrap_or_else(|| library.to_string());
    let mut n = ctx.up(call);
    for _ in 0..256 {
        let cur = n?;
        if cur.kind_name() == "function_definition" {
            return None;
        }
        if cur.kind_name() == "try_statement" {
            let mut c = cur.walk();
            for clause in cur.children(&mut c) {
                if clause.kind_name() == "except_clause" {
                    let header = ctx.node_text(clause).lines().next().unwrap_or_default();
                    if header.contains(&format!("{spelled}.")) || header.contains("RequestException") {
                        return Some(format!(
                            "an enclosing `except` catches `{library}` exceptions, and httpx raises its own"
                        ));
                    }
                }
            }
        }
        n = ctx.up(cur);
    }
    None
}

/// The module the rewrite writes `AsyncClient` from: an alternative distribution of httpx's API that the
/// file imports (`httpx2`, an alias of `httpx` in the catalog), else `httpx` when the file imports it, else
/// the project's choice ([`super::Options::http_module`]), else `httpx`.
pub(super) fn client_module(ctx: &FileContext<'_>) -> String {
    let alternatives = ctx.catalog.alternatives_of("httpx");
    if let Some(m) = alternatives.iter().find(|m| ctx.imports.imports_module(m)) {
        return m.to_string();
    }
    if ctx.imports.imports_module("httpx") {
        return "httpx".into();
    }
    ctx.options.http_module.clone().unwrap_or_else(|| "httpx".into())
}

/// How the file spells `qualified`, a canonical name (`httpx.Client`), also when it imports the name from
/// an alternative distribution of the module (`httpx2.Client`).
fn spelled(ctx: &FileContext<'_>, qualified: &str) -> Option<String> {
    ctx.imports.spelling(qualified).or_else(|| {
        let (top, rest) = qualified.split_once('.').unwrap_or((qualified, ""));
        let rest = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        ctx.catalog.alternatives_of(top).into_iter().find_map(|alt| ctx.imports.spelling(&format!("{alt}{rest}")))
    })
}

/// `client`, unless the function already uses that name.
fn client_name(ctx: &FileContext<'_>, def: Node<'_>) -> String {
    ctx.memo.client_names.borrow_mut().entry(def.id()).or_insert_with(|| client_name_in(ctx, def)).clone()
}

fn client_name_in(ctx: &FileContext<'_>, def: Node<'_>) -> String {
    let body = ctx.node_text(def);
    let used = |name: &str| {
        body.match_indices(name).any(|(i, _)| {
            let before = body[..i].chars().next_back();
            let after = body[i + name.len()..].chars().next();
            !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    };
    ["client", "http_client", "async_client"]
        .iter()
        .find(|n| !used(n))
        .map_or_else(|| "loopsafe_client".to_string(), |n| (*n).to_string())
}

// ------------------------------------------------------------------------------ module-level session

/// A module-level `name = requests.Session()` (a constructor the catalog says returns `class`), the only
/// statement at the top of the module that binds `name`.
pub(super) struct ModuleSession<'t> {
    /// The `name = ...` statement.
    pub(super) stmt: Node<'t>,
    ctor: Node<'t>,
    /// The name it binds (the identifier on the left).
    left: Node<'t>,
    pub(super) name: String,
    class: String,
}

/// The module-level session bound to `name` at the top of `ctx`'s file, if there is exactly one binding
/// and it is a constructor call the catalog types (`[returns]`).
fn module_session<'t>(ctx: &FileContext<'t>, name: &str) -> Option<ModuleSession<'t>> {
    let (stmt, ctor, left, q) = ctx.module_constructed(name)?;
    let class = ctx.catalog.returns(&q)?.to_string();
    Some(ModuleSession { stmt, ctor, left, name: name.to_string(), class })
}

/// The module-level session a call `name.method(...)` is made on, when it makes the blocking call
/// `callee` (`requests.Session.request` for `_session.request(...)` on `_session = requests.Session()`).
pub(super) fn session_call<'t>(ctx: &FileContext<'t>, call: Node<'t>, callee: &str) -> Option<ModuleSession<'t>> {
    let func = call.field("function").filter(|f| f.kind_name() == "attribute")?;
    let object = func.field("object").filter(|o| o.kind_name() == "identifier")?;
    let method = ctx.node_text(func.field("attribute")?);
    let (class, wanted) = callee.rsplit_once('.')?;
    if method != wanted {
        return None;
    }
    module_session(ctx, ctx.node_text(object)).filter(|s| s.class == class)
}

/// Whether the chain's rewrite of its ends (`chain::rewrite_ends`, with `edits` the chain's own edits of
/// the end's file: `async ` before each function made async, `await` around each call) surely refuses,
/// told from the original file, without applying the edits and parsing the result: for callers that try
/// many chains and keep only those made async (`--fix`), which need not know why one is refused. `true`
/// only where `rewrite_ends` returns an error: an end, reached when every end before it was carried
/// back or refused, on a connection a driver opens at module level (`conn = sqlite3.connect(...)`), or a
/// request on a module-level session that a sync function not made async also makes a request on (its
/// rewrite, `module_session_fix`, refuses there). The edits insert only, before `def`s and around calls,
/// so the original answers what the rewritten file would: which module-level names are bound by which
/// constructor, which call is made on which name, and which functions are sync.
pub(super) fn surely_refused(ctx: &FileContext<'_>, callee: &str, ends: &[Node<'_>], edits: &[Edit]) -> bool {
    if edits.iter().any(|e| !e.range.is_empty()) {
        return false;
    }
    let made_async: std::collections::HashSet<usize> =
        edits.iter().filter(|e| e.text == "async ").map(|e| e.range.start).collect();
    for end in ends {
        let Some(c) = ctx.call_node(&end.byte_range()) else { continue };
        if super::db::local_client(ctx, c, callee).is_some() {
            continue;
        }
        let session = session_call(ctx, c, callee);
        if let Some(s) = &session
            && let Some((_, _, _, q)) = ctx.module_constructed(&s.name)
            && ctx.catalog.counterparts.get(&q).is_some_and(|c| c.connect == q)
        {
            return true;
        }
        if super::db::module_client(ctx, c, callee).is_some() {
            continue;
        }
        let Some(s) = session else { continue };
        let mut memo = ctx.memo.session_sync_users.borrow_mut();
        let users = memo.entry(s.name.clone()).or_insert_with(|| sync_request_users(ctx, &s));
        if users.as_ref().is_some_and(|u| u.len() > made_async.len() || u.iter().any(|d| !made_async.contains(d))) {
            return true;
        }
    }
    false
}

/// The start bytes of the sync functions that make a request on the module-level session `s` (each once,
/// in tree order), as `module_session_fix` looks at them; `None` past [`super::kinds::MAX_NODES`] nodes.
fn sync_request_users(ctx: &FileContext<'_>, s: &ModuleSession<'_>) -> Option<Vec<usize>> {
    let name = s.name.as_str();
    let mut out: Vec<usize> = Vec::new();
    let mut known = std::collections::HashSet::new();
    let mut stack = vec![ctx.tree.root_node()];
    let mut seen = 0;
    while let Some(n) = stack.pop() {
        seen += 1;
        if seen > super::kinds::MAX_NODES {
            return None;
        }
        if n.kind_name() != "identifier" || ctx.node_text(n) != name || n.id() == s.left.id() {
            let mut c = n.walk();
            stack.extend(n.children(&mut c));
            continue;
        }
        let Some(attr) =
            ctx.up(n).filter(|p| p.kind_name() == "attribute" && p.field("object").is_some_and(|o| o.id() == n.id()))
        else {
            continue;
        };
        let member = attr.field("attribute").map(|a| ctx.node_text(a)).unwrap_or_default();
        let call = ctx
            .up(attr)
            .filter(|c| c.kind_name() == "call" && c.field("function").is_some_and(|f| f.id() == attr.id()));
        if call.is_none() || !METHODS.contains(&member) {
            continue;
        }
        if let Some(d) = enclosing_def(ctx, n).filter(|d| d.child(0).is_none_or(|c| c.kind_name() != "async"))
            && known.insert(d.start_byte())
        {
            out.push(d.start_byte());
        }
    }
    Some(out)
}

/// What of a session httpx's `AsyncClient` has with the same use: kept as they are, in any function or
/// at module level (`_session.headers.update(...)`, `_session.auth = (user, password)`).
const KEPT_SETTINGS: &[&str] = &["headers", "cookies", "auth", "params"];
/// What httpx takes only when the client is created: a constant set at module level moves there.
const CONSTRUCTOR_SETTINGS: &[&str] = &["verify", "cert", "trust_env", "max_redirects"];
const SESSION_UNSUPPORTED: &[(&str, &str)] = &[
    ("mount", "httpx mounts transports with `mounts=` on the client, not requests adapters"),
    ("adapters", "httpx mounts transports with `mounts=` on the client, not requests adapters"),
    ("close", "an `httpx.AsyncClient` is closed with `await client.aclose()`, from async code"),
    ("send", "`send` takes a prepared `requests` request, which httpx does not build"),
    ("prepare_request", "httpx builds requests with `client.build_request(...)`, with other arguments"),
];

/// The requests on a module-level session as a chain made async leaves them. An `httpx.AsyncClient`'s
/// pooled connections belong to the event loop that opened them, and a process may run several loops
/// one after another (pytest-asyncio's and anyio's one loop per test, `asyncio.run` per job): the
/// session becomes a function giving the running loop's own client (made on the loop's first request,
/// with requests' defaults: redirects followed, no timeout; dropped once that loop is closed), and every
/// request is made on it, `await _session().request(...)`. Where the session is set up at import time
/// (headers, cookies, auth or params set on it), it stays one module-level `httpx.AsyncClient`, and the
/// title says that it is shared by every event loop of the process. A
/// constant `verify`/`cert`/`trust_env`/`max_redirects` set on it at module level moves into the
/// constructor, headers, cookies, auth and params set on it stay, and every request on it is awaited
/// with httpx's arguments. `ctx` is the file with the chain's functions already `async def`: a request
/// on it in a sync function (which nothing converts), a use of it as a value, or a setting httpx lacks
/// refuses it, naming the line.
pub(super) fn module_session_fix(ctx: &FileContext<'_>, s: &ModuleSession<'_>) -> Result<Fix, String> {
    let name = s.name.as_str();
    if !s.class.starts_with("requests.") {
        return Err(format!("a module-level `{}` has no rewrite to `httpx.AsyncClient`", s.class));
    }
    if s.ctor.field("arguments").is_some_and(|a| a.named_child_count() > 0) {
        return Err(format!("`{name}` is created with arguments"));
    }
    let mut edits = Vec::new();
    let mut moved: Vec<String> = Vec::new();
    // The requests on the session: (call, its method and arguments for the client).
    let mut requests: Vec<(Node<'_>, String)> = Vec::new();
    // Why the client cannot be made per event loop (the session is set up at import time).
    let mut shared: Option<String> = None;
    let mut stack = vec![ctx.tree.root_node()];
    let mut seen = 0;
    while let Some(n) = stack.pop() {
        seen += 1;
        if seen > super::kinds::MAX_NODES {
            return Err("the file is too large to check".into());
        }
        if n.kind_name() != "identifier" || ctx.node_text(n) != name || n.id() == s.left.id() {
            let mut c = n.walk();
            stack.extend(n.children(&mut c));
            continue;
        }
        let line = n.start_position().row + 1;
        let Some(attr) =
            ctx.up(n).filter(|p| p.kind_name() == "attribute" && p.field("object").is_some_and(|o| o.id() == n.id()))
        else {
            return Err(format!(
                "`{name}` is used as a value at line {line}, where an `httpx.AsyncClient` cannot stand in for it"
            ));
        };
        let member = attr.field("attribute").map(|a| ctx.node_text(a)).unwrap_or_default();
        let call = ctx
            .up(attr)
            .filter(|c| c.kind_name() == "call" && c.field("function").is_some_and(|f| f.id() == attr.id()));
        let assigned = ctx
            .up(attr)
            .filter(|a| a.kind_name() == "assignment" && a.field("left").is_some_and(|l| l.id() == attr.id()));
        let def = enclosing_def(ctx, n);
        if let (Some(call), true) = (call, METHODS.contains(&member)) {
            if let Some(d) = def.filter(|d| d.child(0).is_none_or(|c| c.kind_name() != "async")) {
                let f = d.field("name").map_or("", |x| ctx.node_text(x));
                return Err(format!(
                    "`{name}` is also used by the sync function `{f}` at line {line}, which is not made async"
                ));
            }
            await_allowed(ctx, call).map_err(|why| format!("`{name}.{member}` at line {line}: {why}"))?;
            let mapped = map_arguments(ctx, call, member, true).map_err(|why| format!("line {line}: {why}"))?;
            if !mapped.client.is_empty() {
                return Err(format!("line {line}: `verify`/`cert` per request belong on the client"));
            }
            if let Some(why) = response_escapes(ctx, call).or_else(|| catches_library_errors(ctx, call, "requests")) {
                return Err(format!("line {line}: {why}"));
            }
            let mut args = mapped.args;
            // A session's HEAD does not follow redirects; the client below does.
            if member == "head" && !mapped.follow_given {
                args.push("follow_redirects=False".into());
            }
            requests.push((call, format!("{}({})", mapped.method, args.join(", "))));
        } else if KEPT_SETTINGS.contains(&member) {
            shared.get_or_insert_with(|| format!("`{name}.{member}` is set at line {line}"));
            // httpx's query parameters cannot be changed in place: only replaced.
            if member == "params" && assigned.is_none() {
                return Err(format!(
                    "`{name}.params` at line {line}: httpx's query parameters cannot be changed in place, only replaced"
                ));
            }
            if member == "auth"
                && let Some(v) = assigned.and_then(|a| a.field("right")).filter(|v| v.kind_name() == "call")
                && let Some(q) = v.field("function").and_then(|f| ctx.imports.qualified(ctx.node_text(f)))
                && q.starts_with("requests.")
            {
                return Err(format!(
                    "`{name}.auth` at line {line} is a `requests` auth object: httpx takes a `(user, password)` tuple or `httpx.BasicAuth`"
                ));
            }
        } else if CONSTRUCTOR_SETTINGS.contains(&member) {
            let stmt = assigned.and_then(|a| ctx.up(a)).filter(|st| {
                def.is_none()
                    && st.kind_name() == "expression_statement"
                    && ctx.up(*st).is_some_and(|m| m.kind_name() == "module")
            });
            let value = assigned.and_then(|a| a.field("right")).filter(|v| is_constant(*v));
            let (Some(stmt), Some(value)) = (stmt, value) else {
                return Err(format!(
                    "`{name}.{member}` at line {line}: httpx takes `{member}=` when the client is created, and only a constant set at module level can move there"
                ));
            };
            let text = ctx.text;
            let start = crate::syntax::line_start(text, stmt.start_byte());
            let end = text[stmt.end_byte()..].find('\n').map_or(text.len(), |i| stmt.end_byte() + i + 1);
            if !text[start..stmt.start_byte()].trim().is_empty() || !text[stmt.end_byte()..end].trim().is_empty() {
                return Err(format!("`{name}.{member}` at line {line} shares its line with other code"));
            }
            moved.push(format!("{member}={}", ctx.node_text(value)));
            edits.push(Edit { range: start..end, text: String::new() });
        } else {
            let why = SESSION_UNSUPPORTED
                .iter()
                .chain(UNSUPPORTED)
                .find(|(k, _)| *k == member)
                .map_or("it has no `httpx.AsyncClient` equivalent", |(_, why)| why);
            return Err(format!("`{name}.{member}` at line {line}: {why}"));
        }
    }
    let (clients, ssl) = (format!("{name}_clients"), format!("{name}_ssl_context"));
    for taken in [&clients, &ssl] {
        if shared.is_none() && super::workspace::contains_word(ctx.text, taken) {
            shared = Some(format!("`{taken}` is taken"));
        }
    }
    let mut first = Vec::new();
    let get_loop = match shared {
        None => Some((
            ctx.imports.module_attr("asyncio", "get_running_loop", &mut first, ctx.text),
            ctx.imports.module_attr("asyncio", "AbstractEventLoop", &mut first, ctx.text),
        )),
        Some(_) => None,
    };
    let module = client_module(ctx);
    let client = ctx.imports.module_attr(&module, "AsyncClient", &mut first, ctx.text);
    let (create_ssl, transport) = match shared {
        None => (
            ctx.imports.module_attr(&module, "create_ssl_context", &mut first, ctx.text),
            ctx.imports.module_attr(&module, "AsyncHTTPTransport", &mut first, ctx.text),
        ),
        Some(_) => (String::new(), String::new()),
    };
    for (call, request) in requests {
        let on = if get_loop.is_some() { format!("{name}()") } else { name.to_string() };
        edits.push(Edit { range: call.byte_range(), text: awaited(ctx, call, &format!("{on}.{request}")) });
    }
    // The library's import goes when the constructor was its last use (after the new import: it may
    // take its place).
    if let Some(f) = s.ctor.field("function")
        && let Some(root) = super::kinds::root_identifier(f)
        && let Some(import) = super::kinds::unused_import(ctx, ctx.node_text(root), Some(f))
    {
        super::kinds::remove_statement(ctx, import, &mut first);
    }
    edits.extend(first);
    let mut kw = vec!["follow_redirects=True".to_string(), "timeout=None".to_string()];
    let title = match (&get_loop, &shared) {
        (Some(get_loop), _) => {
            // The TLS context (the CA bundle read from disk, slow) is made once, at import: a client
            // made in the loop with its own would block the loop while it reads it.
            let tls = |k: &String| ["verify=", "cert=", "trust_env="].iter().any(|p| k.starts_with(p));
            let ssl_kw: Vec<String> = moved.iter().filter(|k| tls(k)).cloned().collect();
            kw.extend(moved.into_iter().filter(|k| !k.starts_with("verify=") && !k.starts_with("cert=")));
            kw.push(format!("verify={ssl}"));
            let made = PerLoop {
                clients: &clients,
                ssl: (&ssl, &format!("{create_ssl}({})", ssl_kw.join(", "))),
                transport: &transport,
                loops: (&get_loop.0, &get_loop.1),
                client: &client,
                constructor: &format!("{client}({})", kw.join(", ")),
            };
            edits.push(per_loop_function(ctx, s, &made));
            format!("Use an `httpx.AsyncClient` per event loop as `{name}()` instead of the `requests` session")
        }
        (None, why) => {
            kw.extend(moved);
            edits.push(Edit { range: s.ctor.byte_range(), text: format!("{client}({})", kw.join(", ")) });
            format!(
                "Use one module-level `httpx.AsyncClient` as `{name}` instead of the `requests` session (shared by every event loop of the process: {})",
                why.as_deref().unwrap_or_default()
            )
        }
    };
    super::normalize(&mut edits);
    Ok(Fix { id: FixId::Httpx, title, applicability: Applicability::Unsafe, edits })
}

/// The spellings and names [`per_loop_function`] writes.
struct PerLoop<'a> {
    /// The name of the module-level dict of clients by loop.
    clients: &'a str,
    /// The name of the module-level TLS context, and the expression that makes it.
    ssl: (&'a str, &'a str),
    /// `httpx.AsyncHTTPTransport` as spelled in the file.
    transport: &'a str,
    /// `asyncio.get_running_loop` and `asyncio.AbstractEventLoop` as spelled in the file.
    loops: (&'a str, &'a str),
    client: &'a str,
    constructor: &'a str,
}

/// `name = requests.Session()` replaced by a function giving each running event loop its own client:
/// a client's pooled connections belong to the loop that opened them. What is slow in making a client
/// is done once at import: the TLS context, and httpx's import of its transport's modules (made by a
/// transport made and dropped there; the runtime e2e saw that import hold the loop for 250 ms). The
/// clients of closed loops are dropped when another loop makes its first request (they cannot be
/// closed any more: `aclose()` needs their loop).
fn per_loop_function(ctx: &FileContext<'_>, s: &ModuleSession<'_>, p: &PerLoop<'_>) -> Edit {
    let (text, name) = (ctx.text, s.name.as_str());
    let PerLoop { clients, ssl: (ssl, make_ssl), transport, loops: (get_loop, event_loop), client, constructor } = *p;
    let store = format!("        {clients}[loop] = {constructor}");
    // A line too long for black's 88 columns gets its arguments on a line of their own.
    let store = match constructor.split_once('(') {
        Some((callee, args)) if store.len() > 88 => format!(
            "        {clients}[loop] = {callee}({nl}            {}{nl}        )",
            args.strip_suffix(')').unwrap_or(args),
            nl = super::imports::newline(text)
        ),
        _ => store,
    };
    let nl = super::imports::newline(text);
    let body = [
        "# httpx's setup, done at import rather than in an event loop: its TLS context (the CA bundle".into(),
        "# read from disk), and the modules it imports when it makes its first transport.".into(),
        format!("{ssl} = {make_ssl}"),
        format!("{transport}(verify={ssl})"),
        format!("{clients}: dict[{event_loop}, {client}] = {{}}"),
        String::new(),
        String::new(),
        format!("def {name}() -> {client}:"),
        "    \"\"\"The running event loop's own client: its pooled connections belong to that loop.\"\"\"".into(),
        format!("    loop = {get_loop}()"),
        format!("    if loop not in {clients}:"),
        format!("        for closed in [other for other in {clients} if other.is_closed()]:"),
        format!("            del {clients}[closed]"),
        store,
        format!("    return {clients}[loop]"),
    ];
    let mut new = body.join(nl);
    new.push_str(&super::blank_lines_after(text, s.stmt.end_byte(), nl));
    Edit { range: s.stmt.byte_range(), text: new }
}

/// A literal that means the same wherever it is evaluated.
pub(super) fn is_constant(v: Node<'_>) -> bool {
    match v.kind_name() {
        "true" | "false" | "none" | "integer" | "float" => true,
        "string" => {
            let mut c = v.walk();
            v.named_children(&mut c).all(|ch| ch.kind_name() != "interpolation")
        }
        "tuple" => {
            let mut c = v.walk();
            v.named_children(&mut c).all(is_constant)
        }
        _ => false,
    }
}
