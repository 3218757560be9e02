//! Output formats of `loopsafe check`: text (source line with the call underlined, as ruff and rustc
//! show it), JSON (a stable contract), SARIF 2.1.0 (code scanning) and GitHub workflow annotations.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::check::Diagnostic;
use crate::rules::{RULES, Tier, doc_url};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
    Github,
}

/// Lines longer than this are shown as a window around the finding.
const MAX_SHOWN_LINE: usize = 160;

struct Style {
    on: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.on { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() }
    }
}

/// The text format. `color` adds ANSI colours.
pub fn text(diags: &[Diagnostic], files_checked: usize, color: bool) -> String {
    let mut out = text_findings(diags, color);
    out.push_str(&root_causes(diags));
    let _ = writeln!(out, "{}", summary(diags, files_checked));
    out
}

/// The findings grouped by root cause, the blocking call each comes down to (directly or at the end of
/// its chain), most reached first, with how many call sites in coroutines reach it: one problem fixed
/// where it is often clears many findings. Empty when no finding names a blocking call.
fn root_causes(diags: &[Diagnostic]) -> String {
    let causes = root_cause_counts(diags);
    let mut out = String::new();
    if causes.is_empty() {
        return out;
    }
    let _ = writeln!(out, "Root causes (call sites reaching each):");
    let width = causes.iter().map(|(_, n)| n.to_string().len()).max().unwrap_or(1);
    for (callee, n) in &causes {
        let _ = writeln!(out, "  {n:>width$}  {}", crate::catalog::display_name(callee));
    }
    out.push('\n');
    out
}

/// The text format without its summary line (`--quiet`).
pub fn text_findings(diags: &[Diagnostic], color: bool) -> String {
    let st = Style { on: color };
    let mut out = String::new();
    for d in diags {
        let f = &d.finding;
        let info = f.rule.info();
        let sev = match f.tier {
            Tier::Critical => st.paint("1;31", info.code),
            Tier::Warning => st.paint("1;33", info.code),
            _ => st.paint("1;36", info.code),
        };
        let _ = writeln!(
            out,
            "{}:{}:{}: {sev} {} {}",
            st.paint("1", &d.path),
            d.start.line,
            d.start.column,
            st.paint("2", &format!("[{}]", info.name)),
            f.message
        );
        let width = d.source.last().map_or(1, |(n, _)| n.to_string().len());
        let gutter = " ".repeat(width);
        let _ = writeln!(out, "{gutter} {}", st.paint("34", "|"));
        for (i, (n, line)) in d.source.iter().enumerate() {
            let (shown, shift) = window(line, d.underline.0);
            let _ = writeln!(out, "{} {} {}", st.paint("34", &format!("{n:>width$}")), st.paint("34", "|"), shown);
            if i == 0 {
                let start = d.underline.0.saturating_sub(shift);
                let len = d.underline.1.saturating_sub(d.underline.0).clamp(1, MAX_SHOWN_LINE);
                let mut label = String::new();
                if let Some(func) = &f.function {
                    label.push_str(&format!(" in `{func}`"));
                }
                if let Some(route) = &f.route {
                    label.push_str(&format!(" ({route})"));
                }
                let _ = writeln!(
                    out,
                    "{gutter} {} {}{}{}",
                    st.paint("34", "|"),
                    " ".repeat(start),
                    st.paint("1;31", &"^".repeat(len)),
                    label
                );
            }
        }
        let _ = writeln!(out, "{gutter} {}", st.paint("34", "|"));
        if d.chain.len() > 1 {
            let _ = writeln!(out, "{gutter} = chain:");
            let mut i = 0;
            for h in &d.chain {
                match h.elided {
                    Some(n) => {
                        let _ = writeln!(out, "{gutter}     …: {} (from {}:{}:{})", h.name, h.path, h.line, h.column);
                        i += n;
                    }
                    None => {
                        let _ = writeln!(out, "{gutter}     {i}: {} at {}:{}:{}", h.name, h.path, h.line, h.column);
                        i += 1;
                    }
                }
            }
        }
        for h in &d.related {
            match &h.message {
                // An operation on the handle the finding's call returned.
                Some(m) => {
                    let _ = writeln!(out, "{gutter} = note: {}:{}:{}: {m}", h.path, h.line, h.column);
                }
                None => {
                    let _ = writeln!(out, "{gutter} = {} at {}:{}:{}", h.name, h.path, h.line, h.column);
                }
            }
        }
        if let Some(instead) = &f.instead {
            let _ = writeln!(out, "{gutter} = {}: {instead}", st.paint("1;32", "instead"));
        }
        let _ = writeln!(out, "{gutter} = see: loopsafe rule {}", info.name);
        out.push('\n');
    }
    out
}

/// `Found 3 findings (2 critical, 1 warning) in 12 files.` / `All checks passed (12 files).`
pub fn summary(diags: &[Diagnostic], files_checked: usize) -> String {
    let files = if files_checked == 1 { "1 file".to_string() } else { format!("{files_checked} files") };
    if diags.is_empty() {
        return format!("All checks passed ({files}).");
    }
    let mut counts: Vec<(Tier, usize)> = Vec::new();
    for t in [Tier::Critical, Tier::Warning, Tier::Info, Tier::Hint] {
        let n = diags.iter().filter(|d| d.finding.tier == t).count();
        if n > 0 {
            counts.push((t, n));
        }
    }
    let parts: Vec<String> = counts.iter().map(|(t, n)| format!("{n} {}", t.as_str())).collect();
    let noun = if diags.len() == 1 { "finding" } else { "findings" };
    format!("Found {} {noun} ({}) in {files}.", diags.len(), parts.join(", "))
}

/// A line short enough to show, and how many characters were cut from its start.
fn window(line: &str, col: usize) -> (String, usize) {
    let n = line.chars().count();
    if n <= MAX_SHOWN_LINE {
        return (line.to_string(), 0);
    }
    let start = col.saturating_sub(MAX_SHOWN_LINE / 4);
    let body: String = line.chars().skip(start).take(MAX_SHOWN_LINE).collect();
    let prefix = if start > 0 { "…" } else { "" };
    let suffix = if start + MAX_SHOWN_LINE < n { "…" } else { "" };
    // The ellipsis takes one column, so the underline shifts by one less.
    (format!("{prefix}{body}{suffix}"), start.saturating_sub(prefix.chars().count()))
}

/// One JSON object per finding; this is a contract other tools read.
pub fn json_value(d: &Diagnostic) -> Value {
    let f = &d.finding;
    let mut v = json!({
        "code": f.rule.code(),
        "rule": f.rule.name(),
        "severity": f.tier.as_str(),
        "message": f.message,
        "path": d.path,
        "line": d.start.line,
        "column": d.start.column,
        "end_line": d.end.line,
        "end_column": d.end.column,
        "callee": f.callee,
        "chain": d.chain,
        "fixes": d.fixes,
        "function": f.function,
        "route": f.route,
        "instead": f.instead,
        "url": doc_url(f.rule),
        "fingerprint": d.fingerprint,
    });
    if let Some(seen) = &d.runtime {
        v["runtime"] = json!(seen);
    }
    if !d.related.is_empty() {
        v["related"] = json!(d.related);
    }
    v
}

pub fn json(diags: &[Diagnostic]) -> String {
    let mut out = Vec::with_capacity(diags.len() * 512);
    write_json(diags, &mut out).expect("writing to memory does not fail");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// The JSON array, written as it is serialized (nothing is built per finding but the fix payloads the
/// report already holds): byte for byte what `json_value` of each finding, pretty-printed, gives
/// (`serde_json::Value` objects print their keys in sorted order, so the fields are written in that
/// order). Written directly, not through serde: the JSON of fixes is nested six levels deep, and most of
/// what it prints is line breaks, keys and short strings, which serde's serializer reaches through a
/// call per field, per key and per string (half of the printing's cost on a file of 10,000 findings).
pub fn write_json(diags: &[Diagnostic], w: &mut impl std::io::Write) -> std::io::Result<()> {
    let mut out = JsonOut { buf: Vec::with_capacity(CHUNK + 4096) };
    if diags.is_empty() {
        return w.write_all(b"[]\n");
    }
    out.buf.push(b'[');
    for (i, d) in diags.iter().enumerate() {
        out.brk(i == 0, 1);
        out.finding(d)?;
        if out.buf.len() >= CHUNK {
            w.write_all(&out.buf)?;
            out.buf.clear();
        }
    }
    out.buf.extend_from_slice(b"\n]\n");
    w.write_all(&out.buf)
}

/// Whether one of the eight bytes of `word` is a control character, `"` or `\\` (word-at-a-time tests:
/// a borrow starts only at a byte that matches, so the answer for the word is exact).
#[inline]
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_in = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    (control | zero_in(word ^ (ONES * u64::from(b'"'))) | zero_in(word ^ (ONES * u64::from(b'\\')))) != 0
}

/// [`write_json`]'s buffer and its pieces: `serde_json`'s pretty printing (two spaces a level, `": "`
/// after a key, `[]` for an empty array), written with the depth each piece stands at.
struct JsonOut {
    buf: Vec<u8>,
}

impl JsonOut {
    /// A line break (after a comma unless `first`) and the indentation of `depth` levels.
    #[inline]
    fn brk(&mut self, first: bool, depth: usize) {
        let from = usize::from(first);
        if depth <= BREAKS_DEPTH {
            self.buf.extend_from_slice(&BREAKS[from..2 + 2 * depth]);
        } else {
            self.buf.extend_from_slice(&BREAKS[from..2]);
            for _ in 0..depth {
                self.buf.extend_from_slice(b"  ");
            }
        }
    }

    /// A key of an object whose keys stand at `depth` (a plain ASCII name: nothing to escape).
    #[inline]
    fn key(&mut self, first: bool, depth: usize, key: &str) {
        self.brk(first, depth);
        self.buf.push(b'"');
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.extend_from_slice(b"\": ");
    }

    /// A JSON string, escaped as `serde_json` escapes it: `"` and `\\`, and control characters
    /// (`\b \t \n \f \r` by name, the others as `\u00xx`); nothing else.
    fn string(&mut self, s: &str) {
        self.buf.push(b'"');
        let bytes = s.as_bytes();
        let mut from = 0;
        let mut i = 0;
        while i < bytes.len() {
            // Eight bytes at a time while none of them is to be escaped.
            if let Some(word) = bytes.get(i..i + 8)
                && !needs_escape(u64::from_le_bytes(word.try_into().unwrap_or([0; 8])))
            {
                i += 8;
                continue;
            }
            let b = bytes[i];
            i += 1;
            if b >= 0x20 && b != b'"' && b != b'\\' {
                continue;
            }
            self.buf.extend_from_slice(&bytes[from..i - 1]);
            from = i;
            match b {
                b'"' => self.buf.extend_from_slice(b"\\\""),
                b'\\' => self.buf.extend_from_slice(b"\\\\"),
                b'\n' => self.buf.extend_from_slice(b"\\n"),
                b'\t' => self.buf.extend_from_slice(b"\\t"),
                b'\r' => self.buf.extend_from_slice(b"\\r"),
                0x08 => self.buf.extend_from_slice(b"\\b"),
                0x0c => self.buf.extend_from_slice(b"\\f"),
                _ => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    self.buf.extend_from_slice(b"\\u00");
                    self.buf.push(HEX[usize::from(b >> 4)]);
                    self.buf.push(HEX[usize::from(b & 0xf)]);
                }
            }
        }
        self.buf.extend_from_slice(&bytes[from..]);
        self.buf.push(b'"');
    }

    fn opt_string(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.string(s),
            None => self.buf.extend_from_slice(b"null"),
        }
    }

    fn number(&mut self, n: usize) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut n = n;
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.buf.extend_from_slice(&digits[at..]);
    }

    /// A value serde prints (the few enums, a runtime record), through the pretty formatter at `depth`.
    fn serialized(&mut self, depth: usize, value: &impl serde::Serialize) -> std::io::Result<()> {
        let mut ser = serde_json::Serializer::with_formatter(&mut self.buf, Pretty { depth, has_value: false });
        value.serialize(&mut ser).map_err(std::io::Error::from)
    }

    /// A list whose opening bracket stands at `depth` (its items one deeper).
    fn list<T>(
        &mut self,
        depth: usize,
        items: &[T],
        mut item: impl FnMut(&mut Self, &T) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        self.buf.push(b'[');
        for (i, x) in items.iter().enumerate() {
            self.brk(i == 0, depth + 1);
            item(self, x)?;
        }
        if !items.is_empty() {
            self.brk(true, depth);
        }
        self.buf.push(b']');
        Ok(())
    }

    /// `}` of an object whose opening brace stands at `depth`.
    fn close(&mut self, depth: usize) {
        self.brk(true, depth);
        self.buf.push(b'}');
    }

    /// A hop of a chain (or a related place), its brace at `depth`.
    fn hop(&mut self, depth: usize, h: &crate::check::LocatedHop) {
        let d = depth + 1;
        self.buf.push(b'{');
        self.key(true, d, "column");
        self.number(h.column);
        if let Some(n) = h.elided {
            self.key(false, d, "elided");
            self.number(n);
        }
        if let Some(n) = h.end_column {
            self.key(false, d, "end_column");
            self.number(n);
        }
        if let Some(n) = h.end_line {
            self.key(false, d, "end_line");
            self.number(n);
        }
        self.key(false, d, "line");
        self.number(h.line);
        if let Some(m) = &h.message {
            self.key(false, d, "message");
            self.string(m);
        }
        self.key(false, d, "name");
        self.string(&h.name);
        self.key(false, d, "path");
        self.string(&h.path);
        self.close(depth);
    }

    fn position(&mut self, depth: usize, p: &crate::fix::ReportedPosition) {
        self.buf.push(b'{');
        self.key(true, depth + 1, "column");
        self.number(p.column);
        self.key(false, depth + 1, "line");
        self.number(p.line);
        self.close(depth);
    }

    fn fix(&mut self, depth: usize, x: &crate::fix::ReportedFix) -> std::io::Result<()> {
        let d = depth + 1;
        self.buf.push(b'{');
        self.key(true, d, "applicability");
        self.serialized(d, &x.applicability)?;
        self.key(false, d, "edits");
        self.list(d, &x.edits, |out, e| {
            let d = d + 1;
            out.buf.push(b'{');
            out.key(true, d + 1, "content");
            out.string(&e.content);
            out.key(false, d + 1, "end");
            out.position(d + 1, &e.end);
            out.key(false, d + 1, "start");
            out.position(d + 1, &e.start);
            out.close(d);
            Ok(())
        })?;
        self.key(false, d, "kind");
        self.serialized(d, &x.kind)?;
        if let Some(s) = &x.same_as {
            self.key(false, d, "same_as");
            self.string(s);
        }
        self.key(false, d, "title");
        self.string(&x.title);
        self.close(depth);
        Ok(())
    }

    /// One finding of the JSON contract (see `json_value`), its brace at depth 1.
    fn finding(&mut self, d: &Diagnostic) -> std::io::Result<()> {
        const K: usize = 2;
        let f = &d.finding;
        self.buf.push(b'{');
        self.key(true, K, "callee");
        self.opt_string(f.callee.as_deref());
        self.key(false, K, "chain");
        self.list(K, &d.chain, |out, h| {
            out.hop(K + 1, h);
            Ok(())
        })?;
        self.key(false, K, "code");
        self.string(f.rule.code());
        self.key(false, K, "column");
        self.number(d.start.column);
        self.key(false, K, "end_column");
        self.number(d.end.column);
        self.key(false, K, "end_line");
        self.number(d.end.line);
        self.key(false, K, "fingerprint");
        self.string(&d.fingerprint);
        self.key(false, K, "fixes");
        self.list(K, &d.fixes, |out, x| out.fix(K + 1, x))?;
        self.key(false, K, "function");
        self.opt_string(f.function.as_deref());
        self.key(false, K, "instead");
        self.opt_string(f.instead.as_deref());
        self.key(false, K, "line");
        self.number(d.start.line);
        self.key(false, K, "message");
        self.string(&f.message);
        self.key(false, K, "path");
        self.string(&d.path);
        if !d.related.is_empty() {
            self.key(false, K, "related");
            self.list(K, &d.related, |out, h| {
                out.hop(K + 1, h);
                Ok(())
            })?;
        }
        self.key(false, K, "route");
        self.opt_string(f.route.as_deref());
        self.key(false, K, "rule");
        self.string(f.rule.name());
        if let Some(seen) = &d.runtime {
            self.key(false, K, "runtime");
            self.serialized(K, seen)?;
        }
        self.key(false, K, "severity");
        self.string(f.tier.as_str());
        self.key(false, K, "url");
        self.string(&doc_url(f.rule));
        self.close(1);
        Ok(())
    }
}

/// `serde_json`'s pretty formatter (two spaces a level), byte for byte, but for writing a line break
/// and its indentation as one slice rather than a write per level: the JSON of fixes is nested five
/// levels deep, and most of what it prints is such breaks and keys.
#[derive(Default)]
struct Pretty {
    depth: usize,
    has_value: bool,
}

/// `,` then a line break and the indentation of [`BREAKS_DEPTH`] levels: every break is a slice of it.
const BREAKS: &[u8] = b",\n                                                                ";
const BREAKS_DEPTH: usize = (BREAKS.len() - 2) / 2;

impl Pretty {
    /// A line break (after a comma unless `first`) and the current indentation.
    #[inline]
    fn line<W: ?Sized + std::io::Write>(&self, w: &mut W, first: bool) -> std::io::Result<()> {
        let from = usize::from(first);
        if self.depth <= BREAKS_DEPTH {
            w.write_all(&BREAKS[from..2 + 2 * self.depth])
        } else {
            w.write_all(&BREAKS[from..2])?;
            for _ in 0..self.depth {
                w.write_all(b"  ")?;
            }
            Ok(())
        }
    }
}

impl Pretty {
    /// `[` or `{`: one level deeper, nothing in it yet.
    fn open<W: ?Sized + std::io::Write>(&mut self, w: &mut W, bracket: &[u8]) -> std::io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(bracket)
    }

    /// `]` or `}`: on a line of its own after values, right after the opening bracket when empty.
    fn close<W: ?Sized + std::io::Write>(&mut self, w: &mut W, bracket: &[u8]) -> std::io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.line(w, true)?;
        }
        w.write_all(bracket)
    }
}

impl serde_json::ser::Formatter for Pretty {
    #[inline]
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"[")
    }

    #[inline]
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"]")
    }

    #[inline]
    fn begin_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        self.line(w, first)
    }

    #[inline]
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    #[inline]
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"{")
    }

    #[inline]
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"}")
    }

    #[inline]
    fn begin_object_key<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        self.line(w, first)
    }

    #[inline]
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }

    #[inline]
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// How much [`write_json`] holds before it passes it on.
const CHUNK: usize = 64 * 1024;

/// The SARIF 2.1.0 log, pretty-printed.
pub fn sarif(diags: &[Diagnostic]) -> String {
    let mut out = Vec::with_capacity(diags.len() * 768 + 16 * 1024);
    write_sarif(diags, &mut out).expect("writing to memory does not fail");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// The SARIF log, written as it is serialized: typed structs whose fields are in sorted order, so that
/// the bytes are those of the same document built as `serde_json::Value`s (objects print their keys
/// sorted), without a tree of maps per finding.
pub fn write_sarif(diags: &[Diagnostic], w: &mut impl std::io::Write) -> std::io::Result<()> {
    use serde::Serialize;
    let log = SarifLog {
        schema: "https://json.schemastore.org/sarif-2.1.0.json",
        runs: [SarifRun {
            column_kind: "unicodeCodePoints",
            results: SarifResults(diags),
            tool: SarifTool {
                driver: SarifDriver {
                    information_uri: "https://github.com/loopsafe/loopsafe",
                    name: "loopsafe",
                    rules: RULES
                        .iter()
                        .map(|r| SarifRule {
                            default_configuration: SarifLevel { level: sarif_level(r.default_tier) },
                            help_uri: doc_url(r.rule),
                            id: r.code,
                            name: r.name,
                            properties: SarifEquivalents { equivalents: r.equivalents },
                            short_description: SarifText { text: r.summary },
                        })
                        .collect(),
                    version: env!("CARGO_PKG_VERSION"),
                },
            },
        }],
        version: "2.1.0",
    };
    log.serialize(&mut serde_json::Serializer::pretty(&mut *w)).map_err(std::io::Error::from)?;
    w.write_all(b"\n")
}

#[derive(serde::Serialize)]
struct SarifLog<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    runs: [SarifRun<'a>; 1],
    version: &'static str,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRun<'a> {
    column_kind: &'static str,
    results: SarifResults<'a>,
    tool: SarifTool,
}

#[derive(serde::Serialize)]
struct SarifTool {
    driver: SarifDriver,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifDriver {
    information_uri: &'static str,
    name: &'static str,
    rules: Vec<SarifRule>,
    version: &'static str,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRule {
    default_configuration: SarifLevel,
    help_uri: String,
    id: &'static str,
    name: &'static str,
    properties: SarifEquivalents,
    short_description: SarifText<'static>,
}

#[derive(serde::Serialize)]
struct SarifLevel {
    level: &'static str,
}

#[derive(serde::Serialize)]
struct SarifEquivalents {
    equivalents: &'static [&'static str],
}

#[derive(serde::Serialize)]
struct SarifText<'a> {
    text: &'a str,
}

/// The results, each built as it is written.
struct SarifResults<'a>(&'a [Diagnostic]);

impl serde::Serialize for SarifResults<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for d in self.0 {
            seq.serialize_element(&SarifResult::of(d))?;
        }
        seq.end()
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    code_flows: Option<[SarifCodeFlow<'a>; 1]>,
    level: &'static str,
    locations: [SarifLocation; 1],
    message: SarifText<'a>,
    partial_fingerprints: SarifFingerprint<'a>,
    properties: SarifProperties,
    /// The other places that reach the same one-time work (`Diagnostic::related`).
    #[serde(skip_serializing_if = "Option::is_none")]
    related_locations: Option<Vec<SarifRelated<'a>>>,
    rule_id: &'static str,
    rule_index: usize,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRelated<'a> {
    id: usize,
    message: SarifText<'a>,
    physical_location: SarifPhysicalLocation,
}

impl<'a> SarifResult<'a> {
    fn of(d: &'a Diagnostic) -> Self {
        let f = &d.finding;
        let code_flows = (d.chain.len() > 1).then(|| {
            let locations = d
                .chain
                .iter()
                .map(|h| SarifStep {
                    location: SarifStepLocation {
                        message: SarifText { text: &h.name },
                        physical_location: physical_location(&h.path, h.line, h.column, None),
                    },
                })
                .collect();
            [SarifCodeFlow { thread_flows: [SarifThreadFlow { locations }] }]
        });
        SarifResult {
            code_flows,
            level: sarif_level(f.tier),
            locations: [SarifLocation {
                physical_location: physical_location(
                    &d.path,
                    d.start.line,
                    d.start.column,
                    Some((d.end.line, d.end.column)),
                ),
            }],
            message: SarifText { text: &f.message },
            partial_fingerprints: SarifFingerprint { fingerprint: &d.fingerprint },
            properties: SarifProperties { severity: f.tier.as_str(), runtime: d.runtime },
            related_locations: (!d.related.is_empty()).then(|| {
                d.related
                    .iter()
                    .enumerate()
                    .map(|(id, h)| SarifRelated {
                        id,
                        message: SarifText { text: h.message.as_deref().unwrap_or(&h.name) },
                        physical_location: physical_location(&h.path, h.line, h.column, h.end_line.zip(h.end_column)),
                    })
                    .collect()
            }),
            rule_id: f.rule.code(),
            rule_index: RULES.iter().position(|r| r.rule == f.rule).unwrap_or(0),
        }
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifCodeFlow<'a> {
    thread_flows: [SarifThreadFlow<'a>; 1],
}

#[derive(serde::Serialize)]
struct SarifThreadFlow<'a> {
    locations: Vec<SarifStep<'a>>,
}

#[derive(serde::Serialize)]
struct SarifStep<'a> {
    location: SarifStepLocation<'a>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifStepLocation<'a> {
    message: SarifText<'a>,
    physical_location: SarifPhysicalLocation,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifLocation {
    physical_location: SarifPhysicalLocation,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifPhysicalLocation {
    artifact_location: SarifUri,
    region: SarifRegion,
}

#[derive(serde::Serialize)]
struct SarifUri {
    uri: String,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRegion {
    #[serde(skip_serializing_if = "Option::is_none")]
    end_column: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_line: Option<usize>,
    start_column: usize,
    start_line: usize,
}

/// `{ SARIF_KEY: fingerprint }`.
struct SarifFingerprint<'a> {
    fingerprint: &'a str,
}

impl serde::Serialize for SarifFingerprint<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(crate::analysis::fingerprint::SARIF_KEY, self.fingerprint)?;
        map.end()
    }
}

#[derive(serde::Serialize)]
struct SarifProperties {
    /// The finding's tier, in the words every output uses (`level` is SARIF's own scale).
    severity: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    runtime: Option<crate::runtime::Seen>,
}

fn physical_location(path: &str, line: usize, column: usize, end: Option<(usize, usize)>) -> SarifPhysicalLocation {
    SarifPhysicalLocation {
        artifact_location: SarifUri { uri: uri(path) },
        region: SarifRegion {
            end_column: end.map(|(_, c)| c),
            end_line: end.map(|(l, _)| l),
            start_column: column,
            start_line: line,
        },
    }
}

/// A relative SARIF artifact URI: forward slashes, reserved characters percent-encoded.
fn uri(path: &str) -> String {
    let mut out = String::new();
    for ch in path.replace('\\', "/").chars() {
        match ch {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '.' | '_' | '~' | '/' => out.push(ch),
            _ => {
                let mut buf = [0u8; 4];
                for b in ch.encode_utf8(&mut buf).bytes() {
                    let _ = write!(out, "%{b:02X}");
                }
            }
        }
    }
    out
}

fn sarif_level(t: Tier) -> &'static str {
    match t {
        Tier::Critical => "error",
        Tier::Warning => "warning",
        Tier::Info | Tier::Hint => "note",
    }
}

/// GitHub Actions workflow commands: `::error file=…,line=…::message`.
pub fn github(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        let f = &d.finding;
        let level = match f.tier {
            Tier::Critical => "error",
            Tier::Warning => "warning",
            Tier::Info | Tier::Hint => "notice",
        };
        let title = format!("loopsafe ({}) {}", f.rule.code(), f.tier.as_str());
        let _ = writeln!(
            out,
            "::{level} title={},file={},line={},col={},endLine={},endColumn={}::{}",
            escape_property(&title),
            escape_property(&d.path),
            d.start.line,
            d.start.column,
            d.end.line,
            d.end.column,
            escape_data(&format!("{} [{}] {}", f.rule.code(), f.rule.name(), f.message))
        );
    }
    out
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// How many findings each root cause (the blocking API a finding, direct or through a chain, comes down
/// to) has, most first, then by name: the text output's summary and `--statistics` both list these.
fn root_cause_counts(diags: &[Diagnostic]) -> Vec<(&str, usize)> {
    let mut causes: std::collections::HashMap<&str, usize> = Default::default();
    for callee in diags.iter().filter_map(|d| d.finding.callee.as_deref()) {
        *causes.entry(callee).or_default() += 1;
    }
    let mut causes: Vec<(&str, usize)> = causes.into_iter().collect();
    causes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    causes
}

/// `--statistics`: how many findings per rule (count, code, name; most frequent first, as ruff prints
/// them), then per root cause (the blocking API each finding, direct or through a chain, comes down
/// to). JSON: `{"rules": [{"code", "name", "count"}], "root_causes": [{"callee", "count"}]}`.
pub fn statistics(diags: &[Diagnostic], as_json: bool) -> String {
    let mut rules: std::collections::HashMap<crate::rules::Rule, usize> = Default::default();
    for d in diags {
        *rules.entry(d.finding.rule).or_default() += 1;
    }
    let mut rules: Vec<(crate::rules::Rule, usize)> = rules.into_iter().collect();
    rules.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.code().cmp(b.0.code())));
    let causes = root_cause_counts(diags);
    if as_json {
        let v = json!({
            "rules": rules.iter().map(|(r, n)| json!({"code": r.code(), "name": r.name(), "count": n})).collect::<Vec<_>>(),
            "root_causes": causes.iter().map(|(c, n)| json!({"callee": c, "count": n})).collect::<Vec<_>>(),
        });
        return format!("{}\n", serde_json::to_string_pretty(&v).expect("JSON values serialize"));
    }
    let mut out = String::new();
    let width = rules.iter().map(|(_, n)| n.to_string().len()).max().unwrap_or(1);
    for (r, n) in &rules {
        let _ = writeln!(out, "{n:>width$}\t{}\t{}", r.code(), r.name());
    }
    if !causes.is_empty() {
        let width = causes.iter().map(|(_, n)| n.to_string().len()).max().unwrap_or(1);
        let _ = writeln!(out, "\nRoot causes:");
        for (c, n) in &causes {
            let _ = writeln!(out, "{n:>width$}\t{c}");
        }
    }
    out
}

/// Writes `--output-file`: atomically (`atomic_write`: the file is wholly the old or the new output at
/// every moment), creating it and its folders when missing.
pub fn write_output_file(path: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    let shown = path.display();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("--output-file {shown}: cannot create its folder: {e}"))?;
    }
    // The atomic writer replaces an existing file: a new one is created empty first.
    match std::fs::OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("--output-file {shown}: cannot create: {e}")),
    }
    // A symbolic link stays a link: the file it points to gets the output.
    let target = std::fs::canonicalize(path).map_err(|e| format!("--output-file {shown}: {e}"))?;
    let before = std::fs::metadata(&target).map_err(|e| format!("--output-file {shown}: {e}"))?;
    if !before.is_file() {
        return Err(format!("--output-file {shown}: not a regular file"));
    }
    match crate::atomic_write::replace(&target, bytes, &before) {
        Ok(crate::atomic_write::Replaced::Done) => Ok(()),
        Ok(crate::atomic_write::Replaced::Changed) => Err(format!(
            "--output-file {shown}: changed by another program while loopsafe was writing it; left as it is"
        )),
        Err(e) => Err(format!("--output-file {shown}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `json_value` gives, pretty-printed, one finding after another (the contract's reference).
    fn by_values(diags: &[Diagnostic]) -> String {
        let values: Vec<Value> = diags.iter().map(json_value).collect();
        format!("{}\n", serde_json::to_string_pretty(&values).unwrap())
    }

    #[test]
    fn write_json_prints_what_the_pretty_json_values_print() {
        use crate::check::{LocatedHop, Position};
        use crate::fix::{Applicability, FixId, ReportedEdit, ReportedFix, ReportedPosition};
        let hop = |name: &str, elided: Option<usize>| LocatedHop {
            path: "a \"q\"\\b.py".into(),
            line: 12,
            column: 3,
            name: name.into(),
            elided,
            offset: None,
            end_line: None,
            end_column: None,
            message: None,
        };
        let pos = |line, column| ReportedPosition { line, column };
        let finding = |callee: Option<&str>, route: Option<&str>| crate::analysis::Finding {
            rule: crate::rules::RULES[0].rule,
            tier: Tier::Critical,
            range: 0..1,
            call_range: None,
            message: "`x` \u{1}\u{7f} blocks\ttabs\r\n\u{8}\u{c}é😀".into(),
            callee: callee.map(String::from),
            instead: None,
            fix_kinds: Vec::new(),
            chain: Vec::new(),
            function: Some("f".into()),
            route: route.map(String::from),
            related: Vec::new(),
        };
        let plain = Diagnostic {
            path: "app.py".into(),
            finding: finding(None, None),
            start: Position { line: 1, column: 1 },
            end: Position { line: 10_000_000, column: 0 },
            chain: Vec::new(),
            related: Vec::new(),
            source: Vec::new(),
            underline: (0, 0),
            fixes: Vec::new(),
            project_path: String::new(),
            fingerprint: "ab:1".into(),
            runtime: None,
        };
        let full = Diagnostic {
            finding: finding(Some("time.sleep"), Some("GET /r")),
            chain: vec![hop("f", None), hop("g", Some(7)), hop("h", None)],
            related: vec![
                hop("r", None),
                LocatedHop {
                    end_line: Some(13),
                    end_column: Some(9),
                    message: Some("`io.TextIOWrapper.read` reads, on what `open` returned".into()),
                    ..hop("io.TextIOWrapper.read", None)
                },
            ],
            fixes: vec![
                ReportedFix {
                    title: "Offload `a\\b`".into(),
                    kind: FixId::OffloadBlock,
                    applicability: Applicability::Unsafe,
                    edits: vec![
                        ReportedEdit { start: pos(1, 1), end: pos(1, 1), content: "import asyncio\n".into() },
                        ReportedEdit {
                            start: pos(3, 5),
                            end: pos(4, 20),
                            content: "def _in_thread():\n\t\"x\"".into(),
                        },
                    ],
                    same_as: None,
                },
                ReportedFix {
                    title: "Make `f` a plain `def`".into(),
                    kind: FixId::MakeSync,
                    applicability: Applicability::Safe,
                    edits: Vec::new(),
                    same_as: Some("cd:2".into()),
                },
            ],
            runtime: Some(crate::runtime::Seen { count: 3, max_ms: 12.5 }),
            ..plain.clone()
        };
        for diags in [vec![], vec![plain.clone()], vec![full.clone(), plain, full]] {
            let mut ours = Vec::new();
            write_json(&diags, &mut ours).unwrap();
            assert_eq!(String::from_utf8(ours).unwrap(), by_values(&diags));
        }
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them_at_any_offset() {
        for special in ["\"", "\\", "\n", "\u{0}", "\u{1f}", "\u{7f}", " ", "é", "😀", "\t\r"] {
            for at in 0..20 {
                let s = format!("{}{special}{}", "a".repeat(at), "b".repeat(19 - at));
                let mut out = JsonOut { buf: Vec::new() };
                out.string(&s);
                assert_eq!(String::from_utf8(out.buf).unwrap(), serde_json::to_string(&s).unwrap(), "{s:?}");
            }
        }
    }

    #[test]
    fn the_json_formatter_prints_what_serde_jsons_pretty_one_prints() {
        // Empty and nested arrays and objects, strings to escape, and nesting deeper than one slice of
        // line breaks holds (its indentation is then written a level at a time).
        let mut deep = serde_json::json!({"leaf": [1, "two", null, true, {}, []]});
        for i in 0..(BREAKS_DEPTH + 5) {
            deep = serde_json::json!({"k": i, "nested": [deep, {"s": "a\"b\\c\n\u{1}é"}], "empty": [], "o": {}});
        }
        for value in [serde_json::json!([]), serde_json::json!({}), serde_json::json!([[], {}, [1]]), deep] {
            let mut ours = Vec::new();
            let mut ser = serde_json::Serializer::with_formatter(&mut ours, Pretty::default());
            serde::Serialize::serialize(&value, &mut ser).unwrap();
            assert_eq!(String::from_utf8(ours).unwrap(), serde_json::to_string_pretty(&value).unwrap());
        }
    }
}
