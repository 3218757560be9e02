//! The on-disk analysis cache: each file's findings and summary, keyed by a hash of its content, in one
//! file per configuration (loopsafe version, bundled catalog and queries, settings). A second run over an
//! unchanged project reads and hashes the files, and analyses none of them.
//!
//! The cache is an optimisation only: a missing, stale, corrupt or unwritable cache is never an error,
//! at worst a warning and a full analysis.

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
    /// Opens the cache for this configuration under `dir`. A cache that cannot be read is empty.
    pub fn open(dir: &Path, settings: &Settings, summarize: bool) -> Cache {
        let key = configuration_key(settings, summarize);
        let file = dir.join(format!("v{}", env!("CARGO_PKG_VERSION"))).join(format!("{key:016x}.bin"));
        let entries = std::fs::read(&file)
            .ok()
            .and_then(|bytes| postcard::from_bytes::<Stored>(&bytes).ok())
            .filter(|s| s.key == key)
            .map(|s| s.entries.into_iter().map(|(h, a)| (h, Arc::new(a))).collect())
            .unwrap_or_default();
        Cache { file, key, entries }
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
        let dir = self.file.parent().ok_or("the cache path has no directory")?;
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if let Some(root) = dir.parent() {
            // Like ruff's cache: ignored by git and by backup tools.
            let _ = std::fs::write(root.join(".gitignore"), "# Automatically created by loopsafe.\n*\n");
            let _ = std::fs::write(
                root.join("CACHEDIR.TAG"),
                "Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by loopsafe.\n",
            );
        }
        let tmp = self.file.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, &bytes).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &self.file).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("{}: {e}", self.file.display())
        })
    }
}
