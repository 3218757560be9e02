//! `loopsafe check`: walks the given paths, reads and analyses every Python file in parallel, and turns
//! findings into located diagnostics. This is the I/O edge around the pure analysis core.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use rayon::prelude::*;

use crate::analysis::{self, Finding};
use crate::catalog::Catalog;
use crate::line_index::{ColumnUnit, LineIndex};
use crate::settings::Settings;

/// Directories never worth checking (as in ruff's defaults); a path named on the command line is
/// always checked.
pub const DEFAULT_EXCLUDES: &[&str] = &[
    ".bzr",
    ".direnv",
    ".eggs",
    ".git",
    ".hg",
    ".mypy_cache",
    ".nox",
    ".pants.d",
    ".pytest_cache",
    ".pytype",
    ".ruff_cache",
    ".svn",
    ".tox",
    ".venv",
    "__pypackages__",
    "_build",
    "buck-out",
    "node_modules",
    "site-packages",
    "venv",
];

/// A position for humans: 1-based line, 1-based column in Unicode characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LocatedHop {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub name: String,
}

/// A finding placed in a file, ready for any output format.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub path: String,
    pub finding: Finding,
    pub start: Position,
    pub end: Position,
    pub chain: Vec<LocatedHop>,
    /// The source lines the finding spans (at most a few), for the text format.
    pub source: Vec<(usize, String)>,
    /// 0-based character columns of the range on its first line (for underlining).
    pub underline: (usize, usize),
}

pub struct Report {
    pub diagnostics: Vec<Diagnostic>,
    pub files_checked: usize,
    /// Files skipped, with why (not UTF-8, binary, unreadable).
    pub warnings: Vec<String>,
}

pub struct CheckOptions<'a> {
    pub paths: &'a [PathBuf],
    pub settings: &'a Settings,
    /// Where `exclude` globs are anchored (the configuration file's directory).
    pub root: Option<&'a Path>,
}

/// Lists the Python files under `paths`, respecting `.gitignore`, hidden-directory rules and excludes.
pub fn collect_files(opts: &CheckOptions<'_>) -> Result<Vec<PathBuf>, String> {
    let excludes = exclude_set(&opts.settings.exclude)?;
    let root = opts.root.map(|r| std::fs::canonicalize(r).unwrap_or_else(|_| r.to_path_buf()));
    let is_excluded = std::sync::Arc::new(move |p: &Path| -> bool {
        if p.file_name().and_then(|n| n.to_str()).is_some_and(|n| DEFAULT_EXCLUDES.contains(&n)) {
            return true;
        }
        if excludes.is_empty() {
            return false;
        }
        let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let rel = root.as_deref().and_then(|r| abs.strip_prefix(r).ok()).unwrap_or(p);
        excludes.is_match(rel) || excludes.is_match(p) || p.file_name().is_some_and(|n| excludes.is_match(n))
    });
    let mut files = Vec::new();
    for path in opts.paths {
        if !path.exists() {
            return Err(format!("{}: no such file or directory", path.display()));
        }
        if path.is_file() {
            files.push(path.clone());
            continue;
        }
        let is_excluded = is_excluded.clone();
        let walker = ignore::WalkBuilder::new(path)
            .hidden(true)
            .git_ignore(true)
            .git_exclude(true)
            .git_global(false)
            .require_git(false)
            .filter_entry(move |e| e.depth() == 0 || !is_excluded(e.path()))
            .build();
        for entry in walker {
            let entry = entry.map_err(|e| e.to_string())?;
            let p = entry.path();
            if entry.file_type().is_some_and(|t| t.is_file()) && p.extension().is_some_and(|e| e == "py") {
                files.push(p.to_path_buf());
            }
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

fn exclude_set(globs: &[String]) -> Result<GlobSet, String> {
    let mut b = GlobSetBuilder::new();
    for g in globs {
        b.add(Glob::new(g).map_err(|e| format!("exclude `{g}`: {e}"))?);
        // `dir` also excludes what is below it.
        if !g.ends_with("/**") {
            b.add(Glob::new(&format!("{}/**", g.trim_end_matches('/'))).map_err(|e| format!("exclude `{g}`: {e}"))?);
        }
    }
    b.build().map_err(|e| e.to_string())
}

/// What reading a file gave.
pub enum Source {
    Text { text: String },
    Skipped(String),
}

/// Reads a Python file as text: strips a UTF-8 BOM, refuses binary and non-UTF-8 content with a reason.
pub fn read_source(path: &Path) -> Source {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return Source::Skipped(format!("{}: cannot read: {e}", path.display())),
    };
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    if body.iter().take(8192).any(|&b| b == 0) {
        return Source::Skipped(format!("{}: skipped: binary file (contains NUL bytes)", path.display()));
    }
    match std::str::from_utf8(body) {
        Ok(s) => Source::Text { text: s.to_string() },
        Err(e) => Source::Skipped(format!(
            "{}: skipped: not valid UTF-8 (invalid byte at offset {})",
            path.display(),
            e.valid_up_to() + (bytes.len() - body.len())
        )),
    }
}

/// Checks files in parallel. Diagnostics come back sorted by path and position.
pub fn check_files(files: &[PathBuf], catalog: &Catalog, settings: &Settings) -> Report {
    let results: Vec<Result<Vec<Diagnostic>, String>> = files
        .par_iter()
        .map(|path| match read_source(path) {
            Source::Skipped(why) => Err(why),
            Source::Text { text } => {
                let display = display_path(path);
                let findings = analysis::analyze_source(&text, catalog, settings);
                Ok(locate(&display, &text, findings))
            }
        })
        .collect();
    let mut report = Report { diagnostics: Vec::new(), files_checked: 0, warnings: Vec::new() };
    for r in results {
        match r {
            Ok(d) => {
                report.files_checked += 1;
                report.diagnostics.extend(d);
            }
            Err(w) => report.warnings.push(w),
        }
    }
    report
}

/// A path as the user reached it: relative paths stay relative, without a leading `./`.
pub fn display_path(p: &Path) -> String {
    let s = p.to_string_lossy();
    let s = s.strip_prefix("./").unwrap_or(&s);
    s.to_string()
}

/// Converts byte-offset findings of one file into positioned diagnostics.
pub fn locate(path: &str, text: &str, findings: Vec<Finding>) -> Vec<Diagnostic> {
    if findings.is_empty() {
        return Vec::new();
    }
    let idx = LineIndex::new(text);
    let pos = |off: usize| {
        let lc = idx.line_col(text, off, ColumnUnit::Chars);
        Position { line: lc.line + 1, column: lc.col + 1 }
    };
    findings
        .into_iter()
        .map(|f| {
            let start = pos(f.range.start);
            let end = pos(f.range.end);
            let chain = f
                .chain
                .iter()
                .map(|h| {
                    let p = pos(h.range.start);
                    LocatedHop {
                        path: h.path.clone().unwrap_or_else(|| path.to_string()),
                        line: p.line,
                        column: p.column,
                        name: h.name.clone(),
                    }
                })
                .collect();
            let first = start.line - 1;
            let last = (end.line - 1).min(first + 2);
            let source = (first..=last).map(|l| (l + 1, text[idx.line_range(text, l)].to_string())).collect();
            let end_col =
                if end.line == start.line { end.column - 1 } else { text[idx.line_range(text, first)].chars().count() };
            Diagnostic {
                path: path.to_string(),
                finding: f,
                start,
                end,
                chain,
                source,
                underline: (start.column - 1, end_col),
            }
        })
        .collect()
}
