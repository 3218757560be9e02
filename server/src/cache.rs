//! The on-disk analysis cache: each file's findings and summary, keyed by a hash of its content, in one
//! file per configuration (loopsafe version, bundled catalog and queries, settings). A second run over an
//! unchanged project reads and hashes the files, and analyses none of them.
//!
//! The cache is an optimisation only: a missing, stale, corrupt or unwritable cache is never an error,
//! at worst a warning and a full analysis.
//!
//! The cache writes only inside a directory it owns. A directory is loopsafe's cache when it does not
//! exist yet (it is created), when it is empty (it is claimed), or when it carries loopsafe's
//! `CACHEDIR.TAG` (the marker, written when the directory is created or claimed) and holds nothing but
//! that tag, the `.gitignore` written beside it and `v<version>` folders. Any other directory is refused
//! (`ensure_owned`): `--cache-dir .` must not overwrite a project's `.gitignore`.

use std::collections::HashMap;
use std::hash::Hasher;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{Xxh3, xxh3_128};

use crate::analysis::FileAnalysis;
use crate::catalog::BUNDLED_FILES;
use crate::settings::Settings;
use crate::syntax::QUERY_FILES;

/// The default cache directory's name, created at the project root.
pub const DIR_NAME: &str = ".loopsafe_cache";

/// The marker of a directory loopsafe owns, and its content (a cache directory tag, so that backup
/// tools skip it: https://bford.info/cachedir/).
pub const MARKER: &str = "CACHEDIR.TAG";
const TAG_SIGNATURE: &str = "Signature: 8a477f597d28d172789f06886806bc55";
const TAG: &str =
    "Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by loopsafe.\n";
const GITIGNORE: &str = "# Automatically created by loopsafe.\n*\n";

/// What a cache directory is now.
#[derive(Debug, PartialEq, Eq)]
enum Ownership {
    /// Missing or empty: loopsafe may create or claim it.
    Free,
    /// Marked as loopsafe's cache.
    Owned,
}

/// Whether `dir` may hold loopsafe's cache; an error saying why not.
fn ownership(dir: &Path) -> Result<Ownership, String> {
    let shown = dir.display();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Ownership::Free),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory || dir.is_file() => {
            return Err(format!("cache directory `{shown}` is not a directory"));
        }
        Err(e) => return Err(format!("cache directory `{shown}`: cannot read: {e}")),
    };
    let mut names: Vec<String> = Vec::new();
    for e in entries {
        let e = e.map_err(|e| format!("cache directory `{shown}`: cannot read: {e}"))?;
        names.push(e.file_name().to_string_lossy().into_owned());
    }
    if names.is_empty() {
        return Ok(Ownership::Free);
    }
    names.sort();
    let ours = |name: &str| -> bool {
        match name {
            MARKER => true,
            ".gitignore" => std::fs::read_to_string(dir.join(name))
                .is_ok_and(|t| t.starts_with("# Automatically created by loopsafe.")),
            _ => name.strip_prefix('v').is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit())),
        }
    };
    let tagged = std::fs::read_to_string(dir.join(MARKER))
        .is_ok_and(|t| t.starts_with(TAG_SIGNATURE) && t.contains("created by loopsafe"));
    match names.iter().find(|n| !ours(n)) {
        None if tagged => Ok(Ownership::Owned),
        first => Err(format!(
            "cache directory `{shown}` is not a loopsafe cache: it holds `{}` and has no loopsafe {MARKER}; \
             give --cache-dir (or LOOPSAFE_CACHE_DIR) a new or empty directory",
            first.unwrap_or(&names[0])
        )),
    }
}

/// Makes sure the cache may be kept in `dir` (missing, empty, or already loopsafe's cache), writing
/// nothing: an error says why not.
pub fn ensure_owned(dir: &Path) -> Result<(), String> {
    ownership(dir).map(|_| ())
}

/// Creates or claims `dir` for the cache (its marker and `.gitignore`), unless it is already loopsafe's.
fn claim(dir: &Path) -> Result<(), String> {
    if ownership(dir)? == Ownership::Owned {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // Like ruff's cache: ignored by git and by backup tools. Written only into a directory that was
    // missing or empty a moment ago; an existing file is never replaced.
    for (name, text) in [(".gitignore", GITIGNORE), (MARKER, TAG)] {
        let created = std::fs::OpenOptions::new().write(true).create_new(true).open(dir.join(name));
        match created {
            Ok(mut f) => {
                std::io::Write::write_all(&mut f, text.as_bytes()).map_err(|e| format!("{}: {e}", dir.display()))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("{}: {e}", dir.join(name).display())),
        }
    }
    // Someone else's files may have arrived in between: check again.
    ensure_owned(dir)
}

#[derive(Deserialize)]
struct Stored {
    key: u64,
    entries: Vec<(u128, FileAnalysis)>,
}

/// The same layout as `Stored`, borrowed, so that saving does not copy the analyses.
#[derive(Serialize)]
struct StoredRef<'a> {
    key: u64,
    entries: Vec<(u128, &'a FileAnalysis)>,
}

pub struct Cache {
    /// The cache directory (the one `ensure_owned` checks).
    root: PathBuf,
    file: PathBuf,
    key: u64,
    entries: HashMap<u128, Arc<FileAnalysis>>,
}

pub fn content_hash(text: &str) -> u128 {
    xxh3_128(text.as_bytes())
}

/// What the cached results depend on besides the file's content.
fn configuration_key(settings: &Settings, summarize: bool) -> u64 {
    let mut h = Xxh3::new();
    h.write(env!("CARGO_PKG_VERSION").as_bytes());
    for (name, text) in BUNDLED_FILES.iter().chain(QUERY_FILES) {
        h.write(name.as_bytes());
        h.write(text.as_bytes());
    }
    let mut severity: Vec<String> = settings.severity.iter().map(|(r, t)| format!("{r}={t}")).collect();
    severity.sort();
    h.write(
        format!(
            "{:?}|{:?}|{:?}|{:?}|{summarize}",
            settings.select, settings.ignore, severity, settings.extend_blocking_calls
        )
        .as_bytes(),
    );
    h.finish()
}

impl Cache {
    /// Opens the cache for this configuration under `dir`. A cache that cannot be read is empty; a
    /// directory that is not loopsafe's (see `ensure_owned`) is an error, and nothing is read from it.
    pub fn open(dir: &Path, settings: &Settings, summarize: bool) -> Result<Cache, String> {
        ensure_owned(dir)?;
        let key = configuration_key(settings, summarize);
        let file = dir.join(format!("v{}", env!("CARGO_PKG_VERSION"))).join(format!("{key:016x}.bin"));
        let entries = std::fs::read(&file)
            .ok()
            .and_then(|bytes| postcard::from_bytes::<Stored>(&bytes).ok())
            .filter(|s| s.key == key)
            .map(|s| s.entries.into_iter().map(|(h, a)| (h, Arc::new(a))).collect())
            .unwrap_or_default();
        Ok(Cache { root: dir.to_path_buf(), file, key, entries })
    }

    pub fn get(&self, hash: u128) -> Option<Arc<FileAnalysis>> {
        self.entries.get(&hash).cloned()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Writes this run's results. Entries of earlier runs that this run did not use are kept while they
    /// are fewer than the used ones, so that checking part of a project does not evict the rest.
    pub fn save(&self, used: &[(u128, Arc<FileAnalysis>)]) -> Result<(), String> {
        let mut entries: Vec<(u128, &FileAnalysis)> = used.iter().map(|(h, a)| (*h, &**a)).collect();
        let fresh: std::collections::HashSet<u128> = used.iter().map(|(h, _)| *h).collect();
        let budget = used.len();
        entries.extend(self.entries.iter().filter(|(h, _)| !fresh.contains(h)).take(budget).map(|(h, a)| (*h, &**a)));
        let bytes = postcard::to_allocvec(&StoredRef { key: self.key, entries }).map_err(|e| e.to_string())?;
        claim(&self.root)?;
        let dir = self.file.parent().ok_or("the cache path has no directory")?;
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let tmp = self.file.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, &bytes).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &self.file).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("{}: {e}", self.file.display())
        })
    }
}

/// A fix as the fix cache keeps it: [`ReportedFix`](crate::fix::ReportedFix) in a layout postcard reads
/// back (every field present).
#[derive(Serialize, Deserialize)]
struct StoredFix {
    title: String,
    kind: crate::fix::FixId,
    applicability: crate::fix::Applicability,
    /// (start line, start column, end line, end column, content), as reported.
    edits: Vec<(usize, usize, usize, usize, String)>,
    same_as: Option<String>,
}

impl StoredFix {
    fn of(f: &crate::fix::ReportedFix) -> StoredFix {
        StoredFix {
            title: f.title.clone(),
            kind: f.kind,
            applicability: f.applicability,
            edits: f
                .edits
                .iter()
                .map(|e| (e.start.line, e.start.column, e.end.line, e.end.column, e.content.clone()))
                .collect(),
            same_as: f.same_as.clone(),
        }
    }

    fn reported(&self) -> crate::fix::ReportedFix {
        use crate::fix::{ReportedEdit, ReportedPosition};
        crate::fix::ReportedFix {
            title: self.title.clone(),
            kind: self.kind,
            applicability: self.applicability,
            edits: self
                .edits
                .iter()
                .map(|(sl, sc, el, ec, content)| ReportedEdit {
                    start: ReportedPosition { line: *sl, column: *sc },
                    end: ReportedPosition { line: *el, column: *ec },
                    content: content.clone(),
                })
                .collect(),
            same_as: self.same_as.clone(),
        }
    }
}

/// One file's fixes: for each of its findings, in report order, the fixes JSON lists.
type FileFixes = Vec<Vec<StoredFix>>;

#[derive(Deserialize)]
struct StoredFixes {
    key: u64,
    entries: Vec<(u128, FileFixes)>,
}

#[derive(Serialize)]
struct StoredFixesRef<'a> {
    key: u64,
    entries: Vec<(u128, &'a FileFixes)>,
}

/// The fixes `--output-format json` listed for each file, beside the analyses but in a file of their own
/// (read by JSON runs only): a cached analysis keeps no tree, and the fixes need one (and checking each
/// fix parses the statements it edits), so without them a JSON run over an unchanged project would parse
/// and fix again every file with findings. An entry is keyed by what the fixes depend on besides the
/// configuration: the file's path and content, the fix options, and each finding's target and
/// fingerprint (a chain finding's come from the linked project; `same_as` names fingerprints).
pub struct FixCache {
    root: PathBuf,
    file: PathBuf,
    key: u64,
    entries: HashMap<u128, FileFixes>,
}

impl FixCache {
    /// Opens the fix cache for this configuration under `dir` (see [`Cache::open`]).
    pub fn open(dir: &Path, settings: &Settings, summarize: bool) -> Result<FixCache, String> {
        ensure_owned(dir)?;
        let key = configuration_key(settings, summarize);
        let file = dir.join(format!("v{}", env!("CARGO_PKG_VERSION"))).join(format!("{key:016x}.fixes.bin"));
        let entries = std::fs::read(&file)
            .ok()
            .and_then(|bytes| postcard::from_bytes::<StoredFixes>(&bytes).ok())
            .filter(|s| s.key == key)
            .map(|s| s.entries.into_iter().collect())
            .unwrap_or_default();
        Ok(FixCache { root: dir.to_path_buf(), file, key, entries })
    }

    /// Writes the entries this run used or computed (`used`, by key), and earlier ones while they are
    /// fewer than those.
    fn save(&self, used: &HashMap<u128, FileFixes>) -> Result<(), String> {
        let mut entries: Vec<(u128, &FileFixes)> = used.iter().map(|(k, f)| (*k, f)).collect();
        let budget = used.len();
        entries.extend(self.entries.iter().filter(|(k, _)| !used.contains_key(*k)).take(budget).map(|(k, f)| (*k, f)));
        let bytes = postcard::to_allocvec(&StoredFixesRef { key: self.key, entries }).map_err(|e| e.to_string())?;
        write_in(&self.root, &self.file, &bytes)
    }
}

/// Writes `bytes` to `file` in the cache directory `root` (claimed first), through a temporary file.
fn write_in(root: &Path, file: &Path, bytes: &[u8]) -> Result<(), String> {
    claim(root)?;
    let dir = file.parent().ok_or("the cache path has no directory")?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let tmp = file.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, file).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("{}: {e}", file.display())
    })
}

/// The fix cache's key of one file's findings: its path, its content, the options, and each finding's
/// target and fingerprint, in order.
fn fixes_key(path: &str, hash: u128, options: &crate::fix::Options, diags: &[&crate::check::Diagnostic]) -> u128 {
    let mut key = format!("{path}\0{hash:032x}\0{options:?}\0");
    for d in diags {
        let target = crate::fix::Target::from_finding(&d.finding, d.is_chain());
        key.push_str(&format!("{target:?}\0{}\0", d.fingerprint));
    }
    xxh3_128(key.as_bytes())
}

/// `autofix::attach_fixes` through the fix cache in `dir` ([`FixCache`]): the files whose fixes it holds
/// (unchanged on disk since the check read them, and with the same findings) take them from it, the
/// others are fixed as `attach_fixes` does, and kept. Without a cache directory, or when it cannot be
/// used, every file is fixed. Returns a warning when the cache could not be written.
pub fn attach_fixes(
    report: &mut crate::check::Report,
    catalog: &crate::catalog::Catalog,
    options: &crate::fix::Options,
    settings: &Settings,
    dir: Option<&Path>,
    summarize: bool,
) -> Option<String> {
    use rayon::prelude::*;
    let Some(mut cache) = dir.and_then(|d| FixCache::open(d, settings, summarize).ok()) else {
        crate::autofix::attach_fixes(report, catalog, options);
        return None;
    };
    let mut by_file: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for (i, d) in report.diagnostics.iter().enumerate() {
        by_file.entry(d.path.as_str()).or_default().push(i);
    }
    // Each file's key, when it is still the text the check analysed (as `attach_fixes` requires).
    let keyed: Vec<(String, Vec<usize>, Option<u128>)> = by_file
        .into_iter()
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|(path, ids)| {
            let key = match crate::check::read_source(Path::new(path)) {
                crate::check::Source::Text { text }
                    if report.hashes.get(path).is_none_or(|h| *h == content_hash(&text)) =>
                {
                    let diags: Vec<&crate::check::Diagnostic> = ids.iter().map(|&i| &report.diagnostics[i]).collect();
                    Some(fixes_key(path, content_hash(&text), options, &diags))
                }
                _ => None,
            };
            (path.to_string(), ids, key)
        })
        .collect();
    let mut used: HashMap<u128, FileFixes> = HashMap::new();
    let mut missed: Vec<(Vec<usize>, Option<u128>)> = Vec::new();
    for (_, ids, key) in keyed {
        let held = key.filter(|k| cache.entries.get(k).is_some_and(|f| f.len() == ids.len()));
        match held.and_then(|k| cache.entries.remove(&k).map(|f| (k, f))) {
            Some((k, fixes)) => {
                for (&i, list) in ids.iter().zip(&fixes) {
                    report.diagnostics[i].fixes = list.iter().map(StoredFix::reported).collect();
                }
                used.insert(k, fixes);
            }
            None => missed.push((ids, key)),
        }
    }
    if !missed.is_empty() {
        if used.is_empty() {
            crate::autofix::attach_fixes(report, catalog, options);
        } else {
            // Only the files missed are fixed: their findings, in report order, in a report of their own.
            let slots: Vec<usize> = {
                let mut s: Vec<usize> = missed.iter().flat_map(|(ids, _)| ids.iter().copied()).collect();
                s.sort_unstable();
                s
            };
            let mut sub = crate::check::Report {
                diagnostics: slots.iter().map(|&i| report.diagnostics[i].clone()).collect(),
                files_checked: 0,
                warnings: Vec::new(),
                hashes: std::mem::take(&mut report.hashes),
                project_paths: Vec::new(),
                fix_context: std::mem::take(&mut report.fix_context),
            };
            crate::autofix::attach_fixes(&mut sub, catalog, options);
            report.hashes = std::mem::take(&mut sub.hashes);
            for (&i, d) in slots.iter().zip(sub.diagnostics) {
                report.diagnostics[i].fixes = d.fixes;
            }
        }
        for (ids, key) in &missed {
            if let Some(k) = key {
                used.insert(
                    *k,
                    ids.iter().map(|&i| report.diagnostics[i].fixes.iter().map(StoredFix::of).collect()).collect(),
                );
            }
        }
        // Said once: the check warned already when it could not write the analyses.
        let warned = report.warnings.iter().any(|w| w.starts_with("cannot write the cache"));
        return cache.save(&used).err().filter(|_| !warned).map(|e| format!("cannot write the cache: {e}"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_directory_is_claimed_and_marked() {
        let tmp = tempfile::tempdir().unwrap();
        for dir in [tmp.path().join("new/deeper"), tmp.path().join("empty")] {
            if dir.ends_with("empty") {
                std::fs::create_dir(&dir).unwrap();
            }
            let cache = Cache::open(&dir, &Settings::default(), true).unwrap();
            cache.save(&[]).unwrap();
            assert_eq!(std::fs::read_to_string(dir.join(MARKER)).unwrap(), TAG);
            assert_eq!(std::fs::read_to_string(dir.join(".gitignore")).unwrap(), GITIGNORE);
            assert_eq!(ownership(&dir), Ok(Ownership::Owned));
            // Reused.
            Cache::open(&dir, &Settings::default(), true).unwrap().save(&[]).unwrap();
        }
    }

    #[test]
    fn a_directory_with_other_content_is_refused_and_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(dir.join(".gitignore"), "target/\n").unwrap();
        std::fs::write(dir.join("app.py"), "x = 1\n").unwrap();
        let err = Cache::open(dir, &Settings::default(), true).err().unwrap();
        assert!(err.contains("is not a loopsafe cache: it holds `.gitignore`"), "{err}");
        assert_eq!(std::fs::read_to_string(dir.join(".gitignore")).unwrap(), "target/\n");
        assert!(!dir.join(MARKER).exists());
        // A directory marked by loopsafe but holding a project's files is refused too.
        std::fs::write(dir.join(MARKER), TAG).unwrap();
        std::fs::remove_file(dir.join(".gitignore")).unwrap();
        let err = ensure_owned(dir).unwrap_err();
        assert!(err.contains("it holds `app.py`"), "{err}");
    }
}
