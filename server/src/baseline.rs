//! Baselines: record today's findings in a file, then report (and fail) only on new ones, as mypy,
//! pyright and ruff users do when adopting a checker on a large codebase.
//!
//! A finding is matched by its fingerprint (`analysis::fingerprint`: rule, file, function, callee and
//! chain, never the line), so code moving around does not bring it back. The file is pretty JSON with
//! a `version`, its entries sorted without line numbers so that a reviewer reads its diff; it is
//! written atomically (`atomic_write`). A missing or malformed file is an error naming it, never an
//! empty baseline.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::analysis::fingerprint::{self, Identity};
use crate::check::{Diagnostic, Report};
use crate::rules::Rule;
use crate::settings::Settings;

/// The version of the file format this loopsafe reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// The baseline file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    pub version: u32,
    pub findings: Vec<Entry>,
}

/// One recorded finding. Only `fingerprint` is matched; the rest is there for people reading the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub fingerprint: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub rule: String,
    #[serde(default)]
    pub file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callee: Option<String>,
    /// The hops' names, when the blocking call is reached through other functions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<String>,
    #[serde(default)]
    pub message: String,
}

/// Fills each diagnostic's `project_path` (from `project_path`, by display path) and `fingerprint`.
/// `diags` must be in source order within each file (as `check` sorts them).
pub fn assign_fingerprints(diags: &mut [Diagnostic], project_path: &HashMap<String, String>) {
    for d in diags.iter_mut() {
        d.project_path = project_path.get(&d.path).cloned().unwrap_or_else(|| fingerprint::relative_path(&d.path, ""));
    }
    let prints = {
        let ids: Vec<Identity<'_>> = diags.iter().map(identity).collect();
        fingerprint::fingerprints(&ids)
    };
    for (d, p) in diags.iter_mut().zip(prints) {
        d.fingerprint = p;
    }
}

fn identity(d: &Diagnostic) -> Identity<'_> {
    let f = &d.finding;
    Identity {
        rule: f.rule.code(),
        file: &d.project_path,
        function: f.function.as_deref().unwrap_or(""),
        callee: f.callee.as_deref().unwrap_or(""),
        chain: d.chain.iter().map(|h| h.name.as_str()).collect(),
    }
}

fn entry(d: &Diagnostic) -> Entry {
    let f = &d.finding;
    Entry {
        fingerprint: d.fingerprint.clone(),
        code: f.rule.code().to_string(),
        rule: f.rule.name().to_string(),
        file: d.project_path.clone(),
        function: f.function.clone(),
        callee: f.callee.clone(),
        chain: if d.chain.len() > 1 { d.chain.iter().map(|h| h.name.clone()).collect() } else { Vec::new() },
        message: f.message.clone(),
    }
}

/// The order entries are written in: by file, function, rule and callee, never by line, so that moving
/// code does not reorder the file.
fn sort(entries: &mut [Entry]) {
    let occurrence = |e: &Entry| -> (String, u64) {
        match e.fingerprint.rsplit_once(':') {
            Some((h, n)) => (h.to_string(), n.parse().unwrap_or(0)),
            None => (e.fingerprint.clone(), 0),
        }
    };
    entries.sort_by_cached_key(|e| {
        (e.file.clone(), e.function.clone(), e.code.clone(), e.callee.clone(), e.chain.clone(), occurrence(e))
    });
}

/// Reads a baseline. A missing, unreadable or malformed file is an error that names it.
pub fn load(path: &Path) -> Result<Baseline, String> {
    let shown = path.display();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "{shown}: the baseline file does not exist (write it with `loopsafe check --baseline {shown} --update-baseline`)"
            ));
        }
        Err(e) => return Err(format!("{shown}: cannot read the baseline: {e}")),
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{shown}: not a loopsafe baseline: invalid JSON: {e}"))?;
    match value.get("version") {
        Some(v) if v.as_u64() == Some(u64::from(FORMAT_VERSION)) => {}
        Some(v) => {
            return Err(format!(
                "{shown}: baseline version {v} is not supported (this loopsafe reads version {FORMAT_VERSION})"
            ));
        }
        None => return Err(format!("{shown}: not a loopsafe baseline: no `version` field")),
    }
    serde_json::from_value(value).map_err(|e| format!("{shown}: not a loopsafe baseline: {e}"))
}

/// Removes the diagnostics the baseline holds; returns how many.
pub fn filter(diags: &mut Vec<Diagnostic>, baseline: &Baseline) -> usize {
    let known: HashSet<&str> = baseline.findings.iter().map(|e| e.fingerprint.as_str()).collect();
    let before = diags.len();
    diags.retain(|d| !known.contains(d.fingerprint.as_str()));
    before - diags.len()
}

/// The baseline of `report`'s findings. Entries of `previous` that this run could not have seen are
/// kept while their file exists under `root`: those of files it did not check (a narrower path was
/// given) and those of rules `settings` turns off in their file (`--select`, `--ignore`,
/// per-file ignores). The other entries are replaced, so fixed findings drop out.
pub fn updated(report: &Report, previous: Option<&Baseline>, root: &Path, settings: &Settings) -> Baseline {
    let checked: HashSet<&str> = report.project_paths.iter().map(String::as_str).collect();
    let mut findings: Vec<Entry> = report.diagnostics.iter().map(entry).collect();
    if let Some(prev) = previous {
        let unseen = |e: &Entry| {
            if !checked.contains(e.file.as_str()) {
                return true;
            }
            // An entry of a rule this loopsafe no longer has is stale.
            Rule::from_name_or_code(&e.code).is_some_and(|rule| !settings.for_file(&root.join(&e.file)).enabled(rule))
        };
        findings.extend(
            prev.findings.iter().filter(|e| !e.file.is_empty() && unseen(e) && root.join(&e.file).is_file()).cloned(),
        );
    }
    sort(&mut findings);
    findings.dedup_by(|a, b| a.fingerprint == b.fingerprint);
    Baseline { version: FORMAT_VERSION, findings }
}

/// The file's text: pretty JSON and a final newline.
pub fn render(baseline: &Baseline) -> String {
    let mut s = serde_json::to_string_pretty(baseline).expect("a baseline serializes");
    s.push('\n');
    s
}

/// Writes the baseline atomically: the file is either wholly the old one or wholly the new one.
pub fn write(path: &Path, baseline: &Baseline) -> Result<(), String> {
    let shown = path.display();
    let bytes = render(baseline);
    let (target, created) = match std::fs::canonicalize(path) {
        Ok(p) => (p, false),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(|e| format!("{shown}: cannot create the baseline: {e}"))?;
            (path.to_path_buf(), true)
        }
        Err(e) => return Err(format!("{shown}: cannot write the baseline: {e}")),
    };
    let result = std::fs::metadata(&target)
        .map_err(|e| e.to_string())
        .and_then(|before| crate::atomic_write::replace(&target, bytes.as_bytes(), &before));
    match result {
        Ok(crate::atomic_write::Replaced::Done) => Ok(()),
        Ok(crate::atomic_write::Replaced::Changed) => {
            Err(format!("{shown}: the file changed while the baseline was being written; it was left as it was"))
        }
        Err(e) => {
            if created {
                let _ = std::fs::remove_file(&target);
            }
            Err(format!("{shown}: cannot write the baseline: {e}"))
        }
    }
}

/// What `loopsafe check` does with a baseline: read it before checking (`prepare`), then hide what
/// it holds or rewrite it (`finish`).
pub struct Cli {
    pub path: PathBuf,
    pub update: bool,
    loaded: Option<Baseline>,
    /// The fingerprints `loaded` holds.
    known: HashSet<String>,
}

/// What the baseline did to a report.
pub struct Outcome {
    /// Findings hidden because the baseline holds them.
    pub hidden: usize,
    /// With `--update-baseline`: how many entries the file now has.
    pub written: Option<usize>,
}

impl Cli {
    /// Reads the baseline (unless it is to be rewritten), so that a bad file stops the run before the
    /// check.
    pub fn prepare(path: PathBuf, update: bool) -> Result<Cli, String> {
        let loaded = if update { None } else { Some(load(&path)?) };
        let known = loaded.iter().flat_map(|b| b.findings.iter().map(|e| e.fingerprint.clone())).collect();
        Ok(Cli { path, update, loaded, known })
    }

    /// Whether the baseline (read by `prepare`) holds `d`: such a finding is neither reported nor
    /// fixed. Nothing is held while the baseline is being rewritten (`--update-baseline`).
    pub fn holds(&self, d: &Diagnostic) -> bool {
        self.known.contains(&d.fingerprint)
    }

    /// Hides the baselined findings of `report`, after rewriting the file with `--update-baseline`.
    /// `root` is the project root the fingerprints' paths are relative to.
    pub fn finish(self, report: &mut Report, root: &Path, settings: &Settings) -> Result<Outcome, String> {
        let (baseline, written) = if self.update {
            // The old file is replaced whatever it held; its entries for unchecked files are kept
            // when it can be read.
            let previous = load(&self.path).ok();
            let new = updated(report, previous.as_ref(), root, settings);
            write(&self.path, &new)?;
            let n = new.findings.len();
            (new, Some(n))
        } else {
            (self.loaded.expect("prepare loads the baseline unless updating"), None)
        };
        let hidden = filter(&mut report.diagnostics, &baseline);
        Ok(Outcome { hidden, written })
    }
}

/// `3 findings in the baseline not shown`.
pub fn hidden_message(n: usize) -> String {
    let noun = if n == 1 { "finding" } else { "findings" };
    format!("{n} {noun} in the baseline not shown")
}

/// A baseline's fingerprints, as the language server matches them: its findings that the baseline
/// holds are shown at hint severity, or hidden (`baseline-in-editor = "hide"`).
#[derive(Debug)]
pub struct Known {
    /// The baseline file.
    pub path: PathBuf,
    /// The project root the fingerprints' paths are relative to.
    pub root: PathBuf,
    pub fingerprints: HashSet<String>,
}

impl Known {
    /// Reads the baseline at `path`; fingerprints are matched with files named relative to `root`.
    pub fn load(path: &Path, root: PathBuf) -> Result<Known, String> {
        let b = load(path)?;
        let fingerprints = b.findings.into_iter().map(|e| e.fingerprint).collect();
        Ok(Known { path: path.to_path_buf(), root, fingerprints })
    }

    /// The identity hash of a finding in file `path` (see `analysis::fingerprint`).
    pub fn hash<'a>(
        &self,
        path: &Path,
        rule: crate::rules::Rule,
        function: Option<&str>,
        callee: Option<&str>,
        chain: impl Iterator<Item = &'a str>,
    ) -> String {
        let file = fingerprint::relative_path(&path.to_string_lossy(), &self.root.to_string_lossy());
        Identity {
            rule: rule.code(),
            file: &file,
            function: function.unwrap_or(""),
            callee: callee.unwrap_or(""),
            chain: chain.collect(),
        }
        .hash()
    }

    /// Which of a file's findings, given by identity hash in source order, the baseline holds.
    pub fn holds(&self, hashes: impl IntoIterator<Item = String>) -> Vec<bool> {
        fingerprint::numbered(hashes).iter().map(|f| self.fingerprints.contains(f)).collect()
    }
}
