//! The soak (issue 18): the real `loopsafe server` binary, driven over pipes by a writer (this test's
//! thread) that sends a seeded random mix of messages at full speed without waiting for replies, and a
//! reader thread that takes every message the server writes.
//!
//! The workspace is 50 generated Python modules (FastAPI-like routes, services and clients calling one
//! another across modules down to `requests.get`, `time.sleep` and `open`), all open, plus modules that
//! only exist on disk. The mix: incremental `didChange` (typing characters in function bodies through
//! broken states and back, typing at column 0, pasting and deleting whole functions and lines,
//! multi-change edits, non-ASCII text so that UTF-16 columns differ from characters), hovers, quick-fix
//! and `source.fixAll` code actions, `didSave` (the file is written), `didClose`/`didOpen`,
//! `workspace/didChangeWatchedFiles` after files are rewritten, created and deleted on disk (among
//! them a helper whose blocking call is removed, which must clear an open route's chain finding),
//! `$/cancelRequest`, and in the pull session `textDocument/diagnostic` and `workspace/diagnostic`.
//!
//! Checked: every request gets exactly one response (a cancelled one may get -32800); the server
//! publishes for the last version of every document, and those diagnostics equal a fresh
//! `loopsafe check --output-format json` of the final texts (code and range per file), and so do
//! those shown after the first 1,000 messages, once the typing in progress is finished (where a few
//! `source.fixAll` edits are also applied as an editor applies them); a hover on a final diagnostic names it and quick fixes are offered for it; the
//! whole run ends by itself before a deadline (else it fails, saying what is still pending). Figures:
//! latency of hovers, code actions, pulls and didChange→publish (p50/p99/max), RSS after the first
//! 1,000 messages and at the end.
//!
//! `cargo test` runs a short version (2,000 messages in push mode, 1,200 in pull mode, a fixed seed,
//! the debug binary) that checks correctness only and prints the figures: timings are not asserted on
//! a shared machine. `.ci/run` runs the full soak against the release binary, which also asserts the
//! figures (RSS at the end at most 10 % above RSS after 1,000 messages, hover and quick-fix p99 under
//! 50 ms):
//!
//! ```console
//! LOOPSAFE_SOAK=full LOOPSAFE_SOAK_BIN=target/release/loopsafe \
//!   cargo test --locked -p loopsafe --test soak -- --nocapture --test-threads=1
//! ```
//!
//! Environment: `LOOPSAFE_SOAK=full`; `LOOPSAFE_SOAK_BIN` (the binary; default: the one cargo built);
//! `LOOPSAFE_SOAK_MESSAGES` and `LOOPSAFE_SOAK_PULL_MESSAGES` (message counts; full: 20,000 and
//! 5,000); `LOOPSAFE_SOAK_SEED` (replay a run: every run prints its seed; full runs pick a new one);
//! `LOOPSAFE_SOAK_TIMEOUT` (seconds per session, default 300); `LOOPSAFE_SOAK_BUDGETS=report` prints
//! a figure over its budget as `BUDGET NOT MET` instead of failing (correctness still fails the run);
//! `LOOPSAFE_SOAK_CHECKPOINT=report` prints a mismatch at the checkpoint after 1,000 messages as
//! `CHECKPOINT MISMATCH` instead of failing (the final comparison still fails the run);
//! `LOOPSAFE_SOAK_CHECKPOINT=midtyping` (or `report,midtyping`) compares at the checkpoint without
//! first finishing the typing in progress (see `run`); `LOOPSAFE_SOAK_TIMINGS=<file>` writes every
//! answered request there (id, label, when sent in Unix ms, latency), to set beside the server's
//! `LOOPSAFE_LSP_TIMING` log.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------------
// Configuration

#[derive(Clone, Debug)]
struct Config {
    pull: bool,
    messages: usize,
    seed: u64,
    bin: PathBuf,
    deadline: Duration,
    /// Compare the figures (RSS, latency) with their budgets: the full run, not `cargo test`.
    figures: bool,
    /// A figure over its budget is printed as `BUDGET NOT MET` instead of failing the run
    /// (`LOOPSAFE_SOAK_BUDGETS=report`); correctness failures always fail.
    report_budgets: bool,
    /// A mismatch at the checkpoint after `BASELINE_AFTER` messages is printed as `CHECKPOINT
    /// MISMATCH` instead of failing the run (`LOOPSAFE_SOAK_CHECKPOINT=report`); the final comparison
    /// always fails.
    report_checkpoint: bool,
    /// The checkpoint compares while a typing session may have left a text broken
    /// (`LOOPSAFE_SOAK_CHECKPOINT=midtyping`); by default that session is finished first.
    checkpoint_midtyping: bool,
}

fn env_num(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    let parsed = match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => v.replace([',', '_'], "").parse(),
    };
    Some(parsed.unwrap_or_else(|_| panic!("{name}={v} is not a number")))
}

fn config(pull: bool) -> Config {
    let full = std::env::var("LOOPSAFE_SOAK").is_ok_and(|v| v == "full");
    let (var, full_n, short_n) =
        if pull { ("LOOPSAFE_SOAK_PULL_MESSAGES", 5_000, 1_200) } else { ("LOOPSAFE_SOAK_MESSAGES", 20_000, 2_000) };
    let messages = env_num(var).map(|n| n as usize).unwrap_or(if full { full_n } else { short_n });
    let seed = env_num("LOOPSAFE_SOAK_SEED").unwrap_or_else(|| {
        if full {
            let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            t.as_nanos() as u64 ^ u64::from(std::process::id())
        } else {
            0x50a4_2026
        }
    });
    let bin = std::env::var_os("LOOPSAFE_SOAK_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_loopsafe")));
    // A relative path is taken from the repository's root (tests run in server/).
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("server/ has a parent");
    let bin = std::fs::canonicalize(repo.join(&bin))
        .unwrap_or_else(|e| panic!("LOOPSAFE_SOAK_BIN {}: {e}", repo.join(&bin).display()));
    let deadline = Duration::from_secs(env_num("LOOPSAFE_SOAK_TIMEOUT").unwrap_or(300));
    // At least the RSS reference point, the checkpoint there and the helper's change on disk after it.
    let report_budgets = std::env::var("LOOPSAFE_SOAK_BUDGETS").is_ok_and(|v| v == "report");
    let checkpoint = std::env::var("LOOPSAFE_SOAK_CHECKPOINT").unwrap_or_default();
    let report_checkpoint = checkpoint.split(',').any(|v| v == "report");
    let checkpoint_midtyping = checkpoint.split(',').any(|v| v == "midtyping");
    Config {
        pull,
        messages: messages.max(BASELINE_AFTER + 200),
        seed,
        bin,
        deadline,
        figures: full,
        report_budgets,
        report_checkpoint,
        checkpoint_midtyping,
    }
}

/// RSS is compared after this many messages (the server has indexed and warmed up by then).
const BASELINE_AFTER: usize = 1_000;
/// How long the server must stay silent, once every request is answered and every document's last
/// version is published, before the final diagnostics are read.
const QUIET: Duration = Duration::from_millis(1_500);
/// The latency budget of hovers and quick fixes (p99), asserted in the full run.
const P99_BUDGET_MS: f64 = 50.0;
/// RSS at the end may exceed RSS after the first 1,000 messages by this fraction at most.
const RSS_GROWTH: f64 = 0.10;

#[test]
fn soak_push() {
    soak(config(false));
}

#[test]
fn soak_pull() {
    soak(config(true));
}

// ---------------------------------------------------------------------------------------------------
// A small seeded generator (SplitMix64): the same seed gives the same message mix.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

// ---------------------------------------------------------------------------------------------------
// The generated workspace

const CLIENTS: usize = 5;
const SERVICES: usize = 15;
const ROUTES: usize = 29; // plus app/routes/reports.py: 50 open documents
const SHARED: usize = 4; // disk-only modules, rewritten on disk during the run

const CLIENT: &str = r#""""HTTP, sleep and file clients (@K@)."""
import json
import time

import requests

BASE = "https://api.example.com/v@K@"


def get_json_@K@(path, params=None):
    resp = requests.get(BASE + path, params=params, timeout=5)
    return resp.json()


def post_event_@K@(payload):
    body = json.dumps(payload)
    return requests.post(BASE + "/events", data=body, timeout=5)


def backoff_@K@(attempt):
    delay = min(2 ** attempt, 30)
    time.sleep(delay)
    return delay


def read_config_@K@(path="config_@K@.json"):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def pure_@K@(x):
    label = "naïve 😀 @K@"
    return f"{label}:{x}"
"#;

const SERVICE: &str = r#""""Service layer @J@: sync helpers that reach the clients."""
import time

from app.clients.c@A@ import backoff_@A@, get_json_@A@, pure_@A@, read_config_@A@
@NEXT_IMPORT@from app.shared.d@M@ import load_blob_@M@


def load_items_@J@(item_id):
    data = get_json_@A@(f"/items/{item_id}")
    return [pure_@A@(x) for x in data]


def refresh_@J@():
    config = read_config_@A@()
    @NEXT_CALL@
    return config


def retry_@J@(fn, attempts=3):
    for attempt in range(attempts):
        try:
            return fn()
        except OSError:
            backoff_@A@(attempt)
    return None


def blob_@J@(key):
    return load_blob_@M@(key)


def format_@J@(value):
    text = "résumé 日本 😀"
    return text + str(value)


class Repo@J@:
    def fetch(self, key):
        time.sleep(0.01)
        return key

    def cached(self, key):
        return format_@J@(key)
"#;

const ROUTE: &str = r#""""Routes for area @I@ (ünïcödé 😀)."""
import time

import requests
from fastapi import APIRouter, Depends

from app.services import s@J2@
from app.services.s@J@ import Repo@J@, format_@J@, load_items_@J@, refresh_@J@

router = APIRouter(prefix="/area@I@")


def get_repo():
    return Repo@J@()


@router.get("/items/{item_id}")
async def get_item(item_id: int):
    items = load_items_@J@(item_id)
    return {"id": item_id, "items": items}


@router.post("/refresh")
async def refresh():
    refresh_@J@()
    return {"ok": True}


@router.get("/repo/{key}")
async def from_repo(key: str, repo: Repo@J@ = Depends(get_repo)):
    value = repo.fetch(key)
    return {"value": value}


@router.get("/blob/{key}")
async def blob(key: str):
    return s@J2@.blob_@J2@(key)


@router.get("/direct")
async def direct(name: str = "Zoë 😀"):
    label = "😀 étiquette"; resp = requests.get("https://example.com/" + name, timeout=3)
    time.sleep(0.1)
    return {"label": label, "status": resp.status_code}


@router.get("/sync")
def sync_route():
    time.sleep(0.1)
    return format_@J@(1)


async def background_job_@I@():
    for _ in range(3):
        s@J2@.retry_@J2@(lambda: None)
"#;

const REPORTS: &str = r#""""Reports: the route reaches a helper that is never open in the editor."""
from fastapi import APIRouter

from app.shared.blocking_io import fetch_report

router = APIRouter()


@router.get("/report")
async def report(url: str = "https://reports.example.com/😀"):
    text = fetch_report(url)
    return {"report": text}
"#;

const BLOCKING_IO: &str = r#""""Report fetching."""
import requests


def fetch_report(url):
    resp = requests.get(url, timeout=10)
    return resp.text
"#;

/// What `app/shared/blocking_io.py` becomes on disk during the run: it no longer blocks.
const BLOCKING_IO_FIXED: &str = r#""""Report fetching (served from memory now)."""

_CACHE = {}


def fetch_report(url):
    return _CACHE.get(url, "")
"#;

fn shared_module(m: usize, blocking: bool, generation: usize) -> String {
    let body = if blocking {
        "    time.sleep(0.05)\n    with open(f\"/var/blobs/{key}\", \"rb\") as fh:\n        return fh.read()\n"
    } else {
        "    return key.encode()\n"
    };
    format!(
        "\"\"\"Blob storage {m} (generation {generation}, é😀).\"\"\"\nimport time\n\n\ndef load_blob_{m}(key):\n{body}"
    )
}

fn subst(template: &str, vars: &[(&str, String)]) -> String {
    let mut s = template.to_string();
    for (k, v) in vars {
        s = s.replace(k, v);
    }
    s
}

/// The files of the workspace: (relative path, text, opened in the editor).
fn workspace_files() -> Vec<(String, String, bool)> {
    let mut files = vec![("pyproject.toml".to_string(), "[project]\nname = \"soak\"\n".to_string(), false)];
    for pkg in ["app", "app/clients", "app/services", "app/routes", "app/shared"] {
        files.push((format!("{pkg}/__init__.py"), String::new(), false));
    }
    for k in 0..CLIENTS {
        files.push((format!("app/clients/c{k}.py"), CLIENT.replace("@K@", &k.to_string()), true));
    }
    for j in 0..SERVICES {
        let a = j % CLIENTS;
        let m = j % SHARED;
        let (next_import, next_call) = if j + 1 < SERVICES {
            (
                format!("from app.services import s{}\n", j + 1),
                format!("s{n}.load_items_{n}(config.get(\"id\", 0))", n = j + 1),
            )
        } else {
            (String::new(), "time.sleep(0.5)".to_string())
        };
        let text = subst(
            SERVICE,
            &[
                ("@NEXT_IMPORT@", next_import),
                ("@NEXT_CALL@", next_call),
                ("@J@", j.to_string()),
                ("@A@", a.to_string()),
                ("@M@", m.to_string()),
            ],
        );
        files.push((format!("app/services/s{j}.py"), text, true));
    }
    for i in 0..ROUTES {
        let j = i % SERVICES;
        let j2 = (i * 7 + 3) % SERVICES;
        let text = subst(ROUTE, &[("@I@", i.to_string()), ("@J2@", j2.to_string()), ("@J@", j.to_string())]);
        files.push((format!("app/routes/r{i}.py"), text, true));
    }
    files.push(("app/routes/reports.py".to_string(), REPORTS.to_string(), true));
    for m in 0..SHARED {
        files.push((format!("app/shared/d{m}.py"), shared_module(m, true, 0), false));
    }
    files.push(("app/shared/blocking_io.py".to_string(), BLOCKING_IO.to_string(), false));
    files
}

const REPORTS_PATH: &str = "app/routes/reports.py";
const BLOCKING_IO_PATH: &str = "app/shared/blocking_io.py";

// ---------------------------------------------------------------------------------------------------
// Text positions: LSP positions are 0-based lines and UTF-16 columns; `check`'s JSON is 1-based lines
// and character columns.

fn lsp_position(text: &str, byte: usize) -> Value {
    let before = &text[..byte];
    let line = before.matches('\n').count();
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    json!({ "line": line, "character": text[start..byte].encode_utf16().count() })
}

fn lsp_range(text: &str, start: usize, end: usize) -> Value {
    json!({ "start": lsp_position(text, start), "end": lsp_position(text, end) })
}

/// The byte offset of an LSP position (UTF-16 column) in `text`.
fn byte_of(text: &str, pos: &Value) -> usize {
    let line = pos["line"].as_u64().unwrap_or(0) as usize;
    let units = pos["character"].as_u64().unwrap_or(0) as usize;
    let Some(&(start, end)) = lines(text).get(line) else { return text.len() };
    let mut seen = 0;
    for (i, ch) in text[start..end].char_indices() {
        if seen >= units {
            return start + i;
        }
        seen += ch.len_utf16();
    }
    end
}

/// The 1-based (line, character column) of an LSP position in `text`.
fn to_check_position(text: &str, pos: &Value) -> (u64, u64) {
    let line = pos["line"].as_u64().unwrap_or(0);
    let units = pos["character"].as_u64().unwrap_or(0) as usize;
    let l = text.split('\n').nth(line as usize).unwrap_or("");
    let (mut seen, mut chars) = (0, 0);
    for ch in l.chars() {
        if seen >= units {
            break;
        }
        seen += ch.len_utf16();
        chars += 1;
    }
    (line + 1, chars as u64 + 1)
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Byte ranges of the lines of `text` (without their `\n`).
fn lines(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        if b == b'\n' {
            out.push((start, i));
            start = i + 1;
        }
    }
    out.push((start, text.len()));
    out
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

// ---------------------------------------------------------------------------------------------------
// The editor's model of the documents

struct Doc {
    rel: String,
    uri: String,
    /// The editor's buffer.
    text: String,
    /// What is on disk.
    disk: String,
    initial_len: usize,
    /// The last version sent (kept increasing across close and reopen).
    version: i64,
    open: bool,
    /// Typed into, pasted into, closed (everything but the route whose chain the disk change clears).
    editable: bool,
}

/// Typing in progress: characters typed one `didChange` at a time at a cursor, then, when `revert`,
/// deleted again one at a time (backspace), through every broken state in between.
struct Session {
    doc: usize,
    cursor: usize,
    to_type: VecDeque<char>,
    typed: usize,
    revert: bool,
}

const SNIPPETS: &[&str] = &[
    "\n    resp = requests.get(url, timeout=(3, 5))",
    "\n    time.sleep(0.25)",
    "\n    with open(\"data.txt\", encoding=\"utf-8\") as fh:\n        rows = fh.read().splitlines()",
    "\n    label = \"café 😀 日本\"; time.sleep(1)",
    "\n    if key:\n        return load_items_0(key)",
    "\n    for i in range(3):\n        requests.post(\"https://x.example.com\", json={\"i\": i})",
    "\n    \"\"\"Docstring é 😀.\"\"\"",
    "\n    # note: time.sleep(1) 😀",
    "\n    result = [open(p).read() for p in (\"a\", \"b\")]",
    "\n    await_later = lambda: time.sleep(2)",
];

const COLUMN0: &[(&str, bool)] = &[
    // (text, whether it must be deleted again: code at column 0 inside a body breaks the rest of it)
    ("# é 😀 note at column 0\n", false),
    ("import os\n", true),
    ("x = 1\n", true),
    ("@router.get(\"/x\")\n", true),
    ("def ", true),
];

fn pasted_block(n: usize) -> String {
    format!(
        "async def pasted_{n}(q: str = \"ß😀\"):\n    data = helper_{n}(q)\n    time.sleep(0.1)\n    return data\n\n\n\
         def helper_{n}(q):\n    return requests.get(\"https://p.example.com/\" + q, timeout=2).text\n\n\n"
    )
}

/// One edit, in byte offsets of the text it applies to.
struct Edit {
    start: usize,
    end: usize,
    text: String,
}

impl Doc {
    /// Lines where typing a new statement after the line's end keeps the file valid once typed: a
    /// simple statement at the top level of a function body, not followed by a deeper block.
    fn body_lines(&self) -> Vec<(usize, usize)> {
        let ls = lines(&self.text);
        let mut out = Vec::new();
        for (i, &(s, e)) in ls.iter().enumerate() {
            let l = &self.text[s..e];
            if indent_of(l) != 4 || l.trim().is_empty() || l.ends_with(':') || l.trim_start().starts_with('@') {
                continue;
            }
            if l.trim_start().starts_with("def ") || l.trim_start().starts_with("async def ") {
                continue;
            }
            if let Some(&(ns, ne)) = ls.get(i + 1)
                && indent_of(&self.text[ns..ne]) > 4
                && !self.text[ns..ne].trim().is_empty()
            {
                continue;
            }
            out.push((s, e));
        }
        out
    }

    /// Lines that start a top-level definition (after a blank line, so not between a decorator and
    /// its `def`), as byte offsets of their start; the end of the text is a boundary too.
    fn boundaries(&self) -> Vec<usize> {
        let ls = lines(&self.text);
        let mut out = Vec::new();
        for (i, &(s, e)) in ls.iter().enumerate().skip(1) {
            let l = &self.text[s..e];
            let prev = &self.text[ls[i - 1].0..ls[i - 1].1];
            if prev.trim().is_empty() && ["def ", "async def ", "@", "class "].iter().any(|p| l.starts_with(p)) {
                out.push(s);
            }
        }
        out
    }

    fn apply(&mut self, edit: &Edit) -> Value {
        let range = lsp_range(&self.text, edit.start, edit.end);
        self.text.replace_range(edit.start..edit.end, &edit.text);
        json!({ "range": range, "text": edit.text })
    }

    /// Documents stay about their initial size (pastes and typing balanced by deletions), so that
    /// memory at the end is comparable with memory after the first 1,000 messages.
    fn too_big(&self) -> bool {
        self.text.len() > self.initial_len * 11 / 10
    }

    fn too_small(&self) -> bool {
        self.text.len() < self.initial_len * 9 / 10
    }
}

// ---------------------------------------------------------------------------------------------------
// What the reader thread records

#[derive(Debug)]
struct Pending {
    method: &'static str,
    label: &'static str,
    sent: Instant,
    cancelled: bool,
    keep: bool,
    /// The document a `textDocument/...` request is about.
    uri: String,
}

#[derive(Default)]
struct Shared {
    next_id: i64,
    pending: HashMap<i64, Pending>,
    /// Every request id answered, with the number of responses it got.
    answered: HashMap<i64, u32>,
    /// Responses kept for the test (pulls, synchronous requests).
    kept: HashMap<i64, Value>,
    unknown_responses: Vec<String>,
    /// Error responses to requests that were not cancelled, and cancelled ones with another error.
    errors: Vec<String>,
    cancelled_answered_with_error: usize,
    cancelled_answered_with_result: usize,
    /// The last `publishDiagnostics` of each document: (version, diagnostics, when).
    published: HashMap<String, (Option<i64>, Vec<Value>)>,
    publishes: usize,
    /// Publishes whose version is older than one already published for the same document.
    out_of_order: usize,
    /// The latest pulled diagnostics of each document (pull mode), for code action contexts.
    pulled: HashMap<String, Vec<Value>>,
    /// didChange/didOpen versions not yet published, with when they were sent.
    change_pending: HashMap<String, VecDeque<(i64, Instant)>>,
    latencies: BTreeMap<&'static str, Vec<f64>>,
    /// Hovers and quick fixes: (label, latency in ms, when sent), to show when the slowest were sent.
    timed: Vec<(&'static str, f64, Instant)>,
    /// Every request answered with a result: (id, label, when sent, latency in ms), for
    /// `LOOPSAFE_SOAK_TIMINGS`.
    answers: Vec<(i64, &'static str, Instant, f64)>,
    last_message: Option<Instant>,
    server_requests: BTreeMap<String, usize>,
    /// Messages sent, by method.
    sent_by_method: BTreeMap<String, usize>,
    eof: Option<String>,
}

struct Link {
    state: Mutex<Shared>,
    changed: Condvar,
}

impl Link {
    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The server's input: requests and notifications from the test thread, replies to the server's own
/// requests from a reply thread (the reader never writes, so it never stops reading).
struct Writer {
    stdin: Mutex<ChildStdin>,
    link: Arc<Link>,
}

fn frame(msg: &Value) -> Vec<u8> {
    let body = serde_json::to_vec(msg).expect("JSON");
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend(body);
    out
}

impl Writer {
    fn write(&self, stdin: &mut ChildStdin, msg: &Value) -> Result<(), String> {
        stdin.write_all(&frame(msg)).map_err(|e| format!("writing to the server failed: {e}"))
    }

    fn request(&self, method: &'static str, label: &'static str, params: Value, keep: bool) -> Result<i64, String> {
        let mut stdin = self.stdin.lock().unwrap_or_else(|e| e.into_inner());
        let id = {
            let mut s = self.link.lock();
            s.next_id += 1;
            let id = s.next_id;
            let uri = params["textDocument"]["uri"].as_str().unwrap_or_default().to_string();
            *s.sent_by_method.entry(method.to_string()).or_default() += 1;
            s.pending.insert(id, Pending { method, label, sent: Instant::now(), cancelled: false, keep, uri });
            id
        };
        self.write(&mut stdin, &json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }))?;
        Ok(id)
    }

    fn notify(&self, method: &str, params: Value) -> Result<(), String> {
        let mut stdin = self.stdin.lock().unwrap_or_else(|e| e.into_inner());
        {
            let mut s = self.link.lock();
            let uri = params["textDocument"]["uri"].as_str().unwrap_or_default().to_string();
            *s.sent_by_method.entry(method.to_string()).or_default() += 1;
            match method {
                "textDocument/didOpen" | "textDocument/didChange" => {
                    let v = params["textDocument"]["version"].as_i64().expect("a version");
                    s.change_pending.entry(uri).or_default().push_back((v, Instant::now()));
                }
                "textDocument/didClose" => {
                    s.change_pending.remove(&uri);
                }
                "$/cancelRequest" => {
                    let id = params["id"].as_i64().expect("an id");
                    if let Some(p) = s.pending.get_mut(&id) {
                        p.cancelled = true;
                    }
                }
                _ => {}
            }
        }
        self.write(&mut stdin, &json!({ "jsonrpc": "2.0", "method": method, "params": params }))
    }

    fn reply(&self, msg: &Value) -> Result<(), String> {
        let mut stdin = self.stdin.lock().unwrap_or_else(|e| e.into_inner());
        self.write(&mut stdin, msg)
    }
}

fn read_message(out: &mut impl BufRead) -> Result<Option<Value>, String> {
    let mut len = None;
    loop {
        let mut line = Vec::new();
        let n = out.read_until(b'\n', &mut line).map_err(|e| format!("reading the server's output: {e}"))?;
        if n == 0 {
            return Ok(None);
        }
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = Some(v.trim().parse::<usize>().map_err(|e| format!("bad Content-Length {v:?}: {e}"))?);
        }
    }
    let len = len.ok_or("a message without Content-Length")?;
    let mut body = vec![0; len];
    out.read_exact(&mut body).map_err(|e| format!("reading a message body: {e}"))?;
    serde_json::from_slice(&body).map(Some).map_err(|e| format!("a message that is not JSON: {e}"))
}

fn reader(stdout: impl Read, link: Arc<Link>, replies: mpsc::Sender<Value>) {
    let mut out = BufReader::with_capacity(1 << 16, stdout);
    loop {
        let msg = match read_message(&mut out) {
            Ok(Some(m)) => m,
            Ok(None) => {
                link.lock().eof = Some("the server closed its output".into());
                link.changed.notify_all();
                return;
            }
            Err(e) => {
                link.lock().eof = Some(e);
                link.changed.notify_all();
                return;
            }
        };
        let now = Instant::now();
        let mut s = link.lock();
        s.last_message = Some(now);
        let method = msg.get("method").and_then(Value::as_str);
        match (method, msg.get("id")) {
            (Some(m), Some(id)) => {
                // A request from the server: answered at once, from another thread.
                *s.server_requests.entry(m.to_string()).or_default() += 1;
                let result = if m == "workspace/configuration" {
                    let n = msg["params"]["items"].as_array().map_or(0, Vec::len);
                    Value::Array(vec![Value::Null; n])
                } else {
                    Value::Null
                };
                let _ = replies.send(json!({ "jsonrpc": "2.0", "id": id, "result": result }));
            }
            (Some("textDocument/publishDiagnostics"), None) => {
                let p = &msg["params"];
                let uri = p["uri"].as_str().unwrap_or_default().to_string();
                let version = p["version"].as_i64();
                let diags = p["diagnostics"].as_array().cloned().unwrap_or_default();
                s.publishes += 1;
                if let (Some(v), Some((Some(old), _))) = (version, s.published.get(&uri))
                    && v < *old
                {
                    s.out_of_order += 1;
                }
                if let Some(v) = version {
                    let mut done = Vec::new();
                    if let Some(q) = s.change_pending.get_mut(&uri) {
                        while q.front().is_some_and(|(sent_v, _)| *sent_v <= v) {
                            done.push(q.pop_front().expect("front").1);
                        }
                    }
                    let l = s.latencies.entry("didChange→publish").or_default();
                    l.extend(done.iter().map(|t| ms(now - *t)));
                }
                s.published.insert(uri, (version, diags));
            }
            (Some(_), None) => {} // logs, progress
            (None, Some(id)) => {
                let Some(id) = id.as_i64() else {
                    s.unknown_responses.push(msg.to_string().chars().take(300).collect());
                    continue;
                };
                match s.pending.remove(&id) {
                    Some(p) => {
                        *s.answered.entry(id).or_default() += 1;
                        if let Some(err) = msg.get("error") {
                            let code = err["code"].as_i64().unwrap_or(0);
                            if p.cancelled && code == -32800 {
                                s.cancelled_answered_with_error += 1;
                            } else {
                                s.errors.push(format!("{} (id {id}, cancelled: {}): {err}", p.method, p.cancelled));
                            }
                        } else if p.cancelled {
                            s.cancelled_answered_with_result += 1;
                        } else if p.label != "sync" {
                            s.latencies.entry(p.label).or_default().push(ms(now - p.sent));
                            if matches!(p.label, "hover" | "codeAction quickfix") {
                                s.timed.push((p.label, ms(now - p.sent), p.sent));
                            }
                            s.answers.push((id, p.label, p.sent, ms(now - p.sent)));
                        }
                        if p.method == "textDocument/diagnostic"
                            && let Some(items) = msg["result"]["items"].as_array()
                        {
                            s.pulled.insert(p.uri.clone(), items.clone());
                        }
                        if p.keep {
                            s.kept.insert(id, msg);
                        }
                    }
                    None => match s.answered.get_mut(&id) {
                        Some(n) => *n += 1,
                        None => s.unknown_responses.push(msg.to_string().chars().take(300).collect()),
                    },
                }
            }
            (None, None) => s.unknown_responses.push(msg.to_string().chars().take(300).collect()),
        }
        drop(s);
        link.changed.notify_all();
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------------------------------------------
// The session

struct Soak {
    cfg: Config,
    root: PathBuf,
    docs: Vec<Doc>,
    /// Disk-only Python files: relative path → text (absent: deleted).
    disk_only: BTreeMap<String, Option<String>>,
    writer: Arc<Writer>,
    link: Arc<Link>,
    child: Arc<Mutex<Child>>,
    rng: Rng,
    sent: usize,
    session: Option<Session>,
    pasted: usize,
    created: usize,
    generation: usize,
    /// Cancels to send after a few more messages: (messages left, id).
    cancels: Vec<(usize, i64)>,
    /// Ids of the pulls of reports.py made before the disk change (pull mode).
    started: Instant,
    deadline: Instant,
    notes: Vec<String>,
}

fn uri_of(path: &Path) -> String {
    format!("file://{}", path.display())
}

impl Soak {
    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn time_left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    // -- sending ------------------------------------------------------------------------------------

    fn count(&mut self) -> Result<(), String> {
        self.sent += 1;
        // Scheduled cancels go out after the message they wait for.
        let mut due = Vec::new();
        self.cancels.retain_mut(|(left, id)| {
            if *left == 0 {
                due.push(*id);
                false
            } else {
                *left -= 1;
                true
            }
        });
        for id in due {
            self.writer.notify("$/cancelRequest", json!({ "id": id }))?;
            self.sent += 1;
        }
        Ok(())
    }

    fn request(&mut self, method: &'static str, label: &'static str, params: Value) -> Result<i64, String> {
        let id = self.writer.request(method, label, params, false)?;
        if self.rng.chance(0.07) {
            let after = self.rng.below(3);
            self.cancels.push((after, id));
        }
        self.count()?;
        Ok(id)
    }

    fn notify(&mut self, method: &str, params: Value) -> Result<(), String> {
        self.writer.notify(method, params)?;
        self.count()
    }

    fn change(&mut self, d: usize, edits: &[Edit]) -> Result<(), String> {
        let doc = &mut self.docs[d];
        let changes: Vec<Value> = edits.iter().map(|e| doc.apply(e)).collect();
        doc.version += 1;
        let params = json!({ "textDocument": { "uri": doc.uri, "version": doc.version }, "contentChanges": changes });
        self.notify("textDocument/didChange", params)
    }

    fn open(&mut self, d: usize) -> Result<(), String> {
        let doc = &mut self.docs[d];
        doc.version += 1;
        doc.open = true;
        doc.text = doc.disk.clone();
        let params = json!({ "textDocument": { "uri": doc.uri, "languageId": "python", "version": doc.version, "text": doc.text } });
        self.notify("textDocument/didOpen", params)
    }

    /// Waits until `done` holds for the shared state (the reader notifies on every message), or the
    /// deadline passes, or the server goes away.
    fn wait_for(&self, what: &str, mut done: impl FnMut(&Shared) -> bool) -> Result<(), String> {
        let mut s = self.link.lock();
        loop {
            if done(&s) {
                return Ok(());
            }
            if let Some(why) = &s.eof {
                return Err(format!("waiting for {what}: {why}"));
            }
            let left = self.time_left();
            if left.is_zero() {
                return Err(format!("waiting for {what}: the deadline passed"));
            }
            s = self
                .link
                .changed
                .wait_timeout(s, left.min(Duration::from_millis(200)))
                .map(|r| r.0)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// Sends a request and waits for its response.
    fn call(&self, method: &'static str, params: Value) -> Result<Value, String> {
        let id = self.writer.request(method, "sync", params, true)?;
        self.wait_for(method, |s| s.kept.contains_key(&id))?;
        Ok(self.link.lock().kept.remove(&id).expect("kept"))
    }

    /// What is still outstanding: requests without a response, open documents whose last version has
    /// not been published (push mode). Empty when settled.
    fn outstanding(&self, s: &Shared) -> Vec<String> {
        let mut out = Vec::new();
        if !s.pending.is_empty() {
            let mut p: Vec<(&i64, &Pending)> = s.pending.iter().collect();
            p.sort_by_key(|(id, _)| **id);
            let now = Instant::now();
            let list: Vec<String> = p
                .iter()
                .take(8)
                .map(|(id, p)| {
                    format!(
                        "{} id {id}{} sent {:.1} s ago",
                        p.method,
                        if p.cancelled { " (cancelled)" } else { "" },
                        (now - p.sent).as_secs_f64()
                    )
                })
                .collect();
            out.push(format!("{} requests unanswered, the oldest: {}", p.len(), list.join("; ")));
        }
        if !self.cfg.pull {
            let mut missing = Vec::new();
            for doc in self.docs.iter().filter(|d| d.open) {
                let published = s.published.get(&doc.uri).and_then(|p| p.0);
                if published != Some(doc.version) {
                    missing.push(format!("{} v{} (published: {:?})", doc.rel, doc.version, published));
                }
            }
            if !missing.is_empty() {
                out.push(format!(
                    "{} documents without diagnostics for their last version: {}",
                    missing.len(),
                    missing.iter().take(8).cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        out
    }

    /// Waits until nothing is outstanding and the server has been silent for `quiet`.
    fn settle(&self, quiet: Duration, what: &str) -> Result<(), String> {
        loop {
            let mut s = self.link.lock();
            let outstanding = self.outstanding(&s);
            let silent_for = s.last_message.map_or(Duration::MAX, |t| t.elapsed());
            if outstanding.is_empty() && silent_for >= quiet {
                return Ok(());
            }
            if let Some(why) = &s.eof {
                return Err(format!("{what}: {why}"));
            }
            if self.time_left().is_zero() {
                let why = if outstanding.is_empty() { "; the server kept publishing" } else { "" };
                return Err(format!(
                    "{what}: not settled {:.0} s after the start (the deadline){why}",
                    self.started.elapsed().as_secs_f64()
                ));
            }
            let wait =
                if outstanding.is_empty() { quiet.saturating_sub(silent_for) } else { Duration::from_millis(100) };
            s = self
                .link
                .changed
                .wait_timeout(s, wait.max(Duration::from_millis(10)))
                .map(|r| r.0)
                .unwrap_or_else(|e| e.into_inner().0);
            drop(s);
        }
    }

    /// A field of the server's /proc status in kB (`VmRSS`, `VmHWM`).
    fn status_kb(&self, field: &str) -> Option<u64> {
        let pid = self.child.lock().unwrap_or_else(|e| e.into_inner()).id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    fn rss_kb(&self) -> Option<u64> {
        self.status_kb("VmRSS")
    }

    /// What RSS is made of now, in MB: anonymous memory (the heap: mimalloc's arena, thread stacks), of
    /// it in transparent huge pages, and pages of mapped files (the binary).
    fn rss_parts(&self) -> String {
        let pid = self.child.lock().unwrap_or_else(|e| e.into_inner()).id();
        let huge_kb = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("AnonHugePages:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        });
        let mb = |kb: Option<u64>| kb.map_or("?".to_string(), |kb| format!("{:.1}", kb as f64 / 1024.0));
        format!(
            "anonymous {} (huge pages {}), files {}",
            mb(self.status_kb("RssAnon")),
            mb(huge_kb),
            mb(self.status_kb("RssFile"))
        )
    }

    /// RSS once settled (mimalloc returns freed pages after a delay): sampled every 100 ms until five
    /// samples in a row are within 1 % of one another (3 s at most); their median.
    fn settled_rss(&self) -> (u64, Vec<u64>) {
        let mut samples = Vec::new();
        for _ in 0..30 {
            if let Some(kb) = self.rss_kb() {
                samples.push(kb);
            }
            if samples.len() >= 5 {
                let last = &samples[samples.len() - 5..];
                let (lo, hi) = (last.iter().min().copied().unwrap_or(0), last.iter().max().copied().unwrap_or(0));
                if (hi - lo) as f64 <= lo as f64 * 0.01 {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut tail: Vec<u64> = samples.iter().rev().take(5).copied().collect();
        tail.sort_unstable();
        (tail.get(tail.len() / 2).copied().unwrap_or(0), samples)
    }

    /// The diagnostics the editor shows for a document now: the last push, or a pull.
    fn current_diagnostics(&self, d: usize) -> Result<Vec<Value>, String> {
        let uri = self.docs[d].uri.clone();
        if self.cfg.pull {
            let r = self.call("textDocument/diagnostic", json!({ "textDocument": { "uri": uri } }))?;
            if r["result"]["kind"] != "full" {
                return Err(format!("a pull without previousResultId answered {r}"));
            }
            Ok(r["result"]["items"].as_array().cloned().unwrap_or_default())
        } else {
            Ok(self.link.lock().published.get(&uri).map(|p| p.1.clone()).unwrap_or_default())
        }
    }

    /// The diagnostics the editor shows now for every open document, once settled: the last push, or
    /// pulls (again when the server asks for a refresh meanwhile).
    fn shown_now(&self) -> Result<BTreeMap<String, Vec<Value>>, String> {
        let refreshes = |s: &Shared| s.server_requests.get("workspace/diagnostic/refresh").copied().unwrap_or(0);
        let mut shown = BTreeMap::new();
        for _ in 0..3 {
            let before = refreshes(&self.link.lock());
            for d in (0..self.docs.len()).filter(|&d| self.docs[d].open) {
                shown.insert(self.docs[d].rel.clone(), self.current_diagnostics(d)?);
            }
            if !self.cfg.pull {
                break;
            }
            self.settle(QUIET, "after pulling every document")?;
            if refreshes(&self.link.lock()) == before {
                break;
            }
        }
        Ok(shown)
    }

    /// Compares what the server shows for the open documents with a fresh `loopsafe check` of the
    /// current texts (buffers, and the disk for the rest). Returns the documents that differ, and the
    /// number of findings of the check.
    fn compare_with_check(&self, shown: &BTreeMap<String, Vec<Value>>) -> Result<(Vec<String>, usize), String> {
        let mut files: BTreeMap<String, String> = BTreeMap::new();
        files.insert("pyproject.toml".into(), "[project]\nname = \"soak\"\n".into());
        for pkg in ["app", "app/clients", "app/services", "app/routes", "app/shared"] {
            files.insert(format!("{pkg}/__init__.py"), String::new());
        }
        for (rel, text) in &self.disk_only {
            if let Some(t) = text {
                files.insert(rel.clone(), t.clone());
            }
        }
        for doc in &self.docs {
            files.insert(doc.rel.clone(), doc.text.clone());
        }
        // The disk must hold what the test thinks it holds (the server reads closed files from there).
        for (rel, text) in &files {
            let on_disk = std::fs::read_to_string(self.path(rel)).unwrap_or_default();
            let expected = self.docs.iter().find(|d| &d.rel == rel).map_or(text, |d| &d.disk);
            assert_eq!(&on_disk, expected, "the test's model of {rel} on disk");
        }
        let fresh = fresh_check(&self.cfg.bin, &files)?;
        let total = fresh.values().map(Vec::len).sum();
        let mut mismatches = Vec::new();
        for doc in self.docs.iter().filter(|d| d.open) {
            let got = lsp_keys(&doc.text, shown.get(&doc.rel).map_or(&[][..], Vec::as_slice));
            let want = fresh.get(&doc.rel).cloned().unwrap_or_default();
            if got != want {
                mismatches.push(format!(
                    "{} (v{}):\n    server: {}\n    check:  {}",
                    doc.rel,
                    doc.version,
                    show(&got),
                    show(&want)
                ));
            }
        }
        Ok((mismatches, total))
    }

    /// What an editor does on "fix all": asks for `source.fixAll`, waits, applies the edit it gets (for
    /// the document's current version) as one didChange. Returns whether there was anything to apply.
    fn apply_fix_all(&mut self, d: usize) -> Result<bool, String> {
        let (uri, text) = (self.docs[d].uri.clone(), self.docs[d].text.clone());
        let whole = lsp_range(&text, 0, text.len());
        let r = self.call(
            "textDocument/codeAction",
            json!({ "textDocument": { "uri": uri }, "range": whole,
                    "context": { "diagnostics": [], "only": ["source.fixAll"], "triggerKind": 1 } }),
        )?;
        let Some(action) =
            r["result"].as_array().and_then(|a| a.iter().find(|a| a["kind"] == "source.fixAll.loopsafe"))
        else {
            return Ok(false);
        };
        let Some(change) = action["edit"]["documentChanges"].as_array().and_then(|c| c.first()) else {
            return Err(format!("a fix-all action without documentChanges: {action}"));
        };
        if change["textDocument"]["version"].as_i64() != Some(self.docs[d].version) {
            return Err(format!(
                "the fix-all edit of {} is for version {}, the document is at {}",
                self.docs[d].rel, change["textDocument"]["version"], self.docs[d].version
            ));
        }
        // Edits are relative to the text they were computed on: applied from the last one up, each
        // keeps the offsets of those before it valid.
        let mut edits: Vec<Edit> = change["edits"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|e| Edit {
                start: byte_of(&text, &e["range"]["start"]),
                end: byte_of(&text, &e["range"]["end"]),
                text: e["newText"].as_str().unwrap_or_default().to_string(),
            })
            .collect();
        edits.sort_by_key(|e| std::cmp::Reverse((e.start, e.end)));
        if edits.is_empty() {
            return Ok(false);
        }
        self.change(d, &edits)?;
        Ok(true)
    }

    /// After the end: a hover on each shown diagnostic (some of them) names one of the codes there, and
    /// quick fixes for it are offered (at least the suppression).
    fn probe_final(&self, finals: &BTreeMap<String, Vec<Value>>) -> Result<(usize, Vec<String>), String> {
        let mut failures = Vec::new();
        let mut probes = 0;
        for doc in &self.docs {
            let diags = finals.get(&doc.rel).map_or(&[][..], Vec::as_slice);
            for (i, diag) in diags.iter().enumerate() {
                if probes >= 120 || i % 3 != 0 {
                    continue;
                }
                probes += 1;
                let at = &diag["range"]["start"];
                let codes: Vec<&str> = diags
                    .iter()
                    .filter(|o| byte_of(&doc.text, &o["range"]["start"]) <= byte_of(&doc.text, at))
                    .filter(|o| byte_of(&doc.text, at) <= byte_of(&doc.text, &o["range"]["end"]))
                    .filter_map(|o| o["code"].as_str())
                    .collect();
                let hover =
                    self.call("textDocument/hover", json!({ "textDocument": { "uri": doc.uri }, "position": at }))?;
                let value = hover["result"]["contents"]["value"].as_str().unwrap_or_default();
                if !codes.iter().any(|c| value.contains(c)) {
                    failures.push(format!("a hover at {}:{at} does not name {codes:?}: {hover}", doc.rel));
                }
                let actions = self.call(
                    "textDocument/codeAction",
                    json!({ "textDocument": { "uri": doc.uri }, "range": diag["range"],
                            "context": { "diagnostics": [diag], "triggerKind": 1 } }),
                )?;
                if actions["result"].as_array().is_none_or(Vec::is_empty) {
                    failures.push(format!(
                        "no quick fix for {} {} at {}:{at}: {actions}",
                        diag["code"], diag["message"], doc.rel
                    ));
                }
            }
        }
        let n = failures.len();
        let mut out: Vec<String> = failures.into_iter().take(5).collect();
        if n > 5 {
            out.push(format!("... and {} more hover or quick-fix probes failed", n - 5));
        }
        Ok((probes, out))
    }

    fn chain_through(diags: &[Value], uri: &str) -> bool {
        diags
            .iter()
            .any(|d| d["relatedInformation"].as_array().is_some_and(|r| r.iter().any(|i| i["location"]["uri"] == uri)))
    }

    // -- the message mix -----------------------------------------------------------------------------

    fn open_docs(&self, editable: bool) -> Vec<usize> {
        (0..self.docs.len()).filter(|&i| self.docs[i].open && (!editable || self.docs[i].editable)).collect()
    }

    /// An editable open document other than the one being typed in.
    fn other_doc(&mut self) -> Option<usize> {
        let busy = self.session.as_ref().map(|s| s.doc);
        let candidates: Vec<usize> = self.open_docs(true).into_iter().filter(|&d| Some(d) != busy).collect();
        (!candidates.is_empty()).then(|| *self.rng.pick(&candidates))
    }

    fn step(&mut self) -> Result<(), String> {
        let roll = self.rng.below(1000);
        match roll {
            0..=399 => self.typing(),
            400..=419 => self.paste(),
            420..=439 => self.delete_block(),
            440..=469 => self.delete_line(),
            470..=519 => self.multi_change(),
            520..=524 => self.full_replace(),
            525..=734 => self.hover(),
            735..=824 => self.code_action(false),
            825..=849 => self.code_action(true),
            850..=909 if self.cfg.pull => self.pull(),
            910..=914 if self.cfg.pull => self.workspace_pull(),
            850..=914 => self.hover(),
            915..=939 => self.save(),
            940..=964 => self.close_or_open(),
            _ => self.disk_change(),
        }
    }

    fn typing(&mut self) -> Result<(), String> {
        if self.session.is_none() {
            self.start_session();
        }
        let Some(mut s) = self.session.take() else { return self.hover() };
        if !self.docs[s.doc].open {
            return self.hover();
        }
        let edit = if let Some(first) = s.to_type.pop_front() {
            // Mostly one character; sometimes a completion inserts a few at once.
            let mut chunk = first.to_string();
            if self.rng.chance(0.15) {
                for _ in 0..self.rng.below(6) {
                    match s.to_type.pop_front() {
                        Some(c) => chunk.push(c),
                        None => break,
                    }
                }
            }
            let e = Edit { start: s.cursor, end: s.cursor, text: chunk.clone() };
            s.cursor += chunk.len();
            s.typed += chunk.chars().count();
            e
        } else if s.revert && s.typed > 0 {
            let text = &self.docs[s.doc].text;
            let prev = text[..s.cursor].chars().next_back().expect("a typed character");
            s.typed -= 1;
            s.cursor -= prev.len_utf8();
            Edit { start: s.cursor, end: s.cursor + prev.len_utf8(), text: String::new() }
        } else {
            return self.hover();
        };
        let d = s.doc;
        if !s.to_type.is_empty() || (s.revert && s.typed > 0) {
            self.session = Some(s);
        }
        self.change(d, &[edit])
    }

    /// Types the rest of the typing session in progress (and deletes it again when it is to be
    /// reverted), so that no text is left half typed.
    fn finish_typing(&mut self) -> Result<(), String> {
        while let Some(s) = self.session.as_ref() {
            if !self.docs[s.doc].open {
                self.session = None;
                break;
            }
            self.typing()?;
        }
        Ok(())
    }

    /// The typing session in progress, if any: the document and what is typed so far.
    fn typing_in_progress(&self) -> Option<String> {
        let s = self.session.as_ref()?;
        let text = &self.docs[s.doc].text;
        let start = text[..s.cursor].char_indices().rev().nth(s.typed.saturating_sub(1)).map_or(s.cursor, |(i, _)| i);
        let typed = if s.typed == 0 { "" } else { &text[start..s.cursor] };
        Some(format!("{} has {typed:?} typed, {} characters to go", self.docs[s.doc].rel, s.to_type.len()))
    }

    fn start_session(&mut self) {
        let Some(d) = self.other_doc() else { return };
        let doc = &self.docs[d];
        if self.rng.chance(0.75) {
            let body = doc.body_lines();
            if body.is_empty() {
                return;
            }
            let (_, end) = *self.rng.pick(&body);
            let snippet = *self.rng.pick(SNIPPETS);
            let revert = doc.too_big() || self.rng.chance(0.5);
            self.session = Some(Session { doc: d, cursor: end, to_type: snippet.chars().collect(), typed: 0, revert });
        } else {
            let ls = lines(&doc.text);
            let (start, _) = *self.rng.pick(&ls);
            let (text, must_revert) = *self.rng.pick(COLUMN0);
            let revert = must_revert || doc.too_big() || self.rng.chance(0.5);
            self.session = Some(Session { doc: d, cursor: start, to_type: text.chars().collect(), typed: 0, revert });
        }
    }

    /// A function pasted at a top-level boundary (or, in a document grown too big, one deleted).
    fn paste(&mut self) -> Result<(), String> {
        let Some(d) = self.other_doc() else { return self.hover() };
        if self.docs[d].too_big() { self.delete_block_in(d) } else { self.paste_in(d) }
    }

    /// A whole top-level definition deleted (or, in a document shrunk too small, one pasted).
    fn delete_block(&mut self) -> Result<(), String> {
        let Some(d) = self.other_doc() else { return self.hover() };
        if self.docs[d].too_small() { self.paste_in(d) } else { self.delete_block_in(d) }
    }

    fn paste_in(&mut self, d: usize) -> Result<(), String> {
        let mut at = self.docs[d].boundaries();
        at.push(self.docs[d].text.len());
        let pos = *self.rng.pick(&at);
        self.pasted += 1;
        let mut block = pasted_block(self.pasted);
        if pos == self.docs[d].text.len() {
            block = format!("\n\n{}", block.trim_end());
            block.push('\n');
        }
        self.change(d, &[Edit { start: pos, end: pos, text: block }])
    }

    fn delete_block_in(&mut self, d: usize) -> Result<(), String> {
        let b = self.docs[d].boundaries();
        if b.len() < 5 {
            return self.hover();
        }
        let i = self.rng.below(b.len());
        let end = b.get(i + 1).copied().unwrap_or(self.docs[d].text.len());
        self.change(d, &[Edit { start: b[i], end, text: String::new() }])
    }

    fn delete_line(&mut self) -> Result<(), String> {
        let Some(d) = self.other_doc() else { return self.hover() };
        if self.docs[d].too_small() {
            return self.paste_in(d);
        }
        let text = &self.docs[d].text;
        let ls = lines(text);
        // A simple statement whose body keeps another statement before it.
        let candidates: Vec<(usize, usize)> = (1..ls.len().saturating_sub(1))
            .filter(|&i| {
                let l = &text[ls[i].0..ls[i].1];
                let prev = &text[ls[i - 1].0..ls[i - 1].1];
                indent_of(l) == 4
                    && !l.trim().is_empty()
                    && !l.ends_with(':')
                    && !l.trim_start().starts_with('@')
                    && indent_of(prev) == 4
                    && !prev.trim().is_empty()
                    && !prev.ends_with(':')
                    && indent_of(&text[ls[i + 1].0..ls[i + 1].1]) <= 4
            })
            .map(|i| (ls[i].0, ls[i + 1].0))
            .collect();
        if candidates.is_empty() {
            return self.hover();
        }
        let (start, end) = *self.rng.pick(&candidates);
        self.change(d, &[Edit { start, end, text: String::new() }])
    }

    /// Several changes in one didChange, each in the coordinates of the text the previous ones left.
    fn multi_change(&mut self) -> Result<(), String> {
        let Some(d) = self.other_doc() else { return self.hover() };
        let n = 2 + self.rng.below(3);
        let mut edits = Vec::new();
        // Built against a scratch copy, so that each edit's offsets are those of the text before it.
        let mut scratch = self.docs[d].text.clone();
        for _ in 0..n {
            let ls = lines(&scratch);
            let edit = match self.rng.below(4) {
                0 => {
                    let (_, end) = *self.rng.pick(&ls);
                    Edit { start: end, end, text: " # ✎ é😀".into() }
                }
                1 => match scratch.find(" # ✎ é😀") {
                    Some(at) => Edit { start: at, end: at + " # ✎ é😀".len(), text: String::new() },
                    None => {
                        let (_, end) = *self.rng.pick(&ls);
                        Edit { start: end, end, text: "\n".into() }
                    }
                },
                2 => {
                    let numbers: Vec<usize> = scratch.match_indices("0.1").map(|(i, _)| i).collect();
                    match numbers.is_empty() {
                        false => {
                            let at = *self.rng.pick(&numbers);
                            Edit { start: at, end: at + 3, text: "0.125".into() }
                        }
                        true => Edit { start: 0, end: 0, text: "# 日本\n".into() },
                    }
                }
                _ => {
                    // A blank line typed at the end of a line that ends with non-ASCII text.
                    let (_, end) = *self.rng.pick(&ls);
                    Edit { start: end, end, text: "\n".into() }
                }
            };
            scratch.replace_range(edit.start..edit.end, &edit.text);
            edits.push(edit);
        }
        self.change(d, &edits)
    }

    /// The whole text replaced (a reload from disk): a change without a range.
    fn full_replace(&mut self) -> Result<(), String> {
        let Some(d) = self.other_doc() else { return self.hover() };
        let doc = &mut self.docs[d];
        doc.text = doc.disk.clone();
        doc.version += 1;
        let params = json!({ "textDocument": { "uri": doc.uri, "version": doc.version }, "contentChanges": [{ "text": doc.text }] });
        self.notify("textDocument/didChange", params)
    }

    fn hover(&mut self) -> Result<(), String> {
        let open = self.open_docs(false);
        let d = *self.rng.pick(&open);
        let text = &self.docs[d].text;
        let byte = if self.rng.chance(0.6) {
            // On a call's name: where findings and blocking functions are.
            let calls: Vec<usize> = text
                .match_indices('(')
                .map(|(i, _)| i)
                .filter(|&i| i > 0 && text[..i].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_'))
                .collect();
            match calls.is_empty() {
                true => 0,
                false => {
                    let at = *self.rng.pick(&calls);
                    let name_start = text[..at]
                        .char_indices()
                        .rev()
                        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
                        .map_or(0, |(i, c)| i + c.len_utf8());
                    name_start + (at - name_start) / 2
                }
            }
        } else {
            floor_boundary(text, self.rng.below(text.len() + 1))
        };
        let params = json!({ "textDocument": { "uri": self.docs[d].uri }, "position": lsp_position(text, byte) });
        self.request("textDocument/hover", "hover", params).map(|_| ())
    }

    fn code_action(&mut self, fix_all: bool) -> Result<(), String> {
        let open = self.open_docs(false);
        let d = *self.rng.pick(&open);
        let uri = self.docs[d].uri.clone();
        let known = {
            let s = self.link.lock();
            if self.cfg.pull { s.pulled.get(&uri).cloned() } else { s.published.get(&uri).map(|p| p.1.clone()) }
        }
        .unwrap_or_default();
        let text = &self.docs[d].text;
        // The same draws whatever the server has published so far, so that a seed replays the mix.
        let (which, line) = (self.rng.next() as usize, self.rng.next() as usize);
        let (range, diagnostics) = match (known.is_empty(), fix_all) {
            (false, false) => {
                let diag = known[which % known.len()].clone();
                (diag["range"].clone(), vec![diag])
            }
            _ => {
                let ls = lines(text);
                let (s, e) = ls[line % ls.len()];
                (lsp_range(text, s, e), Vec::new())
            }
        };
        let mut context = json!({ "diagnostics": diagnostics, "triggerKind": 1 });
        if fix_all {
            context["only"] = json!(["source.fixAll"]);
        }
        let params = json!({ "textDocument": { "uri": uri }, "range": range, "context": context });
        let label = if fix_all { "codeAction fixAll" } else { "codeAction quickfix" };
        self.request("textDocument/codeAction", label, params).map(|_| ())
    }

    fn pull(&mut self) -> Result<(), String> {
        let open = self.open_docs(false);
        let d = *self.rng.pick(&open);
        let params = json!({ "textDocument": { "uri": self.docs[d].uri } });
        self.request("textDocument/diagnostic", "pull", params).map(|_| ())
    }

    fn workspace_pull(&mut self) -> Result<(), String> {
        self.request("workspace/diagnostic", "workspace pull", json!({ "previousResultIds": [] })).map(|_| ())
    }

    /// The editor writes the buffer to disk and says so (and the watcher sees it, sometimes).
    fn save(&mut self) -> Result<(), String> {
        let Some(d) = self.other_doc() else { return self.hover() };
        self.save_doc(d)
    }

    fn save_doc(&mut self, d: usize) -> Result<(), String> {
        let path = self.path(&self.docs[d].rel);
        std::fs::write(&path, &self.docs[d].text).map_err(|e| format!("writing {}: {e}", path.display()))?;
        self.docs[d].disk = self.docs[d].text.clone();
        let uri = self.docs[d].uri.clone();
        self.notify("textDocument/didSave", json!({ "textDocument": { "uri": uri } }))?;
        if self.rng.chance(0.5) {
            self.notify("workspace/didChangeWatchedFiles", json!({ "changes": [{ "uri": uri, "type": 2 }] }))?;
        }
        Ok(())
    }

    fn close_or_open(&mut self) -> Result<(), String> {
        let closed: Vec<usize> = (0..self.docs.len()).filter(|&i| !self.docs[i].open).collect();
        if closed.len() >= 3 || (!closed.is_empty() && self.rng.chance(0.5)) {
            let d = *self.rng.pick(&closed);
            return self.open(d);
        }
        let Some(d) = self.other_doc() else { return self.hover() };
        if self.rng.chance(0.5) {
            self.save_doc(d)?; // saved, then closed; otherwise closed without saving
        }
        let doc = &mut self.docs[d];
        doc.open = false;
        doc.text = doc.disk.clone();
        let uri = doc.uri.clone();
        self.notify("textDocument/didClose", json!({ "textDocument": { "uri": uri } }))
    }

    /// Files rewritten, created or deleted on disk, then reported by the watcher (sometimes several in
    /// one notification).
    fn disk_change(&mut self) -> Result<(), String> {
        let mut changes = Vec::new();
        for _ in 0..1 + self.rng.below(3) {
            self.generation += 1;
            let (rel, text) = match self.rng.below(5) {
                0 | 1 => {
                    // A disk-only module starts or stops blocking.
                    let m = self.rng.below(SHARED);
                    (format!("app/shared/d{m}.py"), Some(shared_module(m, self.rng.chance(0.5), self.generation)))
                }
                2 => {
                    // A file that is open: the buffer wins over the disk.
                    let open = self.open_docs(true);
                    let d = *self.rng.pick(&open);
                    let disk = &self.docs[d].disk;
                    let kept = disk.find("\n# rewritten on disk").map_or(disk.as_str(), |at| &disk[..at]);
                    let text = format!("{}\n# rewritten on disk ({})\n", kept.trim_end(), self.generation);
                    (self.docs[d].rel.clone(), Some(text))
                }
                3 if self.disk_only.iter().filter(|(k, v)| k.contains("/new_") && v.is_some()).count() < 4 => {
                    self.created += 1;
                    let n = self.created;
                    let text = format!("import time\n\n\ndef created_{n}():\n    time.sleep({n})\n");
                    (format!("app/shared/new_{n}.py"), Some(text))
                }
                _ => {
                    // Delete a created file, if any.
                    let created: Vec<String> = self
                        .disk_only
                        .iter()
                        .filter(|(k, v)| k.contains("/new_") && v.is_some())
                        .map(|(k, _)| k.clone())
                        .collect();
                    match created.is_empty() {
                        true => continue,
                        false => (self.rng.pick(&created).clone(), None),
                    }
                }
            };
            let path = self.path(&rel);
            let kind = match &text {
                Some(t) => {
                    let existed = path.exists();
                    std::fs::write(&path, t).map_err(|e| format!("writing {}: {e}", path.display()))?;
                    if existed { 2 } else { 1 }
                }
                None => {
                    std::fs::remove_file(&path).map_err(|e| format!("removing {}: {e}", path.display()))?;
                    3
                }
            };
            match self.docs.iter_mut().find(|d| d.rel == rel) {
                Some(doc) => {
                    doc.disk = text.clone().expect("open files are not deleted");
                    if !doc.open {
                        doc.text = doc.disk.clone();
                    }
                }
                None => {
                    self.disk_only.insert(rel.clone(), text);
                }
            }
            changes.push(json!({ "uri": uri_of(&path), "type": kind }));
        }
        if changes.is_empty() {
            return self.hover();
        }
        self.notify("workspace/didChangeWatchedFiles", json!({ "changes": changes }))
    }

    /// The helper that `reports.py` reaches stops blocking on disk.
    fn fix_blocking_io(&mut self) -> Result<(), String> {
        let path = self.path(BLOCKING_IO_PATH);
        std::fs::write(&path, BLOCKING_IO_FIXED).map_err(|e| format!("writing {}: {e}", path.display()))?;
        self.disk_only.insert(BLOCKING_IO_PATH.into(), Some(BLOCKING_IO_FIXED.into()));
        self.notify("workspace/didChangeWatchedFiles", json!({ "changes": [{ "uri": uri_of(&path), "type": 2 }] }))
    }
}

// ---------------------------------------------------------------------------------------------------
// Figures

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

struct Figures {
    text: String,
    p99: BTreeMap<&'static str, f64>,
}

fn figures(latencies: &BTreeMap<&'static str, Vec<f64>>) -> Figures {
    let mut text = String::new();
    let mut p99 = BTreeMap::new();
    for (label, values) in latencies {
        let mut v = values.clone();
        v.sort_by(f64::total_cmp);
        let (p50, p, max) = (percentile(&v, 50.0), percentile(&v, 99.0), v.last().copied().unwrap_or(f64::NAN));
        let _ = writeln!(text, "  {label:<22} n={:<6} p50 {p50:>9.2} ms  p99 {p:>9.2} ms  max {max:>9.2} ms", v.len());
        p99.insert(*label, p);
    }
    Figures { text, p99 }
}

// ---------------------------------------------------------------------------------------------------
// The fresh check

type Key = (String, u64, u64, u64, u64);

/// `loopsafe check --output-format json` of the final texts in a new directory: findings per file.
fn fresh_check(bin: &Path, files: &BTreeMap<String, String>) -> Result<BTreeMap<String, Vec<Key>>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    for (rel, text) in files {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("a parent")).map_err(|e| e.to_string())?;
        std::fs::write(&p, text).map_err(|e| e.to_string())?;
    }
    let out = Command::new(bin)
        .args(["check", "--output-format", "json", "--no-cache", "--exit-zero", "."])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .map_err(|e| format!("running {}: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!("loopsafe check exited {}: {}", out.status, String::from_utf8_lossy(&out.stderr)));
    }
    let items: Vec<Value> = serde_json::from_slice(&out.stdout).map_err(|e| format!("check's JSON: {e}"))?;
    let mut by_file: BTreeMap<String, Vec<Key>> = BTreeMap::new();
    for f in items {
        let path = f["path"].as_str().unwrap_or_default().trim_start_matches("./").to_string();
        let n = |k: &str| f[k].as_u64().unwrap_or(0);
        by_file.entry(path).or_default().push((
            f["code"].as_str().unwrap_or_default().to_string(),
            n("line"),
            n("column"),
            n("end_line"),
            n("end_column"),
        ));
    }
    for v in by_file.values_mut() {
        v.sort();
    }
    Ok(by_file)
}

fn lsp_keys(text: &str, diags: &[Value]) -> Vec<Key> {
    let mut out: Vec<Key> = diags
        .iter()
        .map(|d| {
            let (l, c) = to_check_position(text, &d["range"]["start"]);
            let (el, ec) = to_check_position(text, &d["range"]["end"]);
            (d["code"].as_str().unwrap_or_default().to_string(), l, c, el, ec)
        })
        .collect();
    out.sort();
    out
}

fn show(keys: &[Key]) -> String {
    keys.iter().map(|(c, l, col, el, ec)| format!("{c}@{l}:{col}-{el}:{ec}")).collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------------------------------
// The run

fn soak(cfg: Config) {
    let mode = if cfg.pull { "pull" } else { "push" };
    eprintln!(
        "soak ({mode}): {} messages, seed {:#x} (replay: LOOPSAFE_SOAK_SEED={:#x}), binary {}",
        cfg.messages,
        cfg.seed,
        cfg.seed,
        cfg.bin.display()
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    let root = std::fs::canonicalize(dir.path()).expect("canonical").join("ws");
    let logs = dir.path().join("server.log");
    let mut docs = Vec::new();
    let mut disk_only = BTreeMap::new();
    for (rel, text, open) in workspace_files() {
        let p = root.join(&rel);
        std::fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir");
        std::fs::write(&p, &text).expect("write");
        if open {
            docs.push(Doc {
                uri: uri_of(&p),
                editable: rel != REPORTS_PATH,
                rel,
                initial_len: text.len(),
                disk: text.clone(),
                text,
                version: 0,
                open: false,
            });
        } else if rel.ends_with(".py") {
            disk_only.insert(rel, Some(text));
        }
    }
    assert_eq!(docs.len(), 50, "50 open documents");

    let mut child = Command::new(&cfg.bin)
        .args(["server", "--log-level", "warn"])
        .current_dir(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&logs).expect("log file"))
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", cfg.bin.display()));
    let stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let child = Arc::new(Mutex::new(child));
    let link = Arc::new(Link { state: Mutex::new(Shared::default()), changed: Condvar::new() });
    let writer = Arc::new(Writer { stdin: Mutex::new(stdin), link: link.clone() });
    let (reply_tx, reply_rx) = mpsc::channel::<Value>();
    let reader_thread = {
        let link = link.clone();
        std::thread::spawn(move || reader(stdout, link, reply_tx))
    };
    let reply_thread = {
        let writer = writer.clone();
        std::thread::spawn(move || {
            for msg in reply_rx {
                if writer.reply(&msg).is_err() {
                    return;
                }
            }
        })
    };
    // The watchdog: past the deadline (plus a grace period for the final check), the server is killed,
    // which unblocks any write or read in progress.
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let (done, child, limit) = (done.clone(), child.clone(), cfg.deadline + Duration::from_secs(30));
        std::thread::spawn(move || {
            let start = Instant::now();
            while start.elapsed() < limit {
                if done.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            eprintln!("soak: the watchdog kills the server ({} s)", limit.as_secs());
            let _ = child.lock().unwrap_or_else(|e| e.into_inner()).kill();
        })
    };

    let started = Instant::now();
    let mut soak = Soak {
        rng: Rng(cfg.seed),
        deadline: started + cfg.deadline,
        cfg: cfg.clone(),
        root: root.clone(),
        docs,
        disk_only,
        writer,
        link: link.clone(),
        child: child.clone(),
        sent: 0,
        session: None,
        pasted: 0,
        created: 0,
        generation: 0,
        cancels: Vec::new(),
        started,
        notes: Vec::new(),
    };
    let result = run(&mut soak).map_err(|e| {
        // Say what was still pending when the run broke off (a write to a killed server, a deadline).
        let pending = soak.outstanding(&link.lock());
        match pending.is_empty() {
            true => e,
            false => format!("{e}; still pending: {}", pending.join("; ")),
        }
    });
    done.store(true, Ordering::SeqCst);
    let completed = result.is_ok();

    // Stop the server: shutdown and exit when it is still talking, else kill it.
    let alive = link.lock().eof.is_none();
    if alive {
        let _ = soak.writer.request("shutdown", "shutdown", Value::Null, false);
        let _ = soak.writer.notify("exit", Value::Null);
    }
    let exit_deadline = Instant::now() + Duration::from_secs(5);
    let mut status = None;
    while Instant::now() < exit_deadline {
        if let Ok(Some(s)) = child.lock().unwrap_or_else(|e| e.into_inner()).try_wait() {
            status = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if status.is_none() {
        let mut c = child.lock().unwrap_or_else(|e| e.into_inner());
        let _ = c.kill();
        let _ = c.wait();
    }
    drop(soak);
    let _ = reader_thread.join();
    let _ = reply_thread.join();
    let _ = watchdog.join();

    let log = std::fs::read_to_string(&logs).unwrap_or_default();
    // The server does not ask for didSave (no `save` in its sync options) and warns about each one.
    let unasked = |l: &&str| l.contains("`textDocument/didSave` notification, but it is not implemented");
    let log_tail: String = {
        let lines: Vec<&str> = log.lines().filter(|l| !unasked(l)).collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    };
    let mut failures = match result {
        Ok(failures) => failures,
        Err(e) => vec![format!("the run did not complete: {e}")],
    };
    if alive && status.is_none() && completed {
        failures.push("the server did not exit within 5 s of shutdown and exit".into());
    }
    if log.contains("panicked") {
        failures.push("the server logged a panic".into());
    }
    if !failures.is_empty() {
        panic!(
            "soak ({mode}, seed {:#x}, replay with LOOPSAFE_SOAK_SEED={:#x}) failed:\n- {}\nlast lines of the server's log:\n{log_tail}",
            cfg.seed,
            cfg.seed,
            failures.join("\n- ")
        );
    }
}

/// Runs the session; returns the failed assertions (all of them, not only the first), or an error
/// when the run itself could not complete (deadline, server gone).
fn run(soak: &mut Soak) -> Result<Vec<String>, String> {
    let mut failures = Vec::new();
    let mut caps = json!({
        "general": { "positionEncodings": ["utf-16"] },
        "window": { "workDoneProgress": true },
        "workspace": {
            "didChangeWatchedFiles": { "dynamicRegistration": true },
            "workspaceEdit": { "documentChanges": true },
            "configuration": true,
        },
        "textDocument": {
            "synchronization": { "didSave": true, "dynamicRegistration": false },
            "publishDiagnostics": { "relatedInformation": true, "versionSupport": true },
            "hover": { "contentFormat": ["markdown", "plaintext"] },
            "codeAction": {
                "codeActionLiteralSupport": { "codeActionKind": { "valueSet": ["quickfix", "source", "source.fixAll"] } },
                "isPreferredSupport": true,
                "disabledSupport": true,
                "dataSupport": true,
            },
        },
    });
    if soak.cfg.pull {
        caps["textDocument"]["diagnostic"] = json!({ "dynamicRegistration": false, "relatedDocumentSupport": false });
        caps["workspace"]["diagnostics"] = json!({ "refreshSupport": true });
    }
    let root_uri = uri_of(&soak.root);
    let init = soak.call(
        "initialize",
        json!({ "processId": std::process::id(), "rootUri": root_uri, "capabilities": caps,
                "workspaceFolders": [{ "uri": root_uri, "name": "soak" }] }),
    )?;
    if init.get("error").is_some() {
        return Err(format!("initialize failed: {init}"));
    }
    let pull_provider = !init["result"]["capabilities"]["diagnosticProvider"].is_null();
    if pull_provider != soak.cfg.pull {
        failures.push(format!(
            "the server's diagnosticProvider is {pull_provider}, the client asked for pull: {}",
            soak.cfg.pull
        ));
    }
    soak.writer.notify("initialized", json!({}))?;

    for d in 0..soak.docs.len() {
        soak.open(d)?;
    }
    soak.notes.push(format!("50 documents opened at {:.2} s", soak.started.elapsed().as_secs_f64()));

    // Halfway between the RSS reference point (where the chain through the helper is checked) and the end.
    let fix_at = BASELINE_AFTER + (soak.cfg.messages - BASELINE_AFTER) / 2;
    let mut baseline = None;
    let mut base_parts = String::new();
    let mut base_bytes = 0;
    let mut base_peak = 0;
    let mut chain_before = None;
    let mut fixed = false;
    let send_started = Instant::now();
    while soak.sent < soak.cfg.messages {
        if soak.time_left().is_zero() {
            return Err(format!("the deadline passed after {} of {} messages", soak.sent, soak.cfg.messages));
        }
        if baseline.is_none() && soak.sent >= BASELINE_AFTER {
            // The reference point for memory: everything answered and published, then RSS settled.
            soak.notes.push(format!("{BASELINE_AFTER} messages sent at {:.2} s", soak.started.elapsed().as_secs_f64()));
            // Typing in progress is finished first (as at the end). While a snippet is half typed, the
            // text is often broken (an open bracket or string): the server analyses the edited function
            // alone where it can (README, typing latency) or reparses incrementally, and its recovery
            // from the break differs from `loopsafe check`'s fresh parse of the whole broken file, which
            // may lose or change the functions after the break; a chain through that module then
            // differs (named after another blocking call, or missing). That was the checkpoint's
            // occasional mismatch (issue 18); complete texts agree. `LOOPSAFE_SOAK_CHECKPOINT=midtyping`
            // compares without finishing (LOOPSAFE_SOAK_SEED=0x18ee0b9950bf2d89 with 1,300 messages
            // shows a mismatch there).
            let typing = soak.typing_in_progress();
            if !soak.cfg.checkpoint_midtyping {
                soak.finish_typing()?;
            }
            soak.settle(QUIET, "settling after the first 1,000 messages")?;
            // A checkpoint: what the editor shows then equals a fresh check too.
            let shown = soak.shown_now()?;
            // RSS is taken after the same steps at both points: settled, then every document's
            // diagnostics shown (in a pull session, every document pulled). Taken before that pull here
            // but after it at the end, the growth counted what the first pull of all 50 documents keeps
            // (each one's last report, `State::sent`), not what the session accumulates.
            baseline = Some(soak.settled_rss());
            base_parts = soak.rss_parts();
            base_bytes = soak.docs.iter().map(|d| d.text.len()).sum::<usize>();
            base_peak = soak.status_kb("VmHWM").unwrap_or(0);
            let (mismatches, _) = soak.compare_with_check(&shown)?;
            if !mismatches.is_empty() {
                let what = format!(
                    "after {BASELINE_AFTER} messages, diagnostics differ from a fresh check in {} documents:\n  {}",
                    mismatches.len(),
                    mismatches.iter().take(6).cloned().collect::<Vec<_>>().join("\n  ")
                );
                let what = match &typing {
                    Some(t) => format!(
                        "{what}\n  (typing was in progress: {t}; finished first: {})",
                        !soak.cfg.checkpoint_midtyping
                    ),
                    None => what,
                };
                if soak.cfg.report_checkpoint {
                    eprintln!(
                        "soak ({}): CHECKPOINT MISMATCH (reported, not failed): {what}",
                        if soak.cfg.pull { "pull" } else { "push" }
                    );
                } else {
                    failures.push(what);
                }
            }
            let reports = shown.get(REPORTS_PATH).map_or(&[][..], Vec::as_slice);
            chain_before = Some(Soak::chain_through(reports, &uri_of(&soak.path(BLOCKING_IO_PATH))));
            // Fix all in a few routes, as an editor applies it: the fixed texts must analyse as the
            // check does at the end (the edits' UTF-16 ranges keep the buffers in step).
            let routes: Vec<usize> = (0..soak.docs.len())
                .filter(|&d| soak.docs[d].editable && soak.docs[d].rel.contains("/routes/r"))
                .collect();
            let mut applied = 0;
            for &d in routes.iter().step_by(6) {
                if soak.docs[d].open && soak.session.as_ref().is_none_or(|s| s.doc != d) && soak.apply_fix_all(d)? {
                    applied += 1;
                }
            }
            if applied == 0 {
                failures.push("no source.fixAll edit to apply in any of the routes tried".into());
            }
            soak.notes.push(format!("source.fixAll applied in {applied} routes"));
        }
        if !fixed && soak.sent >= fix_at {
            fixed = true;
            soak.fix_blocking_io()?;
            continue;
        }
        soak.step()?;
    }
    // Every document open again, and the typing finished, before the end.
    soak.finish_typing()?;
    for d in 0..soak.docs.len() {
        if !soak.docs[d].open {
            soak.open(d)?;
        }
    }
    let send_time = send_started.elapsed();
    let sent = soak.sent;
    soak.settle(QUIET, "waiting for the final diagnostics")?;
    let quiet_after = soak.started.elapsed();

    // The final diagnostics: the last push of each document (for its last version), or a pull.
    let finals = soak.shown_now()?;
    let end_rss = soak.settled_rss();
    let end_parts = soak.rss_parts();
    let end_peak = soak.status_kb("VmHWM").unwrap_or(0);

    let (mismatches, total_fresh) = soak.compare_with_check(&finals)?;
    if !mismatches.is_empty() {
        failures.push(format!(
            "final diagnostics differ from a fresh check in {} documents:\n  {}",
            mismatches.len(),
            mismatches.iter().take(6).cloned().collect::<Vec<_>>().join("\n  ")
        ));
    }
    if total_fresh < 50 {
        failures.push(format!(
            "the final texts have only {total_fresh} findings: the workspace does not exercise the server"
        ));
    }

    let (probes, probe_failures) = soak.probe_final(&finals)?;
    soak.notes.push(format!("hover and quick fixes probed on {probes} final diagnostics"));
    failures.extend(probe_failures);

    // The helper fixed on disk: reports.py had a chain through it, and has none now.
    let blocking_io_uri = uri_of(&soak.path(BLOCKING_IO_PATH));
    if chain_before != Some(true) {
        failures.push(format!(
            "after the first 1,000 messages, {REPORTS_PATH} had no chain finding through {BLOCKING_IO_PATH} (got: {chain_before:?})"
        ));
    }
    if Soak::chain_through(&finals[REPORTS_PATH], &blocking_io_uri) {
        failures.push(format!(
            "{REPORTS_PATH} still has a chain through {BLOCKING_IO_PATH} after it stopped blocking on disk"
        ));
    }

    // Every request answered exactly once.
    let s = soak.link.lock();
    let requests = s.answered.len() + s.pending.len();
    let duplicates: Vec<String> =
        s.answered.iter().filter(|(_, n)| **n > 1).map(|(id, n)| format!("id {id}: {n} responses")).collect();
    if !s.pending.is_empty() {
        failures.push(format!("{} requests never answered", s.pending.len()));
    }
    if !duplicates.is_empty() {
        failures.push(format!("requests answered more than once: {}", duplicates.join(", ")));
    }
    if !s.unknown_responses.is_empty() {
        failures.push(format!("responses to no request: {}", s.unknown_responses.join(" | ")));
    }
    if !s.errors.is_empty() {
        failures.push(format!(
            "{} error responses: {}",
            s.errors.len(),
            s.errors.iter().take(5).cloned().collect::<Vec<_>>().join(" | ")
        ));
    }

    // Figures.
    let fig = figures(&s.latencies);
    let mut slowest = s.timed.clone();
    slowest.sort_by(|a, b| b.1.total_cmp(&a.1));
    let slowest: Vec<String> = slowest
        .iter()
        .take(8)
        .map(|(label, ms, sent)| format!("{label} {ms:.0} ms sent at {:.2} s", (*sent - soak.started).as_secs_f64()))
        .collect();
    eprintln!("slowest hovers and quick fixes (time from the session's start): {}", slowest.join("; "));
    // `LOOPSAFE_SOAK_TIMINGS=<file>`: every answered request, to set beside the server's
    // `LOOPSAFE_LSP_TIMING` lines (same clock: Unix milliseconds).
    if let Some(path) = std::env::var_os("LOOPSAFE_SOAK_TIMINGS") {
        let unix = |t: Instant| {
            let since = std::time::SystemTime::now() - t.elapsed();
            since.duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs_f64() * 1e3
        };
        let lines: String = s
            .answers
            .iter()
            .map(|(id, label, sent, ms)| format!("{id} {} {:.1} {ms:.2}\n", label.replace(' ', "_"), unix(*sent)))
            .collect();
        let _ = std::fs::write(path, lines);
    }
    let (base_kb, base_samples) = baseline.unwrap_or((0, Vec::new()));
    let (end_kb, end_samples) = end_rss;
    let growth = end_kb as f64 / base_kb.max(1) as f64 - 1.0;
    let mode = if soak.cfg.pull { "pull" } else { "push" };
    eprintln!(
        "soak ({mode}) figures, seed {:#x}: {sent} messages sent in {:.1} s ({:.0} messages/s), all answered and published {:.1} s after the start\n\
         {}  requests {requests}, cancelled ones answered -32800: {}, with a result: {}; publishes {} ({} older than one already published)\n\
         sent: {:?}\n\
         server requests: {:?}\n\
         RSS after {BASELINE_AFTER} messages {:.1} MB (samples, kB: {:?}); at the end {:.1} MB (samples: {:?}): {:+.1} %; peak (VmHWM) {:.1} MB then, {:.1} MB at the end\n\
         RSS in MB after {BASELINE_AFTER} messages: {base_parts}; at the end: {end_parts}\n\
         open buffers {:.0} KB after {BASELINE_AFTER} messages, {:.0} KB at the end; final findings: {total_fresh}; notes: {:?}",
        soak.cfg.seed,
        send_time.as_secs_f64(),
        sent as f64 / send_time.as_secs_f64(),
        quiet_after.as_secs_f64(),
        fig.text,
        s.cancelled_answered_with_error,
        s.cancelled_answered_with_result,
        s.publishes,
        s.out_of_order,
        s.sent_by_method,
        s.server_requests,
        base_kb as f64 / 1024.0,
        base_samples,
        end_kb as f64 / 1024.0,
        end_samples,
        growth * 100.0,
        base_peak as f64 / 1024.0,
        end_peak as f64 / 1024.0,
        base_bytes as f64 / 1024.0,
        soak.docs.iter().map(|d| d.text.len()).sum::<usize>() as f64 / 1024.0,
        soak.notes,
    );
    if soak.cfg.figures {
        let mut over = Vec::new();
        if growth > RSS_GROWTH {
            over.push(format!(
                "RSS grew {:.1} % (from {:.1} MB after {BASELINE_AFTER} messages to {:.1} MB at the end; at most {:.0} %)",
                growth * 100.0,
                base_kb as f64 / 1024.0,
                end_kb as f64 / 1024.0,
                RSS_GROWTH * 100.0
            ));
        }
        for label in ["hover", "codeAction quickfix"] {
            let p = fig.p99.get(label).copied().unwrap_or(f64::NAN);
            if p.is_nan() || p >= P99_BUDGET_MS {
                over.push(format!("{label} p99 is {p:.1} ms (budget: under {P99_BUDGET_MS} ms)"));
            }
        }
        if soak.cfg.report_budgets {
            for o in &over {
                println!("soak ({mode}): BUDGET NOT MET: {o}");
            }
        } else {
            failures.extend(over);
        }
    }
    Ok(failures)
}
