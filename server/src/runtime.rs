//! `loopsafe check --runtime FILE`: merges a recording of the runtime recorder (`python -m
//! loopsafe.record`, `pytest --loopsafe-record`; schema in python/loopsafe/SCHEMA.md) into the static
//! findings.
//!
//! - A static finding whose call site is a frame of a recorded event (same file, a line the finding
//!   spans) is *confirmed*: its message says how often and how long, and `Diagnostic::runtime` holds
//!   the figures (JSON `runtime`, SARIF `properties.runtime`).
//! - A recorded event no static finding matches becomes a finding of `blocking-seen-at-runtime` at its
//!   coroutine frame (or, for a plain callback, its outermost frame in a checked file), with the recorded
//!   stack's project frames as its chain.
//! - Findings the recording never hit are left as they are: tests cover what they cover.
//!
//! Files are matched by path suffix: a frame's file is a checked file when its path ends with the file's
//! path relative to the project root, so a recording made in CI (another checkout directory) applies.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::analysis::Finding;
use crate::check::{Diagnostic, LocatedHop, Position, Report, Source, read_source};
use crate::rules::Rule;
use crate::settings::Settings;

/// The version of the recording format this build reads (`version` in the file).
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Debug, Deserialize)]
pub struct Recording {
    pub version: u32,
    #[serde(default)]
    pub events: Vec<Event>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Event {
    /// `call` (a wrapped blocking function) or `slow-callback` (a loop callback over the threshold).
    pub kind: String,
    /// The blocking function (`time.sleep`), or for a slow callback the function the time was spent in.
    #[serde(default)]
    pub callee: Option<String>,
    /// The innermost coroutine frame: where the coroutine made the call.
    #[serde(default)]
    pub coroutine: Option<Frame>,
    /// Frames from the coroutine frame (first) down to the one that made the blocking call (last).
    #[serde(default)]
    pub stack: Vec<Frame>,
    pub count: u64,
    pub max_ms: f64,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Frame {
    pub file: String,
    pub line: usize,
    pub function: String,
    #[serde(default)]
    pub module: Option<String>,
}

/// How often a finding's call was seen at runtime, and its longest duration.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Seen {
    pub count: u64,
    pub max_ms: f64,
}

impl Seen {
    fn add(&mut self, e: &Event) {
        self.count += e.count;
        self.max_ms = self.max_ms.max(e.max_ms);
    }

    /// `seen 3 times, up to 1502 ms`
    pub fn describe(&self) -> String {
        let times = match self.count {
            1 => "once".to_string(),
            2 => "twice".to_string(),
            n => format!("{n} times"),
        };
        format!("seen {times}, up to {} ms", ms(self.max_ms))
    }
}

fn ms(v: f64) -> String {
    if v >= 10.0 { format!("{v:.0}") } else { format!("{v:.1}") }
}

/// Reads a recording; errors name the file.
pub fn load(path: &Path) -> Result<Recording, String> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| format!("--runtime {shown}: cannot read: {e}"))?;
    let rec: Recording = serde_json::from_slice(&bytes)
        .map_err(|e| format!("--runtime {shown}: not a loopsafe recording (python/loopsafe/SCHEMA.md): {e}"))?;
    if rec.version != SCHEMA_VERSION {
        return Err(format!(
            "--runtime {shown}: recording format version {}, this loopsafe reads version {SCHEMA_VERSION}",
            rec.version
        ));
    }
    Ok(rec)
}

/// The checked file a recorded path is, by the longest project-relative path it ends with.
struct Files {
    /// Project-relative path (`/` separators) → the path diagnostics show.
    known: BTreeMap<String, String>,
    root: PathBuf,
    cwd: Option<PathBuf>,
}

impl Files {
    fn new(report: &Report, root: &Path) -> Files {
        let mut known = BTreeMap::new();
        let cwd = std::env::current_dir().ok().and_then(|c| std::fs::canonicalize(c).ok());
        for rel in &report.project_paths {
            let shown =
                report.diagnostics.iter().find(|d| d.project_path == *rel).map(|d| d.path.clone()).unwrap_or_else(
                    || {
                        let abs = root.join(rel);
                        let abs = cwd.as_deref().and_then(|c| abs.strip_prefix(c).ok()).unwrap_or(&abs);
                        crate::check::display_path(abs)
                    },
                );
            known.insert(rel.clone(), shown);
        }
        Files { known, root: root.to_path_buf(), cwd }
    }

    /// The project-relative path of a recorded file, if it is a checked file: the longest suffix of
    /// its path, starting after a `/`, that is one (a lookup per path component).
    fn find(&self, file: &str) -> Option<&str> {
        let file = file.replace('\\', "/");
        let starts = std::iter::once(0).chain(file.match_indices('/').map(|(i, _)| i + 1));
        starts.filter_map(|i| self.known.get_key_value(&file[i..])).map(|(k, _)| k.as_str()).next()
    }

    /// How a recorded frame's file is shown in a chain: as a checked file, or relative to the current
    /// directory when it is inside the project root, else as recorded.
    fn shown(&self, file: &str) -> Option<String> {
        if let Some(rel) = self.find(file) {
            return Some(self.known[rel].clone());
        }
        let p = Path::new(file);
        let inside = p.starts_with(&self.root) && !file.contains("/site-packages/") && !file.contains("/.venv/");
        inside.then(|| {
            let rel = self.cwd.as_deref().and_then(|c| p.strip_prefix(c).ok()).unwrap_or(p);
            crate::check::display_path(rel)
        })
    }
}

/// One static finding's place, for [`merge`]: its file (project-relative, `/` separators) and its
/// lines (1-based, inclusive).
#[derive(Clone, Copy, Debug)]
pub struct Site<'a> {
    pub file: &'a str,
    pub first: usize,
    pub last: usize,
}

/// Recorded calls no finding covers, one per (file, line, callee) of their anchor: the coroutine
/// frame when it is in a checked file, else the first frame of the stack that is.
#[derive(Clone, Debug)]
pub struct Unseen<'r> {
    /// The anchor's file, project-relative.
    pub file: String,
    pub line: usize,
    pub callee: String,
    pub seen: Seen,
    /// The longest of the events grouped here, and its anchor frame.
    pub event: &'r Event,
    pub anchor: &'r Frame,
}

/// What [`merge`] found: per site (in the order given) how it was seen, and the rest.
#[derive(Debug)]
pub struct Merged<'r> {
    pub seen: Vec<Option<Seen>>,
    pub unseen: Vec<Unseen<'r>>,
}

/// The merge of a recording with static findings (pure; `loopsafe check --runtime` and the language
/// server share it). An event confirms every site one of its frames is in; an event that confirms
/// none is grouped into `unseen` when one of its frames is in a checked file. `find` gives the
/// project-relative path of a recorded file that is a checked file.
pub fn merge<'r>(rec: &'r Recording, sites: &[Site<'_>], find: &dyn Fn(&str) -> Option<String>) -> Merged<'r> {
    let mut seen: Vec<Option<Seen>> = vec![None; sites.len()];
    let mut by_file: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, s) in sites.iter().enumerate() {
        by_file.entry(s.file).or_default().push(i);
    }
    let mut added: BTreeMap<(String, usize, String), (Seen, &Event, &Frame)> = BTreeMap::new();
    for e in &rec.events {
        let mut hits: Vec<usize> = Vec::new();
        let mut anchor: Option<(String, &Frame)> = None;
        let coroutine = e.coroutine.as_ref().and_then(|c| find(&c.file).map(|rel| (rel, c)));
        for f in e.stack.iter().chain(e.coroutine.as_ref()) {
            let Some(rel) = find(&f.file) else { continue };
            if let Some(ids) = by_file.get(rel.as_str()) {
                hits.extend(ids.iter().filter(|&&i| (sites[i].first..=sites[i].last).contains(&f.line)));
            }
            if anchor.is_none() {
                anchor = Some((rel, f));
            }
        }
        hits.sort_unstable();
        hits.dedup();
        for &i in &hits {
            seen[i].get_or_insert(Seen { count: 0, max_ms: 0.0 }).add(e);
        }
        if !hits.is_empty() {
            continue;
        }
        let Some((rel, anchor)) = coroutine.or(anchor) else { continue };
        let callee = e.callee.clone().unwrap_or_else(|| "a slow callback".to_string());
        let entry = added.entry((rel, anchor.line, callee)).or_insert((Seen { count: 0, max_ms: 0.0 }, e, anchor));
        if e.max_ms > entry.1.max_ms {
            entry.1 = e;
            entry.2 = anchor;
        }
        entry.0.add(e);
    }
    let unseen = added
        .into_iter()
        .map(|((file, line, callee), (seen, event, anchor))| Unseen { file, line, callee, seen, event, anchor })
        .collect();
    Merged { seen, unseen }
}

/// A confirmed finding's message: `message; confirmed at runtime: seen twice, up to 12 ms`.
pub fn confirmed_message(message: &str, seen: &Seen) -> String {
    format!("{message}; confirmed at runtime: {}", seen.describe())
}

/// What a `blocking-seen-at-runtime` finding advises.
pub const INSTEAD: &str =
    "an async equivalent, or the call offloaded to a worker thread (`asyncio.to_thread`, `run_in_threadpool`)";

impl Unseen<'_> {
    /// The recorded stack from the anchor down to the blocking call.
    pub fn stack(&self) -> &[Frame] {
        let from = self.event.stack.iter().position(|f| f == self.anchor).unwrap_or(0);
        &self.event.stack[from..]
    }

    /// What the `i`th frame of `stack()` called: the next frame's function, or the blocking call.
    pub fn hop_name(&self, i: usize) -> String {
        let stack = self.stack();
        match stack.get(i + 1) {
            Some(next) => qualified(next),
            None if self.event.kind == "call" => self.callee.clone(),
            None => stack.get(i).map(qualified).unwrap_or_else(|| self.callee.clone()),
        }
    }

    /// The finding's message; `hops`: how many frames of the stack are shown as its chain.
    pub fn message(&self, hops: usize) -> String {
        let deep = if hops > 1 { format!(" {hops} calls down") } else { String::new() };
        let callee = &self.callee;
        if self.event.kind == "call" {
            format!(
                "`{callee}` blocked the event loop{deep} at runtime ({}); static analysis did not see this call",
                self.seen.describe()
            )
        } else {
            format!(
                "a callback held the event loop{deep} at runtime, in `{callee}` ({}); static analysis did not see why",
                self.seen.describe()
            )
        }
    }

    /// The function the finding is in: the coroutine's, else the anchor's.
    pub fn function(&self) -> String {
        self.event.coroutine.as_ref().unwrap_or(self.anchor).function.clone()
    }
}

/// The byte range of line `line` (1-based) of `text` without its indentation and line end, and the
/// line without its line end; `None` for a blank or missing line.
pub fn line_code(text: &str, line: usize) -> Option<(std::ops::Range<usize>, &str)> {
    let (start_byte, body) = text
        .split_inclusive('\n')
        .scan(0usize, |at, l| {
            let start = *at;
            *at += l.len();
            Some((start, l))
        })
        .nth(line.checked_sub(1)?)?;
    let body = body.trim_end_matches(['\n', '\r']);
    let indent = body.len() - body.trim_start().len();
    let code = body.trim();
    (!code.is_empty()).then(|| (start_byte + indent..start_byte + indent + code.len(), body))
}

/// Whether a `# noqa` suppresses a call seen only at runtime on `range` of `text`: one for
/// `blocking-seen-at-runtime`, or for any other rule of loopsafe (the line's static finding was
/// silenced: the recorded call is that one, not one static analysis missed).
pub fn suppressed(text: &str, range: &std::ops::Range<usize>) -> bool {
    Rule::all().any(|r| crate::analysis::noqa::is_suppressed_at(text, r, range))
}

/// Merges `rec` into `report` (see the module's documentation). `root` is the project root the
/// report's `project_path`s are relative to.
pub fn apply(report: &mut Report, rec: &Recording, settings: &Settings, root: &Path) {
    let files = Files::new(report, root);
    let sites: Vec<Site> = report
        .diagnostics
        .iter()
        .map(|d| Site { file: d.project_path.as_str(), first: d.start.line, last: d.end.line })
        .collect();
    let merged = merge(rec, &sites, &|f| files.find(f).map(str::to_string));
    for (d, s) in report.diagnostics.iter_mut().zip(merged.seen) {
        if let Some(s) = s {
            d.finding.message = confirmed_message(&d.finding.message, &s);
            d.runtime = Some(s);
        }
    }
    let rule = Rule::BlockingSeenAtRuntime;
    if !settings.enabled(rule) {
        return;
    }
    let mut texts: HashMap<String, Option<String>> = HashMap::new();
    for u in &merged.unseen {
        let rel = &u.file;
        let abs = root.join(rel);
        let off = settings.ignored_in(&abs);
        if off.iter().any(|s| s.matches(rule)) {
            continue;
        }
        let text = texts.entry(rel.clone()).or_insert_with(|| match read_source(&abs) {
            Source::Text { text } => Some(text),
            Source::Skipped(_) => None,
        });
        let Some(text) = text.as_deref() else { continue };
        let Some(d) = finding(&files, text, u, settings) else { continue };
        if suppressed(text, &d.finding.range) {
            continue;
        }
        report.diagnostics.push(d);
    }
    report
        .diagnostics
        .sort_by(|a, b| (&a.path, a.start.line, a.start.column).cmp(&(&b.path, b.start.line, b.start.column)));
    // The new findings get their baseline fingerprints (the others keep theirs: same identities).
    let paths: HashMap<String, String> =
        report.diagnostics.iter().map(|d| (d.path.clone(), d.project_path.clone())).collect();
    crate::baseline::assign_fingerprints(&mut report.diagnostics, &paths);
}

/// The `blocking-seen-at-runtime` finding of one recorded call, on its anchor's line of `text`.
fn finding(files: &Files, text: &str, u: &Unseen, settings: &Settings) -> Option<Diagnostic> {
    let rule = Rule::BlockingSeenAtRuntime;
    let rel = u.file.as_str();
    let line = u.line;
    let (range, body) = line_code(text, line)?;
    let indent = body.len() - body.trim_start().len();
    let col = body[..indent].chars().count() + 1;
    let end_col = col + body.trim().chars().count();
    // The chain: the stack's frames in the project, each named by what it called.
    let mut chain = Vec::new();
    for (i, f) in u.stack().iter().enumerate() {
        let Some(path) = files.shown(&f.file) else { continue };
        chain.push(LocatedHop {
            path,
            line: f.line,
            column: 1,
            name: u.hop_name(i),
            elided: None,
            offset: None,
            end_line: None,
            end_column: None,
            message: None,
        });
    }
    if let Some(first) = chain.first_mut() {
        first.column = col;
    }
    let finding = Finding {
        rule,
        tier: settings.severity.get(&rule).copied().unwrap_or(rule.info().default_tier),
        range,
        call_range: None,
        message: u.message(chain.len()),
        callee: Some(u.callee.clone()),
        instead: Some(INSTEAD.to_string()),
        fix_kinds: Vec::new(),
        chain: Vec::new(),
        function: Some(u.function()),
        route: None,
        related: Vec::new(),
    };
    Some(Diagnostic {
        path: files.known[rel].clone(),
        finding,
        start: Position { line, column: col },
        end: Position { line, column: end_col },
        chain,
        related: Vec::new(),
        source: vec![(line, body.to_string())],
        underline: (col - 1, end_col - 1),
        fixes: Vec::new(),
        project_path: rel.to_string(),
        fingerprint: String::new(),
        runtime: Some(u.seen),
    })
}

pub fn qualified(f: &Frame) -> String {
    match &f.module {
        Some(m) if !m.is_empty() && m != "__main__" => format!("{m}.{}", f.function),
        _ => f.function.clone(),
    }
}

/// Drops the events with a frame in one of `files` (project-relative, `/` separators): after `--fix`
/// rewrote them, the recorded lines are stale. Returns how many were dropped.
pub fn forget(rec: &mut Recording, files: &[String]) -> usize {
    let before = rec.events.len();
    rec.events.retain(|e| {
        !e.stack.iter().chain(e.coroutine.as_ref()).any(|f| {
            let file = f.file.replace('\\', "/");
            files
                .iter()
                .any(|rel| file == *rel || file.strip_suffix(rel.as_str()).is_some_and(|head| head.ends_with('/')))
        })
    });
    before - rec.events.len()
}

/// `--confirmed-only`: the findings seen at runtime.
pub fn confirmed_only(report: &mut Report) {
    report.diagnostics.retain(|d| d.runtime.is_some());
}
