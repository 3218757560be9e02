//! The transport's parsing core: bytes from the client in, JSON-RPC messages and error responses out.
//! Pure, synchronous and incremental (no I/O, no async, no panics), so that it can be unit-tested and
//! fuzzed; `input` drives it from the real stream.
//!
//! What it guarantees, whatever the bytes:
//! - every [`Event::Message`] is a valid JSON-RPC 2.0 request, notification or response that
//!   tower-lsp's decoder accepts (its reader ends the session at the first message it cannot decode);
//! - a message that does not decode gets the error response the JSON-RPC specification gives:
//!   -32700 Parse error (not JSON, or broken framing; `id` null) or -32600 Invalid Request (JSON, but not
//!   a request, notification or response; the `id` is echoed when it is a valid one);
//! - a wrong `Content-Length` costs one message: after a body, anything but the start of a header is
//!   skipped up to the next `Content-Length:`/`Content-Type:`, and a body that a header starts inside
//!   (the length was too long) is cut there, so the next message is read normally;
//! - memory stays bounded: header lines and header blocks have a maximum size, bodies a maximum length,
//!   and skipped bytes are not kept;
//! - the events do not depend on how the input is split into chunks.
//!
//! Lone UTF-16 surrogate escapes (`"\ud800"`, as VS Code sends for a half-typed emoji) are rewritten to
//! `\ufffd` before decoding: serde_json refuses them, and dropping an edit would put the server's text
//! out of step with the editor's. A lone surrogate is one UTF-16 unit, as U+FFFD is.

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;

/// The largest body accepted (a whole-document `didOpen` of a very large file fits).
pub const MAX_MESSAGE: usize = 256 << 20;
/// The longest header line: LSP has two headers, both short.
pub const MAX_HEADER_LINE: usize = 4096;
/// The most lines in one header block.
pub const MAX_HEADER_LINES: usize = 32;

/// JSON-RPC error codes the framer answers with.
pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;

/// The two header names of LSP's base protocol, lower case: a message starts with one of them.
const NEEDLES: [&[u8]; 2] = [b"content-length:", b"content-type:"];
const LONGEST_NEEDLE: usize = 15;

/// What the framer makes of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A valid JSON-RPC message for the server (its body; `repaired` lone surrogates were replaced;
    /// `change`: the document and version of a `textDocument/didChange`, when its params name them).
    Message { body: Vec<u8>, repaired: usize, change: Option<Changed> },
    /// A message that does not decode: the error response to send to the client (a JSON body), and why.
    Reply { response: Vec<u8>, code: i64, reason: String },
    /// Bytes between messages that are not a header, skipped up to the next header.
    Skipped(usize),
}

/// What a `textDocument/didChange` changes, read while the body is checked (no second parse): its
/// `params.textDocument.uri` as the client wrote it and its `version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    pub uri: String,
    pub version: i64,
}

#[derive(Debug)]
enum State {
    /// Between messages: a header must start here (blank lines are tolerated).
    Start,
    /// Looking for the next header after bytes that are not one; `skipped` so far.
    Resync { skipped: usize },
    /// Inside a header block.
    Header { lines: usize, length: Option<Result<usize, String>>, problem: Option<String> },
    /// Reading a body of `len` bytes; lines up to `scanned` were checked for a header inside it;
    /// `problem` when the header block was malformed (the body is then read and rejected).
    Body { len: usize, scanned: usize, problem: Option<String> },
}

/// An incremental LSP message framer: [`push`](Framer::push) bytes, then take [`next`](Framer::next)
/// events until it returns `None`; [`finish`](Framer::finish) at the end of input.
#[derive(Debug)]
pub struct Framer {
    buf: Vec<u8>,
    /// Bytes of `buf` before `pos` are consumed.
    pos: usize,
    /// The body being read (in `State::Body`).
    body: Vec<u8>,
    state: State,
    max_message: usize,
}

impl Default for Framer {
    fn default() -> Self {
        Framer::new(MAX_MESSAGE)
    }
}

enum Step {
    Emit(Event),
    Again,
    NeedMore,
}

impl Framer {
    /// A framer that accepts bodies up to `max_message` bytes.
    pub fn new(max_message: usize) -> Framer {
        Framer { buf: Vec::new(), pos: 0, body: Vec::new(), state: State::Start, max_message }
    }

    /// Adds input.
    pub fn push(&mut self, mut data: &[u8]) {
        if let State::Body { len, .. } = self.state
            && self.pos == self.buf.len()
        {
            // Straight into the body (nothing read before it waits in `buf`).
            let take = (len - self.body.len()).min(data.len());
            self.body.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        if self.pos > 0 && (self.pos == self.buf.len() || self.pos >= self.buf.len() / 2) {
            self.buf.drain(..self.pos);
            self.pos = 0;
            if self.buf.is_empty() && self.buf.capacity() > 4 << 20 {
                self.buf = Vec::new(); // not to keep a huge message's room for good
            }
        }
        self.buf.extend_from_slice(data);
    }

    /// The length of a body that is all there, about to be checked (a large one is worth checking off
    /// the async thread).
    pub fn complete_body(&self) -> Option<usize> {
        match self.state {
            State::Body { len, .. } if self.buffered() >= len => Some(len),
            _ => None,
        }
    }

    /// Bytes held (a partial header or body, or the tail kept while resynchronising).
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos + self.body.len()
    }

    /// The next event, or `None` when more input is needed.
    pub fn next_event(&mut self) -> Option<Event> {
        loop {
            match self.step() {
                Step::Emit(e) => return Some(e),
                Step::Again => continue,
                Step::NeedMore => return None,
            }
        }
    }

    /// The end of input: what is left of an unfinished message. Call after `next_event` returned `None`.
    pub fn finish(&mut self) -> Option<Event> {
        let left = self.buffered();
        let state = std::mem::replace(&mut self.state, State::Start);
        self.pos = self.buf.len();
        self.body = Vec::new();
        match state {
            State::Start | State::Resync { .. } if left == 0 => None,
            State::Start => Some(Event::Skipped(left)),
            State::Resync { skipped } => Some(Event::Skipped(skipped + left)),
            State::Header { .. } => Some(reply(PARSE_ERROR, &Value::Null, "the input ended inside a header".into())),
            State::Body { len, .. } => Some(reply(
                PARSE_ERROR,
                &Value::Null,
                format!("the input ended {left} bytes into a body of {len} (Content-Length)"),
            )),
        }
    }

    fn step(&mut self) -> Step {
        let rest = &self.buf[self.pos..];
        match &mut self.state {
            State::Start => {
                let blank = rest.iter().take_while(|b| matches!(b, b'\r' | b'\n')).count();
                self.pos += blank;
                let rest = &rest[blank..];
                if rest.is_empty() {
                    return Step::NeedMore;
                }
                if NEEDLES.iter().any(|n| starts_with_ignore_case(rest, n)) {
                    self.state = State::Header { lines: 0, length: None, problem: None };
                    return Step::Again;
                }
                if NEEDLES.iter().any(|n| rest.len() < n.len() && starts_with_ignore_case(n, rest)) {
                    return Step::NeedMore;
                }
                self.state = State::Resync { skipped: 0 };
                Step::Again
            }
            State::Resync { skipped } => match find_needle(rest) {
                Some(at) => {
                    let total = *skipped + at;
                    self.pos += at;
                    self.state = State::Start;
                    if total == 0 { Step::Again } else { Step::Emit(Event::Skipped(total)) }
                }
                None => {
                    // A header starting before the last `LONGEST_NEEDLE - 1` bytes would have been found.
                    let drop = rest.len().saturating_sub(LONGEST_NEEDLE - 1);
                    *skipped += drop;
                    self.pos += drop;
                    Step::NeedMore
                }
            },
            State::Header { lines, length, problem } => {
                let window = &rest[..rest.len().min(MAX_HEADER_LINE + 1)];
                let Some(nl) = window.iter().position(|&b| b == b'\n') else {
                    if rest.len() > MAX_HEADER_LINE {
                        // Skip one byte at least, so that the search for the next header moves on.
                        self.pos += 1;
                        self.state = State::Resync { skipped: 1 };
                        let why = format!("a header line is longer than {MAX_HEADER_LINE} bytes");
                        return Step::Emit(reply(PARSE_ERROR, &Value::Null, why));
                    }
                    return Step::NeedMore;
                };
                let line = rest[..nl].strip_suffix(b"\r").unwrap_or(&rest[..nl]);
                if line.is_empty() {
                    self.pos += nl + 1;
                    let length = length.take();
                    let problem = problem.take();
                    let len = match length {
                        None => Err("no Content-Length header".to_string()),
                        Some(Err(why)) => Err(why),
                        Some(Ok(n)) if n > self.max_message => {
                            Err(format!("Content-Length {n} is larger than the maximum of {}", self.max_message))
                        }
                        Some(Ok(n)) => Ok(n),
                    };
                    return match len {
                        Ok(len) => {
                            // Room for the whole body, up to a limit (a hostile length is not a reason
                            // to reserve memory before the bytes arrive).
                            self.body = Vec::with_capacity(len.min(64 << 20));
                            self.state = State::Body { len, scanned: 0, problem };
                            Step::Again
                        }
                        Err(why) => {
                            // The body, if any, is not a header: the next state skips it.
                            self.state = State::Start;
                            Step::Emit(reply(PARSE_ERROR, &Value::Null, why))
                        }
                    };
                }
                *lines += 1;
                if *lines > MAX_HEADER_LINES {
                    self.state = State::Resync { skipped: 0 };
                    let why = format!("a header block has more than {MAX_HEADER_LINES} lines");
                    return Step::Emit(reply(PARSE_ERROR, &Value::Null, why));
                }
                match std::str::from_utf8(line).ok().and_then(|l| l.split_once(':')) {
                    None if problem.is_none() => {
                        *problem = Some(if std::str::from_utf8(line).is_err() {
                            "a header line is not UTF-8".to_string()
                        } else {
                            "a header line has no `:`".to_string()
                        });
                    }
                    None => {}
                    Some((name, value)) if name.trim().eq_ignore_ascii_case("content-length") => {
                        let parsed = parse_length(value.trim());
                        *length = match (length.take(), parsed) {
                            (Some(Ok(a)), Ok(b)) if a != b => {
                                Some(Err(format!("two Content-Length headers: {a}, {b}")))
                            }
                            (Some(Err(e)), _) => Some(Err(e)),
                            (_, parsed) => Some(parsed),
                        };
                    }
                    Some(_) => {} // Content-Type, or a header LSP does not define: ignored.
                }
                self.pos += nl + 1;
                Step::Again
            }
            State::Body { len, scanned, problem } => {
                let len = *len;
                // The body gathers in a buffer of its own, handed out whole at the end without a copy.
                let take = (len - self.body.len()).min(rest.len());
                self.body.extend_from_slice(&rest[..take]);
                self.pos += take;
                if let Some(at) = header_inside(&self.body, *scanned) {
                    self.state = State::Start;
                    self.unread_body_from(at);
                    let why = format!(
                        "a header starts {at} bytes into a body of {len} (Content-Length is wrong; skipped to that header)"
                    );
                    return Step::Emit(reply(PARSE_ERROR, &Value::Null, why));
                }
                *scanned = self.body.len();
                if self.body.len() < len {
                    return Step::NeedMore;
                }
                let problem = problem.take();
                self.state = State::Start;
                let mut body = std::mem::take(&mut self.body);
                if let Some(why) = problem {
                    return Step::Emit(reply(PARSE_ERROR, &Value::Null, why));
                }
                match decode(&mut body) {
                    Ok((repaired, change)) => Step::Emit(Event::Message { body, repaired, change }),
                    Err(Rejection { code, id, reason }) => {
                        // A body that is not JSON may have been cut short by a header (too long a length).
                        let cut = if code == PARSE_ERROR { header_at_end(&body) } else { None };
                        let reason = match cut {
                            Some(at) => {
                                self.body = body;
                                self.unread_body_from(at);
                                format!(
                                    "{reason}; a header starts {at} bytes into a body of {len} (Content-Length is wrong)"
                                )
                            }
                            None => reason,
                        };
                        Step::Emit(reply(code, &id, reason))
                    }
                }
            }
        }
    }

    /// Puts the body's bytes from `at` back in front of the input (a header starts there).
    fn unread_body_from(&mut self, at: usize) {
        let mut back = self.body.split_off(at);
        back.extend_from_slice(&self.buf[self.pos..]);
        self.buf = back;
        self.pos = 0;
        self.body = Vec::new();
    }
}

/// A Content-Length value: decimal digits only.
fn parse_length(value: &str) -> Result<usize, String> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("Content-Length `{}` is not a number of bytes", value.escape_debug()));
    }
    value.parse().map_err(|_| format!("Content-Length {value} is too large"))
}

fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// The needle (header name) at `at`, if any.
fn needle_at(s: &[u8], at: usize) -> Option<usize> {
    NEEDLES.iter().find(|n| starts_with_ignore_case(&s[at..], n)).map(|n| n.len())
}

/// The first header name in `s`.
fn find_needle(s: &[u8]) -> Option<usize> {
    (0..s.len()).find(|&i| matches!(s[i], b'c' | b'C') && needle_at(s, i).is_some())
}

/// Where a complete header line starts inside a body, checking the lines that end at or after `from`:
/// a header name followed by no `"` up to a raw line feed. Such a body cannot be JSON (a raw line feed
/// cannot be inside a string, and a header name cannot be outside one), so the Content-Length was too
/// long and the client's next message starts there.
fn header_inside(region: &[u8], from: usize) -> Option<usize> {
    let mut q = from;
    while let Some(i) = memchr::memchr(b'\n', &region[q..]) {
        let nl = q + i;
        q = nl + 1;
        let floor = nl.saturating_sub(MAX_HEADER_LINE);
        let line_start = memchr::memrchr(b'\n', &region[floor..nl]).map_or(floor, |j| floor + j + 1);
        let after_quote = memchr::memrchr(b'"', &region[line_start..nl]).map_or(line_start, |j| line_start + j + 1);
        if let Some(at) = (after_quote..nl).find(|&p| needle_at(&region[..nl], p).is_some()) {
            return Some(at);
        }
    }
    None
}

/// Where a header starts at the end of a body that is not JSON: a header name with no line feed or `"`
/// after it, or a tail that is the start of one (the rest of the header follows the body).
fn header_at_end(body: &[u8]) -> Option<usize> {
    let last_line = memchr::memrchr(b'\n', body).map_or(0, |i| i + 1);
    let after_quote = memchr::memrchr(b'"', &body[last_line..]).map_or(last_line, |j| last_line + j + 1);
    let whole = (after_quote..body.len()).find(|&p| needle_at(body, p).is_some());
    let partial = (body.len().saturating_sub(LONGEST_NEEDLE - 1)..body.len())
        .find(|&p| NEEDLES.iter().any(|n| body.len() - p < n.len() && starts_with_ignore_case(n, &body[p..])));
    match (whole, partial) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn reply(code: i64, id: &Value, reason: String) -> Event {
    Event::Reply { response: error_response(id, code, &reason), code, reason }
}

/// A JSON-RPC error response body.
pub fn error_response(id: &Value, code: i64, reason: &str) -> Vec<u8> {
    let title = if code == PARSE_ERROR { "Parse error" } else { "Invalid Request" };
    let message = format!("{title}: {reason}");
    serde_json::to_vec(&serde_json::json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}))
        .unwrap_or_default()
}

/// Why a body is not a message: the code, the id to answer with, and a reason.
#[derive(Debug)]
struct Rejection {
    code: i64,
    id: Value,
    reason: String,
}

impl Rejection {
    fn parse(reason: String) -> Rejection {
        Rejection { code: PARSE_ERROR, id: Value::Null, reason }
    }
    fn invalid(id: &Value, reason: impl Into<String>) -> Rejection {
        Rejection { code: INVALID_REQUEST, id: id.clone(), reason: reason.into() }
    }
}

/// Checks a body as a JSON-RPC message, repairing lone surrogates in place; how many were repaired,
/// and what a `didChange` changes.
fn decode(body: &mut [u8]) -> Result<(usize, Option<Changed>), Rejection> {
    if body.is_empty() {
        return Err(Rejection::parse("the body is empty".into()));
    }
    let repaired = repair_lone_surrogates(body);
    // UTF-8 checked once, as tower-lsp does: serde_json reads a `str` about twice as fast as bytes,
    // which it checks string by string.
    let text = std::str::from_utf8(body).map_err(|e| Rejection::parse(format!("the body is not UTF-8 ({e})")))?;
    let mut de = serde_json::Deserializer::from_str(text);
    let top = Top::deserialize(&mut de).and_then(|top| de.end().map(|()| top));
    let top = top.map_err(|e| Rejection::parse(format!("the body is not JSON ({e})")))?;
    let change = match &top {
        Top::Object(e) if e.method.as_ref().and_then(Value::as_str) == Some("textDocument/didChange") => {
            e.change.clone()
        }
        _ => None,
    };
    validate(top, body)?;
    Ok((repaired, change))
}

fn validate(top: Top, body: &[u8]) -> Result<(), Rejection> {
    let e = match top {
        Top::Array => {
            return Err(Rejection::invalid(
                &Value::Null,
                "a batch (JSON array): the Language Server Protocol has none",
            ));
        }
        Top::Other => return Err(Rejection::invalid(&Value::Null, "the body is not a JSON object")),
        Top::Object(e) => e,
    };
    let valid_id = |id: &Value| id.is_i64() || id.is_string() || id.is_null();
    let echo = match &e.id {
        Some(id) if valid_id(id) && (e.method.is_some() || e.result.is_none() && e.error.is_none()) => id.clone(),
        _ => Value::Null,
    };
    if let Some(key) = e.duplicate {
        return Err(Rejection::invalid(&echo, format!("`{key}` appears twice")));
    }
    if e.jsonrpc.as_ref().and_then(Value::as_str) != Some("2.0") {
        return Err(Rejection::invalid(&echo, "`\"jsonrpc\": \"2.0\"` is missing"));
    }
    if let Some(id) = &e.id
        && !valid_id(id)
    {
        return Err(Rejection::invalid(&Value::Null, format!("`id` {id} is not an integer, a string or null")));
    }
    match (&e.method, e.result.is_some() || e.error.is_some()) {
        (Some(method), false) => {
            if !method.is_string() {
                return Err(Rejection::invalid(&echo, "`method` is not a string"));
            }
            if matches!(e.params, Some(Kind::Scalar)) {
                return Err(Rejection::invalid(&echo, "`params` is not an object or an array"));
            }
            Ok(())
        }
        (Some(_), true) => Err(Rejection::invalid(&echo, "a message with `method` and `result` or `error`")),
        (None, false) => Err(Rejection::invalid(&echo, "no `method` (nor `result` or `error`)")),
        (None, true) => {
            // A response to one of the server's requests: its id is the server's, never echoed.
            let null = Value::Null;
            if e.id.is_none() {
                return Err(Rejection::invalid(&null, "a response without `id`"));
            }
            if e.result.is_some() && e.error.is_some() {
                return Err(Rejection::invalid(&null, "a response with both `result` and `error`"));
            }
            // Responses are small: tower-lsp's own type is the judge of the rest (the error object).
            if serde_json::from_slice::<tower_lsp_server::jsonrpc::Response>(body).is_err() {
                return Err(Rejection::invalid(&null, "a response whose `error` is not a JSON-RPC error object"));
            }
            Ok(())
        }
    }
}

/// Replaces each `\uXXXX` escape of a lone UTF-16 surrogate with `\ufffd` (the same length, in place);
/// pairs are kept. Returns how many were replaced.
pub fn repair_lone_surrogates(body: &mut [u8]) -> usize {
    fn unit(s: &[u8]) -> Option<u16> {
        if s.len() >= 6 && s[0] == b'\\' && s[1] == b'u' {
            let hex = std::str::from_utf8(&s[2..6]).ok()?;
            if hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return u16::from_str_radix(hex, 16).ok();
            }
        }
        None
    }
    let mut repaired = 0;
    let mut from = 0;
    let finder = memchr::memmem::Finder::new(b"\\u");
    while let Some(j) = finder.find(&body[from..]) {
        let at = from + j;
        from = at + 2;
        // An escape only when the backslashes right before it pair up (`\\u` is a backslash, then `u`).
        if body[..at].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 1 {
            continue;
        }
        match unit(&body[at..]) {
            Some(0xD800..=0xDBFF) if matches!(unit(&body[at + 6..]), Some(0xDC00..=0xDFFF)) => from = at + 12,
            Some(0xD800..=0xDFFF) => {
                body[at + 2..at + 6].copy_from_slice(b"fffd");
                repaired += 1;
                from = at + 6;
            }
            _ => {}
        }
        if from >= body.len() {
            break;
        }
    }
    repaired
}

/// The top level of a body: what matters of a JSON-RPC message, read without building its `params`
/// or `result` (a whole document's text) as values.
enum Top {
    Object(Envelope),
    Array,
    Other,
}

#[derive(Default)]
struct Envelope {
    jsonrpc: Option<Value>,
    method: Option<Value>,
    id: Option<Value>,
    params: Option<Kind>,
    result: Option<Kind>,
    error: Option<Kind>,
    /// A member that appears twice (tower-lsp's decoder refuses that).
    duplicate: Option<&'static str>,
    /// `params.textDocument`'s `uri` and `version`, when both are there (any method).
    change: Option<Changed>,
}

/// The kind of a value whose content is only checked (it is JSON that serde_json can read into a value:
/// numbers in range, strings valid), never kept.
#[derive(PartialEq)]
enum Kind {
    Object,
    Array,
    Null,
    Scalar,
}

impl<'de> Deserialize<'de> for Top {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Top;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
                let mut e = Envelope::default();
                while let Some(key) = map.next_key::<Key>()? {
                    fn put<T>(slot: &mut Option<T>, v: T, name: &'static str, dup: &mut Option<&'static str>) {
                        if slot.is_some() {
                            dup.get_or_insert(name);
                        }
                        *slot = Some(v);
                    }
                    let dup = &mut e.duplicate;
                    match key {
                        Key::Jsonrpc => put(&mut e.jsonrpc, map.next_value()?, "jsonrpc", dup),
                        Key::Method => put(&mut e.method, map.next_value()?, "method", dup),
                        Key::Id => put(&mut e.id, map.next_value()?, "id", dup),
                        Key::Params => {
                            let (kind, change) = map.next_value_seed(Params)?;
                            e.change = change;
                            put(&mut e.params, kind, "params", dup)
                        }
                        Key::Result => put(&mut e.result, map.next_value()?, "result", dup),
                        Key::Error => put(&mut e.error, map.next_value()?, "error", dup),
                        Key::Other => map.next_value::<Kind>().map(drop)?,
                    }
                }
                Ok(Top::Object(e))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Top, A::Error> {
                KindVisitor.visit_seq(seq).map(|_| Top::Array)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Top, E> {
                Ok(Top::Other)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Top, E> {
                Ok(Top::Other)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Top, E> {
                Ok(Top::Other)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Top, E> {
                Ok(Top::Other)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Top, E> {
                Ok(Top::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Top, E> {
                Ok(Top::Other)
            }
        }
        d.deserialize_any(V)
    }
}

enum Key {
    Jsonrpc,
    Method,
    Id,
    Params,
    Result,
    Error,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key, E> {
                Ok(match s {
                    "jsonrpc" => Key::Jsonrpc,
                    "method" => Key::Method,
                    "id" => Key::Id,
                    "params" => Key::Params,
                    "result" => Key::Result,
                    "error" => Key::Error,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_str(V)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        while map.next_entry_seed(Check, Check)?.is_some() {}
        Ok(Kind::Object)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        while seq.next_element_seed(Check)?.is_some() {}
        Ok(Kind::Array)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Kind, E> {
        Ok(Kind::Scalar)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Kind, E> {
        Ok(Kind::Scalar)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Kind, E> {
        Ok(Kind::Scalar)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Kind, E> {
        Ok(Kind::Scalar)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Kind, E> {
        Ok(Kind::Scalar)
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KindVisitor)
    }
}

/// `params`, checked as any value (`Kind`), keeping `textDocument.uri` and `textDocument.version` when
/// it is an object that has them (as a string and an integer).
struct Params;

impl<'de> DeserializeSeed<'de> for Params {
    type Value = (Kind, Option<Changed>);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(Members(Params))
    }
}

/// `params.textDocument`, checked as any value, keeping its `uri` and `version`.
struct DocId;

impl<'de> DeserializeSeed<'de> for DocId {
    type Value = Option<Changed>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(Members(DocId)).map(|(_, change)| change)
    }
}

/// What an object holds for `Members`: which member names matter, and what is made of them.
trait Pick {
    /// The member names read.
    const NAMES: &'static [&'static str];
    fn read<'de, A: MapAccess<'de>>(&self, index: usize, map: &mut A, into: &mut Picked) -> Result<(), A::Error>;
}

/// The members read so far.
#[derive(Default)]
struct Picked {
    uri: Option<String>,
    version: Option<i64>,
    change: Option<Changed>,
}

impl Pick for Params {
    const NAMES: &'static [&'static str] = &["textDocument"];
    fn read<'de, A: MapAccess<'de>>(&self, _: usize, map: &mut A, into: &mut Picked) -> Result<(), A::Error> {
        into.change = map.next_value_seed(DocId)?;
        Ok(())
    }
}

impl Pick for DocId {
    const NAMES: &'static [&'static str] = &["uri", "version"];
    fn read<'de, A: MapAccess<'de>>(&self, index: usize, map: &mut A, into: &mut Picked) -> Result<(), A::Error> {
        match (index, map.next_value_seed(LeafSeed)?) {
            (0, Leaf::Str(s)) => into.uri = Some(s),
            (1, Leaf::Int(v)) => into.version = Some(v),
            _ => {}
        }
        Ok(())
    }
}

/// Any value, checked as `KindVisitor` checks it; in an object, the members `P` names are read.
struct Members<P>(P);

impl<'de, P: Pick> Visitor<'de> for Members<P> {
    type Value = (Kind, Option<Changed>);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut picked = Picked::default();
        while let Some(name) = map.next_key_seed(Name(P::NAMES))? {
            match name {
                Some(i) => self.0.read(i, &mut map, &mut picked)?,
                None => map.next_value_seed(Check)?,
            }
        }
        let change = match (picked.uri, picked.version) {
            (Some(uri), Some(version)) => Some(Changed { uri, version }),
            _ => picked.change,
        };
        Ok((Kind::Object, change))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        KindVisitor.visit_seq(seq).map(|k| (k, None))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok((Kind::Null, None))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok((Kind::Scalar, None))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok((Kind::Scalar, None))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok((Kind::Scalar, None))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok((Kind::Scalar, None))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok((Kind::Scalar, None))
    }
}

/// A member name: its index in the names given, or `None` (nothing allocated).
struct Name(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for Name {
    type Value = Option<usize>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for Name {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|n| *n == s))
    }
}

/// A member's value, kept when it is a string or an integer (anything else is checked, not kept).
enum Leaf {
    Str(String),
    Int(i64),
    Other,
}

struct LeafSeed;

impl<'de> DeserializeSeed<'de> for LeafSeed {
    type Value = Leaf;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Leaf, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Leaf;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Leaf, A::Error> {
                KindVisitor.visit_map(map).map(|_| Leaf::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Leaf, A::Error> {
                KindVisitor.visit_seq(seq).map(|_| Leaf::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Leaf, E> {
                Ok(Leaf::Other)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Leaf, E> {
                Ok(Leaf::Other)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Leaf, E> {
                Ok(Leaf::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Leaf, E> {
                Ok(i64::try_from(v).map_or(Leaf::Other, Leaf::Int))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Leaf, E> {
                Ok(Leaf::Other)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Leaf, E> {
                Ok(Leaf::Str(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Reads any value through `deserialize_any` (unlike `IgnoredAny`, serde_json then checks numbers'
/// ranges as it does when it builds a value), keeping nothing.
#[derive(Clone, Copy)]
struct Check;

impl<'de> DeserializeSeed<'de> for Check {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(KindVisitor).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    const HOVER: &str = r#"{"jsonrpc":"2.0","id":7,"method":"textDocument/hover","params":{}}"#;

    /// All events of `input` fed in one piece, then the end of input.
    fn events(input: &[u8]) -> Vec<Event> {
        let mut f = Framer::new(1 << 20);
        f.push(input);
        let mut out: Vec<Event> = std::iter::from_fn(|| f.next_event()).collect();
        out.extend(f.finish());
        out
    }

    /// The same, fed in chunks of the given sizes (cycled).
    fn events_chunked(input: &[u8], sizes: &[usize]) -> Vec<Event> {
        let mut f = Framer::new(1 << 20);
        let mut out = Vec::new();
        let (mut at, mut k) = (0, 0);
        while at < input.len() {
            let n = sizes[k % sizes.len()].max(1).min(input.len() - at);
            f.push(&input[at..at + n]);
            out.extend(std::iter::from_fn(|| f.next_event()));
            at += n;
            k += 1;
            assert!(f.buffered() <= (1 << 20), "{} bytes held", f.buffered());
        }
        out.extend(f.finish());
        out
    }

    /// Messages and (code, id) of replies, skips left out.
    fn summary(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Message { body, .. } => Some(String::from_utf8_lossy(body).into_owned()),
                Event::Reply { response, code, .. } => {
                    let v: Value = serde_json::from_slice(response).unwrap();
                    Some(format!("{code} id={}", v["id"]))
                }
                Event::Skipped(_) => None,
            })
            .collect()
    }

    /// A `didChange`'s document and version are read while its body is checked; nothing for other
    /// methods, or when they are not a string and an integer (the message still passes).
    #[test]
    fn did_change_messages_name_their_document_and_version() {
        let change = |body: &str| match &events(frame(body).as_bytes())[..] {
            [Event::Message { change, .. }] => change.clone(),
            other => panic!("{other:?}"),
        };
        let body = r#"{"params":{"contentChanges":[{"text":"x"}],"textDocument":{"version":7,"extra":[1,{"a":2}],"uri":"file:///a%20b.py"}},"jsonrpc":"2.0","method":"textDocument/didChange"}"#;
        assert_eq!(change(body), Some(Changed { uri: "file:///a%20b.py".into(), version: 7 }));
        let escaped = r#"{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"file:///é.py","version":1}}}"#;
        assert_eq!(change(escaped), Some(Changed { uri: "file:///é.py".into(), version: 1 }));
        assert_eq!(change(&body.replace("didChange", "didSave")), None);
        assert_eq!(change(&body.replace("\"version\":7", "\"version\":\"7\"")), None);
        assert_eq!(change(&body.replace("\"uri\":\"file:///a%20b.py\"", "\"uri\":null")), None);
        assert_eq!(change(r#"{"jsonrpc":"2.0","method":"textDocument/didChange","params":[1]}"#), None);
    }

    #[test]
    fn valid_messages_pass_whole_and_in_any_chunks() {
        let input = format!("{}{}", frame(HOVER), frame(r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#));
        let expected = events(input.as_bytes());
        assert_eq!(expected.len(), 2);
        assert!(matches!(&expected[0], Event::Message { body, repaired: 0, .. } if body == HOVER.as_bytes()));
        for sizes in [&[1][..], &[2, 3], &[7], &[100]] {
            assert_eq!(events_chunked(input.as_bytes(), sizes), expected);
        }
        // Content-Type first, lower-case names, LF line ends, blank lines between messages.
        let other = format!(
            "content-type: application/vscode-jsonrpc; charset=utf-8\r\ncontent-length: {}\n\n{HOVER}\r\n\r\n{}",
            HOVER.len(),
            frame(HOVER)
        );
        assert_eq!(summary(&events(other.as_bytes())), [HOVER, HOVER]);
    }

    #[test]
    fn bodies_that_are_not_messages_get_the_specified_errors() {
        let cases: &[(&str, &str)] = &[
            ("{ not json", "-32700 id=null"),
            ("", "-32700 id=null"),
            ("{}", "-32600 id=null"),
            ("[]", "-32600 id=null"),
            (r#"[{"jsonrpc":"2.0","id":1,"method":"shutdown"}]"#, "-32600 id=null"),
            ("3", "-32600 id=null"),
            (r#"{"jsonrpc":"2.0","id":1.5,"method":"shutdown"}"#, "-32600 id=null"),
            (r#"{"jsonrpc":"2.0","id":18446744073709551615,"method":"x"}"#, "-32600 id=null"),
            (r#"{"jsonrpc":"2.0","id":3,"method":5}"#, "-32600 id=3"),
            (r#"{"id":4,"method":"shutdown"}"#, "-32600 id=4"),
            (r#"{"jsonrpc":"1.0","id":"a","method":"shutdown"}"#, r#"-32600 id="a""#),
            (r#"{"jsonrpc":"2.0","id":5,"method":"x","params":3}"#, "-32600 id=5"),
            (r#"{"jsonrpc":"2.0","id":6,"method":"x","params":"s"}"#, "-32600 id=6"),
            (r#"{"jsonrpc":"2.0","id":7}"#, "-32600 id=7"),
            (r#"{"jsonrpc":"2.0","id":8,"method":"x","method":"y"}"#, "-32600 id=8"),
            (r#"{"jsonrpc":"2.0","id":9,"method":"x","result":1}"#, "-32600 id=9"),
            (r#"{"jsonrpc":"2.0","id":9,"result":1,"error":{"code":1,"message":"m"}}"#, "-32600 id=null"),
            (r#"{"jsonrpc":"2.0","id":9,"error":{"code":1,"message":"m","extra":0}}"#, "-32600 id=null"),
            (r#"{"jsonrpc":"2.0","result":1}"#, "-32600 id=null"),
            (r#"{"jsonrpc":"2.0","method":"x","params":[1e999]}"#, "-32700 id=null"),
            ("{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":[\"\\ud800\"]}\u{1}", "-32700 id=null"),
        ];
        for (body, expected) in cases {
            let got = summary(&events(frame(body).as_bytes()));
            assert_eq!(got, [*expected], "{body}");
            // And the session goes on.
            let got = summary(&events(format!("{}{}", frame(body), frame(HOVER)).as_bytes()));
            assert_eq!(got, [*expected, HOVER], "{body}");
        }
        for ok in [
            r#"{"jsonrpc":"2.0","id":null,"method":"x","params":null}"#,
            r#"{"jsonrpc":"2.0","id":"s","method":"x","params":[1,2]}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":null}"#,
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"m","data":[1]}}"#,
            r#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":1},"other":{"x":[true]}}"#,
        ] {
            assert_eq!(summary(&events(frame(ok).as_bytes())), [ok]);
        }
    }

    #[test]
    fn lone_surrogates_become_replacement_characters_and_pairs_stay() {
        let mut s = br#"["\ud83d", "\ud83d\ude00", "\ude00x", "\\ud800", "\uD800\uD800\uDC00", "\u0041"]"#.to_vec();
        assert_eq!(repair_lone_surrogates(&mut s), 3);
        assert_eq!(
            String::from_utf8(s).unwrap(),
            r#"["\ufffd", "\ud83d\ude00", "\ufffdx", "\\ud800", "\ufffd\uD800\uDC00", "\u0041"]"#
        );
        let body = r#"{"jsonrpc":"2.0","method":"x","params":{"text":"a\ud83d"}}"#;
        let got = events(frame(body).as_bytes());
        assert!(
            matches!(&got[..], [Event::Message { body, repaired: 1, .. }] if body.ends_with(br#""a\ufffd"}}"#)),
            "{got:?}"
        );
        // Truncated escapes at the end of a body are left alone (and rejected as not JSON).
        for tail in ["\\", "\\u", "\\ud8"] {
            let mut s = format!("\"{tail}").into_bytes();
            assert_eq!(repair_lone_surrogates(&mut s), 0);
        }
    }

    #[test]
    fn a_content_length_one_off_costs_one_message() {
        let body = r#"{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"text":"é"}}"#;
        // Too short (a client counting characters, not bytes), then too long.
        for delta in [-1i64, 1, -5, 5, 40] {
            let bad = format!("Content-Length: {}\r\n\r\n{body}", body.len() as i64 + delta);
            let input = format!("{bad}{}{}", frame(HOVER), frame(HOVER));
            let expected = events(input.as_bytes());
            assert_eq!(summary(&expected), ["-32700 id=null", HOVER, HOVER], "{delta}");
            for sizes in [&[1][..], &[3, 5], &[64]] {
                assert_eq!(events_chunked(input.as_bytes(), sizes), expected, "{delta} {sizes:?}");
            }
            // A too-long body followed by one request is answered without waiting for more input.
            let mut f = Framer::new(1 << 20);
            f.push(format!("{bad}{}", frame(HOVER)).as_bytes());
            let got: Vec<Event> = std::iter::from_fn(|| f.next_event()).collect();
            assert_eq!(summary(&got), ["-32700 id=null", HOVER], "{delta}");
        }
    }

    #[test]
    fn hostile_headers_and_garbage_do_not_stop_the_session() {
        let long = format!("X-Long: {}\r\n", "a".repeat(MAX_HEADER_LINE * 3));
        let many = "X-A: 1\r\n".repeat(MAX_HEADER_LINES + 1);
        let cases: Vec<(Vec<u8>, &[&str])> = vec![
            (format!("Content-Type: x\r\n\r\n{HOVER}").into_bytes(), &["-32700 id=null"]),
            (format!("Content-Length: 99999999999999\r\n\r\n{HOVER}").into_bytes(), &["-32700 id=null"]),
            (format!("Content-Length: 999999999999999999999999\r\n\r\n{HOVER}").into_bytes(), &["-32700 id=null"]),
            (format!("Content-Length: -5\r\n\r\n{HOVER}").into_bytes(), &["-32700 id=null"]),
            (format!("Content-Length: five\r\n\r\n{HOVER}").into_bytes(), &["-32700 id=null"]),
            (format!("Content-Length: 3\r\nContent-Length: 4\r\n\r\n{HOVER}").into_bytes(), &["-32700 id=null"]),
            (b"Content-Length: 0\r\n\r\n".to_vec(), &["-32700 id=null"]),
            (b"garbage between messages\r\n\x00\xff".to_vec(), &[]),
            ([b"Content-Type: \xff\r\n".as_slice(), frame(HOVER).as_bytes()].concat(), &["-32700 id=null"]),
            (format!("Content-Length: {}\r\n{long}\r\n{HOVER}", HOVER.len()).into_bytes(), &["-32700 id=null"]),
            (format!("Content-Length: {}\r\n{many}\r\n{HOVER}", HOVER.len()).into_bytes(), &["-32700 id=null"]),
            (
                format!("Content-Length: 1\r\n{}\r\nx", "content-length: 1\r\n".repeat(40)).into_bytes(),
                &["-32700 id=null", "-32700 id=null"],
            ),
            (
                format!("{}{}", "Content-Length: 10\r\n", "x".repeat(MAX_HEADER_LINE * 4)).into_bytes(),
                &["-32700 id=null"],
            ),
        ];
        for (prefix, expected) in cases {
            let input = [prefix.as_slice(), frame(HOVER).as_bytes()].concat();
            let whole = events(&input);
            let mut want: Vec<&str> = expected.to_vec();
            want.push(HOVER);
            assert_eq!(summary(&whole), want, "{}", String::from_utf8_lossy(&prefix[..prefix.len().min(80)]));
            assert_eq!(events_chunked(&input, &[1, 2, 5]), whole);
        }
        // A message cut by the end of input, and garbage at the end.
        assert_eq!(summary(&events(&frame(HOVER).as_bytes()[..30])), ["-32700 id=null"]);
        assert_eq!(summary(&events(b"Content-Len")), Vec::<String>::new());
        assert_eq!(events(b"xyz"), [Event::Skipped(3)]);
    }

    /// A small deterministic generator (xorshift64*).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Random inputs built from protocol pieces and noise, in random chunks: no panic, bounded memory,
    /// the same events whatever the chunking, every message one that tower-lsp decodes and every reply a
    /// JSON-RPC error; and after any of it, a blank line and a valid message are always read.
    #[test]
    fn random_input_is_framed_safely() {
        const PIECES: &[&[u8]] = &[
            b"Content-Length: ",
            b"content-type: application/vscode-jsonrpc\r\n",
            b"\r\n",
            b"\n",
            b"\r\n\r\n",
            b"12",
            b"0",
            b"-",
            b"99999999999",
            b"{",
            b"}",
            b"[",
            b"\"",
            b"\\ud800",
            b"\\udc00",
            b"\\",
            b":",
            b",",
            b"\"jsonrpc\":\"2.0\"",
            b"\"id\":1",
            b"\"id\":1.5",
            b"\"method\":\"x\"",
            b"\"params\":{}",
            b"\"params\":3",
            b"\"result\":null",
            b"\xff",
            b"\x00",
            b"Content-Le",
            HOVER.as_bytes(),
        ];
        const MEMBERS: &[&[u8]] = &[
            b"\"jsonrpc\":\"2.0\"",
            b"\"jsonrpc\":\"2.0\"",
            b"\"jsonrpc\":2",
            b"\"id\":1",
            b"\"id\":\"a\"",
            b"\"id\":null",
            b"\"id\":1.5",
            b"\"id\":[]",
            b"\"method\":\"textDocument/hover\"",
            b"\"method\":\"$/x\"",
            b"\"method\":5",
            b"\"params\":{\"text\":\"\\ud83d\\ude00 \\ud800\"}",
            b"\"params\":[1,{\"a\":null}]",
            b"\"params\":null",
            b"\"params\":3",
            b"\"result\":{}",
            b"\"result\":null",
            b"\"error\":{\"code\":-32601,\"message\":\"m\"}",
            b"\"error\":{\"code\":\"x\",\"message\":\"m\"}",
            b"\"error\":5",
            b"\"extra\":[true,false,1e5]",
            b"\"\\u006dethod\":\"x\"",
        ];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for case in 0..4000 {
            let mut input = Vec::new();
            for _ in 0..rng.below(40) {
                match rng.below(10) {
                    0 => input.extend((0..rng.below(20)).map(|_| rng.next() as u8)),
                    1 => input.extend(frame(HOVER).as_bytes()),
                    2 => {
                        let n = rng.below(HOVER.len() + 10);
                        input.extend(format!("Content-Length: {n}\r\n\r\n{HOVER}").as_bytes());
                    }
                    3 | 4 => {
                        // A correctly framed body made of JSON-RPC members, valid or not.
                        let mut body = b"{".to_vec();
                        for k in 0..rng.below(5) {
                            if k > 0 {
                                body.push(b',');
                            }
                            body.extend(MEMBERS[rng.below(MEMBERS.len())]);
                        }
                        body.push(b'}');
                        if rng.below(4) == 0 {
                            body = [b"[".as_slice(), &body, b"]"].concat();
                        }
                        input.extend(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
                        input.extend(body);
                    }
                    _ => input.extend(PIECES[rng.below(PIECES.len())]),
                }
            }
            let whole = events(&input);
            let sizes: Vec<usize> = (0..4).map(|_| 1 + rng.below(12)).collect();
            assert_eq!(events_chunked(&input, &sizes), whole, "case {case}: {}", String::from_utf8_lossy(&input));
            check_events(&whole);
            // Recovery: whatever came before, a blank line and two valid messages: the last is read.
            let recovered =
                events(&[input.as_slice(), b"\r\n\r\n", frame(HOVER).as_bytes(), frame(HOVER).as_bytes()].concat());
            let last = summary(&recovered);
            assert_eq!(
                last.last().map(String::as_str),
                Some(HOVER),
                "case {case}: {}",
                String::from_utf8_lossy(&input)
            );
        }
    }

    /// The invariants of every event (shared with the fuzz target).
    pub fn check_events(events: &[Event]) {
        for e in events {
            match e {
                Event::Message { body, .. } => {
                    assert!(decodes_as_tower_does(body), "{}", String::from_utf8_lossy(body))
                }
                Event::Reply { response, code, .. } => {
                    let v: Value = serde_json::from_slice(response).unwrap();
                    assert_eq!(v["error"]["code"], *code);
                    assert!([PARSE_ERROR, INVALID_REQUEST].contains(code));
                    assert!(v["id"].is_null() || v["id"].is_i64() || v["id"].is_string());
                }
                Event::Skipped(n) => assert!(*n > 0),
            }
        }
    }

    fn decodes_as_tower_does(body: &[u8]) -> bool {
        #[derive(Deserialize)]
        #[serde(untagged)]
        #[allow(dead_code)]
        enum Message {
            Response(tower_lsp_server::jsonrpc::Response),
            Request(tower_lsp_server::jsonrpc::Request),
        }
        std::str::from_utf8(body).is_ok_and(|s| serde_json::from_str::<Message>(s).is_ok())
    }
}
