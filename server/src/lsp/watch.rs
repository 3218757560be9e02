//! Watching the workspace from the server.
//!
//! A client that declares `workspace.didChangeWatchedFiles.dynamicRegistration` gets loopsafe's watcher
//! registration, but what it reports varies: VS Code reports every change, Helix only the files it
//! writes itself, and Neovim on Linux declares nothing (no `inotifywait`). So the server always watches
//! its workspace folders with the OS too (inotify, FSEvents, ReadDirectoryChangesW through the `notify`
//! crate), so that a module changed by another program or a `git checkout` updates the chains of open
//! documents in every editor, as rust-analyzer's server-side watcher does. A change reported by both is
//! read twice; the second read changes nothing.
//!
//! Events are filtered to what the server reads (`*.py`, `pyproject.toml`, `requirements*.txt`,
//! `*.json`: a baseline, a runtime recording; outside hidden directories, `__pycache__`,
//! `node_modules` and `site-packages`) and sent as batches of paths; the server reads the files on
//! the refresher's blocking thread, never here.

use std::path::{Path, PathBuf};

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc::UnboundedSender;

/// The OS watch over the workspace folders; dropping it stops watching.
pub(super) struct DiskWatcher {
    _inner: RecommendedWatcher,
}

/// Whether a changed path is one the index cares about.
pub(super) fn relevant(path: &Path, roots: &[PathBuf]) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return false };
    let wanted = name.ends_with(".py")
        || name == "pyproject.toml"
        || (name.starts_with("requirements") && name.ends_with(".txt"))
        || name.ends_with(".json");
    if !wanted {
        return false;
    }
    let Some(rel) = roots.iter().find_map(|r| path.strip_prefix(r).ok()) else { return false };
    let mut dirs = rel.components().rev().skip(1);
    !dirs.any(|c| {
        let c = c.as_os_str().to_string_lossy();
        c.starts_with('.') || matches!(&*c, "__pycache__" | "node_modules" | "site-packages")
    })
}

/// Starts watching `roots` recursively; each event's relevant paths are sent to `tx`. Returns the
/// watcher (to keep) and the roots it could not watch, with the reason.
pub(super) fn start(
    roots: Vec<PathBuf>,
    tx: UnboundedSender<Vec<PathBuf>>,
) -> Result<(DiskWatcher, Vec<String>), String> {
    let filter_roots = roots.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if matches!(event.kind, EventKind::Access(_)) {
            return;
        }
        let paths: Vec<PathBuf> = event.paths.into_iter().filter(|p| relevant(p, &filter_roots)).collect();
        if !paths.is_empty() {
            let _ = tx.send(paths);
        }
    })
    .map_err(|e| format!("cannot watch the workspace: {e}"))?;
    let mut failed = Vec::new();
    for root in &roots {
        if let Err(e) = watcher.watch(root, RecursiveMode::Recursive) {
            failed.push(format!("{}: {e}", root.display()));
        }
    }
    Ok((DiskWatcher { _inner: watcher }, failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_the_index_reads() {
        let roots = vec![PathBuf::from("/w")];
        let yes = [
            "/w/app/main.py",
            "/w/pyproject.toml",
            "/w/requirements-dev.txt",
            "/w/src/pkg/.x.py",
            "/w/loopsafe-baseline.json",
            "/w/loopsafe-runtime.json",
        ];
        let no = [
            "/w/app/main.pyc",
            "/w/.venv/lib/x.py",
            "/w/app/__pycache__/m.py",
            "/w/.git/HEAD",
            "/other/main.py",
            "/w/lib/site-packages/x.py",
            "/w/README.md",
        ];
        for p in yes {
            assert!(relevant(Path::new(p), &roots), "{p}");
        }
        for p in no {
            assert!(!relevant(Path::new(p), &roots), "{p}");
        }
    }
}
