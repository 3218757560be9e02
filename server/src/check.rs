//! `loopsafe check`: walks the given paths, reads and analyses every Python file in parallel, and turns
//! findings into located diagnostics. This is the I/O edge around the pure analysis core.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use globset::{Glob, GlobSet, GlobSetBuilder};
use rayon::prelude::*;

use crate::analysis::summary::Loc;
use crate::analysis::{self, FileAnalysis, Finding};
use crate::cache::{self, Cache};
use crate::catalog::Catalog;
use crate::line_index::{ColumnUnit, LineIndex};
use crate::project::{ChainFinding, Project, ProjectFile};
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
    /// On the one hop that stands for the calls a long chain leaves out: how many (it is placed at
    /// the first of them). Absent on every other hop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elided: Option<usize>,
    /// The byte offset in its file, where the analysis knows it (not in any output): `--fix` finds the
    /// call at each other place of a folded finding by it.
    #[serde(skip)]
    pub offset: Option<usize>,
    /// Where a related place ends (an operation folded into a finding: `analysis::Related`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_column: Option<usize>,
    /// What a related place does, for an operation folded into the finding (its `name` is the API).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A finding placed in a file, ready for any output format.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub path: String,
    pub finding: Finding,
    pub start: Position,
    pub end: Position,
    pub chain: Vec<LocatedHop>,
    /// Other places of the same problem, reported once (one-time work several coroutines reach): each
    /// call site, named after its coroutine.
    pub related: Vec<LocatedHop>,
    /// The source lines the finding spans (at most a few), for the text format.
    pub source: Vec<(usize, String)>,
    /// 0-based character columns of the range on its first line (for underlining).
    pub underline: (usize, usize),
    /// The fixes offered, as JSON output shows them (filled by `autofix::attach_fixes`).
    pub fixes: Vec<crate::fix::ReportedFix>,
    /// The file relative to the project root, `/` separators (as baselines name it).
    pub project_path: String,
    /// The finding's stable fingerprint (`analysis::fingerprint`), filled at the end of `check`.
    pub fingerprint: String,
    /// Seen at runtime (`--runtime FILE`, filled by `runtime::apply`): how often, how long at most.
    pub runtime: Option<crate::runtime::Seen>,
}

impl Diagnostic {
    /// A call to a sync project function that blocks further down (found by linking the project).
    pub fn is_chain(&self) -> bool {
        self.finding.chain.is_empty() && !self.chain.is_empty()
    }
}

pub struct Report {
    pub diagnostics: Vec<Diagnostic>,
    pub files_checked: usize,
    /// Files skipped, with why (not UTF-8, binary, unreadable).
    pub warnings: Vec<String>,
    /// The content hash of each reported file as it was analysed (by display path), so that fixes can
    /// tell a file that changed on disk since.
    pub hashes: HashMap<String, u128>,
    /// The reported files that were read, relative to the project root (as baselines name them).
    pub project_paths: Vec<String>,
    /// For [`check_for_fixes`]: what the check's own analysis of each reported file with findings found
    /// that its fixes need (by display path), so that listing the fixes does not parse and analyse the
    /// file again. Empty otherwise, and for files whose analysis came from the cache.
    pub fix_context: HashMap<String, FixContext>,
}

/// What a reported file's fixes need, as the check found it in the text of hash `Report::hashes`: the
/// ranges of its FastAPI/Starlette endpoints (`fix::endpoints`: the one list both the check's analysis
/// and a second one give), and its tree when the file has findings of its own (a file whose only
/// findings are chains, known after linking, is parsed again, but not analysed again for its endpoints).
pub struct FixContext {
    pub tree: Option<tree_sitter::Tree>,
    pub endpoints: Vec<std::ops::Range<usize>>,
}

#[derive(Clone)]
pub struct CheckOptions<'a> {
    pub paths: &'a [PathBuf],
    pub settings: &'a Settings,
    /// Where `exclude` globs are anchored (the configuration file's directory).
    pub root: Option<&'a Path>,
    /// Follow calls into other functions and modules (the whole project is read).
    pub follow: bool,
    /// Where the cache lives; `None` disables it.
    pub cache_dir: Option<PathBuf>,
}

/// Lists the Python files under `paths`, respecting `.gitignore`, hidden-directory rules and excludes.
/// What cannot be read or vanished during the walk is skipped and logged (see `collect_files_warning`).
pub fn collect_files(opts: &CheckOptions<'_>) -> Result<Vec<PathBuf>, String> {
    let mut warnings = Vec::new();
    let files = collect_files_warning(opts, &mut warnings)?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    Ok(files)
}

/// Lists the Python files under `paths`, respecting `.gitignore`, hidden-directory rules and excludes.
/// A directory or file that cannot be read (no permission) or that vanished during the walk (a build
/// tool at work) is skipped with one warning in `warnings`, and the walk goes on: one unreadable
/// directory must not cost the findings of all the others. Only a path named in `opts.paths` that does
/// not exist, or a bad exclude pattern, is an error.
pub fn collect_files_warning(opts: &CheckOptions<'_>, warnings: &mut Vec<String>) -> Result<Vec<PathBuf>, String> {
    walk(opts, warnings, &display_path)
}

/// `collect_files_warning`, with the paths in warnings shown by `shown`.
fn walk(
    opts: &CheckOptions<'_>,
    warnings: &mut Vec<String>,
    shown: &dyn Fn(&Path) -> String,
) -> Result<Vec<PathBuf>, String> {
    let all: Vec<String> = opts.settings.exclude.iter().chain(&opts.settings.extend_exclude).cloned().collect();
    let excludes = exclude_set(&all)?;
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
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    warnings.push(walk_warning(&e, shown));
                    continue;
                }
            };
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

/// The warning for a walk error: the path and why it is skipped.
fn walk_warning(e: &ignore::Error, shown: &dyn Fn(&Path) -> String) -> String {
    let display_path = shown;
    fn find(e: &ignore::Error, path: Option<&Path>, display_path: &dyn Fn(&Path) -> String) -> String {
        match e {
            ignore::Error::WithPath { path, err } => find(err, Some(path), display_path),
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
                find(err, path, display_path)
            }
            ignore::Error::Partial(errs) if errs.len() == 1 => find(&errs[0], path, display_path),
            ignore::Error::Io(io) => {
                let shown = path.map_or_else(|| "a path".to_string(), display_path);
                if io.kind() == std::io::ErrorKind::NotFound {
                    format!("{shown}: skipped: it vanished while loopsafe was walking the directory")
                } else {
                    // The error's own text may repeat the path (as walked, not as shown).
                    let why = io
                        .raw_os_error()
                        .map_or_else(|| io.kind().to_string(), |c| std::io::Error::from_raw_os_error(c).to_string());
                    format!("{shown}: skipped: cannot read: {why}")
                }
            }
            other => match path {
                Some(p) => format!("{}: skipped: {other}", display_path(p)),
                None => format!("skipped: {other}"),
            },
        }
    }
    find(e, None, display_path)
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
    match std::fs::read(path) {
        Ok(bytes) => decode_source(path, &bytes),
        Err(e) => Source::Skipped(format!("{}: cannot read: {e}", path.display())),
    }
}

/// `read_source` of `path`, with the reason for a skip naming the file as `shown` (as the user gave it).
/// A file deleted since the walk found it is a warning of its own.
fn read_shown(path: &Path, shown: &str) -> Source {
    match std::fs::read(path) {
        Ok(bytes) => decode_source(Path::new(shown), &bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Source::Skipped(format!("{shown}: skipped: it vanished while loopsafe was running"))
        }
        Err(e) => Source::Skipped(format!("{shown}: cannot read: {e}")),
    }
}

/// The text of a Python file's bytes, as `read_source` gives it. A NUL byte in the first 8 KiB marks a
/// binary file; a NUL further on (in a string) is text, and the parser reads past it.
pub fn decode_source(path: &Path, bytes: &[u8]) -> Source {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
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

/// The project a path belongs to: the nearest directory, from the path upwards, with a
/// `pyproject.toml`, a `setup.cfg` or a `.git`.
pub fn project_root(start: &Path) -> Option<PathBuf> {
    let start = absolute(start)?;
    let mut dir = if start.is_dir() { Some(start.as_path()) } else { start.parent() };
    while let Some(d) = dir {
        if ["pyproject.toml", "setup.cfg", ".git"].iter().any(|m| d.join(m).exists()) {
            return Some(d.to_path_buf());
        }
        dir = d.parent();
    }
    None
}

/// Checks the files under `opts.paths`. With `opts.follow`, every file of the project they belong to
/// is summarized so that calls into other functions and modules are followed; findings are reported
/// for the given files only. With a cache directory, unchanged files are not analysed again.
pub fn check(opts: &CheckOptions<'_>, catalog: &Catalog) -> Result<Report, String> {
    check_inner(opts, catalog, None, false, None)
}

/// Texts that stand in for files on disk, by canonical path (`check --diff`'s later rounds check the
/// texts its earlier rounds fixed, without writing them).
pub type Overlay = HashMap<PathBuf, String>;

/// [`check`] with the files `overlay` holds read from it instead of the disk.
pub fn check_overlaid(opts: &CheckOptions<'_>, catalog: &Catalog, overlay: &Overlay) -> Result<Report, String> {
    check_inner(opts, catalog, None, false, Some(overlay))
}

/// [`check`] (of `stdin` as [`check_stdin`] when given) for a caller that lists the fixes of the findings
/// next (`--output-format json`): the report keeps what the analysis found that the fixes need
/// ([`Report::fix_context`]), so that `autofix::attach_fixes` does not find it again.
pub fn check_for_fixes(opts: &CheckOptions<'_>, catalog: &Catalog, stdin: Option<&str>) -> Result<Report, String> {
    check_inner(opts, catalog, stdin, true, None)
}

/// `check` of one buffer (`--stdin-filename`): `text` is reported as the file `opts.paths[0]` (which
/// need not exist), and its project, imports and settings are those of that path's location. The
/// file on disk, if any, is not read.
pub fn check_stdin(opts: &CheckOptions<'_>, catalog: &Catalog, text: &str) -> Result<Report, String> {
    check_inner(opts, catalog, Some(text), false, None)
}

/// A path made absolute and canonical; for a path that does not exist (a buffer not saved yet, maybe
/// in a folder not created yet), its nearest existing ancestor's canonical path joined with the rest.
/// `None` without a current directory.
pub fn absolute(p: &Path) -> Option<PathBuf> {
    if let Ok(c) = std::fs::canonicalize(p) {
        return Some(c);
    }
    let joined = if p.is_absolute() { p.to_path_buf() } else { std::env::current_dir().ok()?.join(p) };
    let mut lexical = PathBuf::new();
    for c in joined.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                lexical.pop();
            }
            other => lexical.push(other),
        }
    }
    let mut rest = Vec::new();
    let mut existing = lexical.as_path();
    let base = loop {
        if let Ok(c) = std::fs::canonicalize(existing) {
            break c;
        }
        rest.push(existing.file_name()?);
        existing = existing.parent()?;
    };
    Some(rest.into_iter().rev().fold(base, |acc, name| acc.join(name)))
}

fn check_inner(
    opts: &CheckOptions<'_>,
    catalog: &Catalog,
    stdin: Option<&str>,
    for_fixes: bool,
    overlay: Option<&Overlay>,
) -> Result<Report, String> {
    let timer = Timer::new();
    let mut warnings = Vec::new();
    let reported = match stdin {
        Some(_) => opts.paths.first().cloned().into_iter().collect(),
        None => collect_files_warning(opts, &mut warnings)?,
    };
    let root = opts.paths.first().and_then(|p| project_root(p));
    let mut seen: HashSet<PathBuf> = HashSet::new();
    // (absolute path, display path, reported?)
    let mut files: Vec<(PathBuf, String, bool)> = Vec::new();
    let mut canonical = Canonical::default();
    for p in &reported {
        let abs = match stdin {
            Some(_) => absolute(p).unwrap_or_else(|| p.clone()),
            None => canonical.path(p),
        };
        if seen.insert(abs.clone()) {
            files.push((abs, display_path(p), true));
        }
    }
    if opts.follow
        && let Some(root) = &root
    {
        let project_opts = CheckOptions { paths: std::slice::from_ref(root), ..opts.clone() };
        let cwd = std::env::current_dir().ok().and_then(|c| std::fs::canonicalize(c).ok());
        let shown = |p: &Path| display_path(cwd.as_deref().and_then(|c| p.strip_prefix(c).ok()).unwrap_or(p));
        // The project's walk passes the reported paths again: their warnings are not repeated.
        let mut project_warnings = Vec::new();
        let project_files = walk(&project_opts, &mut project_warnings, &shown)?;
        let known: HashSet<String> = warnings.iter().cloned().collect();
        warnings.extend(project_warnings.into_iter().filter(|w| !known.contains(w)));
        for p in project_files {
            let abs = canonical.path(&p);
            if seen.insert(abs.clone()) {
                files.push((abs.clone(), shown(&abs), false));
            }
        }
    }
    timer.lap("walk");

    // A cache directory that is not loopsafe's is an error when the user chose it (the CLI checks that
    // first, with `cache::ensure_owned`); here it is a warning and a run without the cache.
    let cache = opts.cache_dir.as_deref().and_then(|d| match Cache::open(d, opts.settings, opts.follow) {
        Ok(c) => Some(c),
        Err(e) => {
            warnings.push(format!("not using the cache: {e}"));
            None
        }
    });
    timer.lap("cache load");

    struct Outcome {
        diagnostics: Vec<Diagnostic>,
        hash: u128,
        analysis: Arc<FileAnalysis>,
        fresh: bool,
        /// Where the analysis stopped following the file's code (`FileAnalysis::cuts`), as warnings.
        cuts: Vec<String>,
        fix_context: Option<FixContext>,
    }
    let outcomes: Vec<Result<Outcome, String>> = files
        .par_iter()
        .map(|(abs, display, is_reported)| match stdin.filter(|_| *is_reported) {
            Some(text) => (Source::Text { text: text.to_string() }, abs, display, is_reported),
            None => match overlay.and_then(|o| o.get(abs)) {
                Some(text) => (Source::Text { text: text.clone() }, abs, display, is_reported),
                None => (read_shown(abs, display), abs, display, is_reported),
            },
        })
        .map(|(source, abs, display, is_reported)| match source {
            Source::Skipped(why) => Err(why),
            Source::Text { text } => {
                let hash = cache::content_hash(&text);
                let mut fix_context = None;
                let (analysis, fresh) = match cache.as_ref().and_then(|c| c.get(hash)) {
                    Some(a) => (a, false),
                    None if for_fixes && *is_reported => {
                        let (a, kept) =
                            analysis::analyze_source_file_for_fixes(&text, catalog, opts.settings, opts.follow);
                        // Only a file with findings of its own keeps its tree; any file may have chain
                        // findings (known after linking), and keeps its endpoints.
                        fix_context = kept.map(|(tree, endpoints)| FixContext {
                            tree: (!a.findings.is_empty()).then_some(tree),
                            endpoints,
                        });
                        (Arc::new(a), true)
                    }
                    None => (Arc::new(analysis::analyze_source_file(&text, catalog, opts.settings, opts.follow)), true),
                };
                let diagnostics = if *is_reported {
                    let off = opts.settings.ignored_in(abs);
                    let mut findings = analysis.findings.clone();
                    findings.retain(|f| !off.iter().any(|s| s.matches(f.rule)));
                    locate(display, &text, findings)
                } else {
                    Vec::new()
                };
                let cuts = if *is_reported { cut_warnings(display, &text, &analysis.cuts) } else { Vec::new() };
                let fix_context = fix_context.map(|mut c| {
                    if diagnostics.is_empty() {
                        // All ignored (`per-file-ignores`): only chains may be left.
                        c.tree = None;
                    }
                    c
                });
                Ok(Outcome { diagnostics, hash, analysis, fresh, cuts, fix_context })
            }
        })
        .collect();
    timer.lap("analyse");

    let mut report = Report {
        diagnostics: Vec::new(),
        files_checked: 0,
        warnings: Vec::new(),
        hashes: HashMap::new(),
        project_paths: Vec::new(),
        fix_context: HashMap::new(),
    };
    let root_shown = root.clone().or_else(|| std::env::current_dir().ok().and_then(|c| std::fs::canonicalize(c).ok()));
    let root_shown = root_shown.as_deref().map(|r| r.to_string_lossy().into_owned()).unwrap_or_default();
    let mut project_path: HashMap<String, String> = HashMap::new();
    let mut project_files = Vec::with_capacity(files.len());
    let mut reported_index = Vec::with_capacity(files.len());
    let mut used = Vec::with_capacity(files.len());
    let mut any_fresh = false;
    for ((abs, display, is_reported), outcome) in files.into_iter().zip(outcomes) {
        match outcome {
            Ok(o) => {
                if is_reported {
                    let rel = crate::analysis::fingerprint::relative_path(&abs.to_string_lossy(), &root_shown);
                    report.project_paths.push(rel.clone());
                    project_path.insert(display.clone(), rel);
                    report.files_checked += 1;
                    report.hashes.insert(display.clone(), o.hash);
                    report.diagnostics.extend(o.diagnostics);
                    warnings.extend(o.cuts);
                    if let Some(c) = o.fix_context {
                        report.fix_context.insert(display.clone(), c);
                    }
                }
                any_fresh |= o.fresh;
                used.push((o.hash, o.analysis.clone()));
                if opts.follow {
                    reported_index.push(is_reported);
                    project_files.push(ProjectFile { path: abs, display, analysis: o.analysis });
                }
            }
            Err(why) => {
                if is_reported {
                    warnings.push(why);
                }
            }
        }
    }
    // Identical files (empty `__init__.py`s) share an entry.
    used.sort_unstable_by_key(|(h, _)| *h);
    used.dedup_by_key(|(h, _)| *h);
    if let Some(cache) = &cache
        && (any_fresh || cache.len() != used.len())
        && let Err(e) = cache.save(&used)
    {
        warnings.push(format!("cannot write the cache: {e}"));
    }
    timer.lap("cache save");

    if opts.follow {
        let mut project = Project::new(project_files, root.as_deref());
        if !opts.settings.extend_blocking_calls.is_empty() {
            project = project.with_catalog(std::sync::Arc::new(catalog.clone()));
        }
        timer.lap("index");
        let links = project.link(opts.settings);
        // Blocking calls in coroutines that only command-line commands reach (through other files
        // too) are hints: each file's own pass could not know who awaits them.
        let by_display: HashMap<&str, usize> =
            project.files().iter().enumerate().map(|(i, f)| (f.display.as_str(), i)).collect();
        let mut helpers: HashMap<usize, Vec<&str>> = HashMap::new();
        for d in &mut report.diagnostics {
            if let Some(&i) = by_display.get(d.path.as_str()) {
                let h = helpers.entry(i).or_insert_with(|| project.command_helpers(&links, i));
                if let Some(f) = crate::project::demoted(h, &d.finding) {
                    d.finding = f;
                }
                // A route is shown with the prefixes of the routers serving it.
                if let Some(f) = project.rerouted(&links, i, &d.finding) {
                    d.finding = f;
                }
            }
        }
        let mut chains = project.findings(&links, None, opts.settings);
        // `per-file-ignores` of the file each finding is reported in.
        let mut off: HashMap<usize, Vec<crate::settings::Selector>> = HashMap::new();
        chains.retain(|c| {
            let off = off.entry(c.file).or_insert_with(|| opts.settings.ignored_in(&project.files()[c.file].path));
            !off.iter().any(|s| s.matches(c.rule))
        });
        timer.lap("link");
        // Calls the project's resolution bound left unresolved, as warnings where they are.
        for (file, loc, message) in project.cuts(&links) {
            if reported_index[file] {
                let display = &project.files()[file].display;
                warnings.push(format!("{display}:{}:{}: {message}", loc.line + 1, loc.col + 1));
            }
        }
        report.diagnostics.extend(locate_chains(&project, &reported_index, chains, stdin, overlay));
        timer.lap("locate");
    }
    report
        .diagnostics
        .sort_by(|a, b| (&a.path, a.start.line, a.start.column).cmp(&(&b.path, b.start.line, b.start.column)));
    if !report.fix_context.is_empty() {
        // Only files with findings have fixes to list.
        let with: HashSet<&str> = report.diagnostics.iter().map(|d| d.path.as_str()).collect();
        report.fix_context.retain(|path, _| with.contains(path.as_str()));
    }
    report.warnings = warnings;
    crate::baseline::assign_fingerprints(&mut report.diagnostics, &project_path);
    Ok(report)
}

/// `std::fs::canonicalize` for many files, with each directory resolved once: canonicalizing each
/// file on its own looks up every component of its path, then of each prefix, which is cubic in the
/// depth of a deep package tree.
#[derive(Default)]
struct Canonical {
    dirs: HashMap<PathBuf, PathBuf>,
}

impl Canonical {
    fn path(&mut self, p: &Path) -> PathBuf {
        let is_link = std::fs::symlink_metadata(p).map(|m| m.file_type().is_symlink()).unwrap_or(true);
        match (p.parent().filter(|d| !d.as_os_str().is_empty()), p.file_name()) {
            (Some(dir), Some(name)) if !is_link && name != ".." => self.dir(dir).join(name),
            _ => std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()),
        }
    }

    /// The canonical form of directory `d`: its parent's (resolved once) joined with its name, unless
    /// it is a symbolic link or `..`.
    fn dir(&mut self, d: &Path) -> PathBuf {
        // The directories up to one already resolved (or a root), then down again: no recursion.
        let mut pending = Vec::new();
        let mut at = d;
        let mut base = loop {
            if let Some(c) = self.dirs.get(at) {
                break c.clone();
            }
            let plain = at.file_name().is_some_and(|n| n != "..")
                && std::fs::symlink_metadata(at).is_ok_and(|m| !m.file_type().is_symlink());
            match at.parent().filter(|p| !p.as_os_str().is_empty()) {
                Some(parent) if plain => {
                    pending.push(at);
                    at = parent;
                }
                _ => {
                    let c = std::fs::canonicalize(at).unwrap_or_else(|_| at.to_path_buf());
                    self.dirs.insert(at.to_path_buf(), c.clone());
                    break c;
                }
            }
        };
        while let Some(dir) = pending.pop() {
            base = base.join(dir.file_name().expect("plain directories have a name"));
            self.dirs.insert(dir.to_path_buf(), base.clone());
        }
        base
    }
}

/// Phase timings on stderr when `LOOPSAFE_TIMINGS` is set (for profiling; not a stable interface).
struct Timer {
    on: bool,
    last: std::cell::Cell<std::time::Instant>,
}

impl Timer {
    fn new() -> Timer {
        Timer {
            on: std::env::var_os("LOOPSAFE_TIMINGS").is_some(),
            last: std::cell::Cell::new(std::time::Instant::now()),
        }
    }
    fn lap(&self, phase: &str) {
        if self.on {
            let now = std::time::Instant::now();
            eprintln!("loopsafe: timing: {phase}: {:.3}s", (now - self.last.get()).as_secs_f64());
            self.last.set(now);
        }
    }
}

/// Turns chain findings into diagnostics, reading the source lines of the files they are in.
fn locate_chains(
    project: &Project,
    reported: &[bool],
    chains: Vec<ChainFinding>,
    stdin: Option<&str>,
    overlay: Option<&Overlay>,
) -> Vec<Diagnostic> {
    let files = project.files();
    // Each file with chain findings is read once, with its line index.
    let mut texts: HashMap<usize, (String, LineIndex)> = HashMap::new();
    let mut out = Vec::new();
    for c in chains {
        if !reported[c.file] {
            continue;
        }
        let (text, idx) = texts.entry(c.file).or_insert_with(|| {
            let text = match stdin {
                // The buffer is the one reported file.
                Some(text) => text.to_string(),
                None => match overlay.and_then(|o| o.get(&files[c.file].path)) {
                    Some(text) => text.clone(),
                    None => match read_source(&files[c.file].path) {
                        Source::Text { text } => text,
                        Source::Skipped(_) => String::new(),
                    },
                },
            };
            let idx = LineIndex::new(&text);
            (text, idx)
        });
        let pos = |l: &Loc| Position { line: l.line as usize + 1, column: l.col as usize + 1 };
        let (start, end) = (pos(&c.start), pos(&c.end));
        let first = c.start.line as usize;
        let source = if first < idx.line_count() {
            vec![(first + 1, text[idx.line_range(text, first)].to_string())]
        } else {
            Vec::new()
        };
        let end_col =
            if end.line == start.line { end.column - 1 } else { source.first().map_or(0, |(_, l)| l.chars().count()) };
        let located = |h: &crate::project::ChainHop| LocatedHop {
            path: files[h.file].display.clone(),
            line: h.loc.line as usize + 1,
            column: h.loc.col as usize + 1,
            name: h.name.clone(),
            elided: (h.elided > 0).then_some(h.elided),
            offset: Some(h.loc.offset as usize),
            end_line: None,
            end_column: None,
            message: None,
        };
        let chain = c.hops.iter().map(located).collect();
        let related = c.also.iter().map(located).collect();
        let finding = Finding {
            rule: c.rule,
            tier: c.tier,
            range: c.start.offset as usize..c.end.offset as usize,
            call_range: None,
            message: c.message,
            callee: Some(c.callee),
            instead: c.instead,
            fix_kinds: c.fixes,
            chain: Vec::new(),
            function: Some(c.function),
            route: c.route,
            related: Vec::new(),
        };
        out.push(Diagnostic {
            path: files[c.file].display.clone(),
            finding,
            start,
            end,
            chain,
            related,
            source,
            underline: (start.column - 1, end_col),
            fixes: Vec::new(),
            project_path: String::new(),
            fingerprint: String::new(),
            runtime: None,
        });
    }
    out
}

/// `path:line:column: message` for each place the analysis stopped following a file's code.
fn cut_warnings(path: &str, text: &str, cuts: &[analysis::Cut]) -> Vec<String> {
    if cuts.is_empty() {
        return Vec::new();
    }
    let idx = LineIndex::new(text);
    cuts.iter()
        .map(|c| {
            let lc = idx.line_col(text, c.offset.min(text.len()), ColumnUnit::Chars);
            format!("{path}:{}:{}: {}", lc.line + 1, lc.col + 1, c.message)
        })
        .collect()
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
                        elided: None,
                        offset: h.path.is_none().then_some(h.range.start),
                        end_line: None,
                        end_column: None,
                        message: None,
                    }
                })
                .collect();
            // Operations on the handle the finding's call returned (`analysis::Related`).
            let related = f
                .related
                .iter()
                .map(|r| {
                    let (p, e) = (pos(r.range.start), pos(r.range.end));
                    LocatedHop {
                        path: path.to_string(),
                        line: p.line,
                        column: p.column,
                        name: r.name.clone(),
                        elided: None,
                        offset: None,
                        end_line: Some(e.line),
                        end_column: Some(e.column),
                        message: Some(r.message.clone()),
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
                related,
                source,
                underline: (start.column - 1, end_col),
                fixes: Vec::new(),
                project_path: String::new(),
                fingerprint: String::new(),
                runtime: None,
            }
        })
        .collect()
}
