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
