//! `workspace/didChangeWatchedFiles`, and the server's own watch of its workspace folders: files
//! changed on disk are read again into the index, the settings and dependencies again when theirs changed.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tower_lsp_server::ls_types::*;

use crate::lsp::{Backend, runtime, watch};

pub(in crate::lsp) async fn did_change_watched_files(backend: &Backend, params: DidChangeWatchedFilesParams) {
    let paths = params.changes.iter().filter_map(|e| e.uri.to_file_path().map(|p| p.into_owned())).collect();
    backend.disk_changed(paths);
}

impl Backend {
    /// Files changed on disk (reported by the client's watcher or the server's): the index reads the
    /// Python files again (on the refresher's thread), the configuration and declared dependencies are
    /// read again. An open document's buffer wins over the disk.
    fn disk_changed(&self, changed: Vec<PathBuf>) {
        let mut config_changed = false;
        let mut paths = Vec::new();
        for path in changed {
            // The recording in force was rewritten: read it again, diagnostics recomputed.
            if runtime::watches(self.state.config().runtime.as_deref(), &path) {
                self.reload_runtime();
                continue;
            }
            let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
            if name == "pyproject.toml" || name.starts_with("requirements") && name.ends_with(".txt") {
                // Declared dependencies: read again when a code action next needs them.
                *self.state.anyio.lock().expect("anyio lock") = None;
                *self.state.http_module.lock().expect("http module lock") = None;
                self.state.offload_epoch.fetch_add(1, Ordering::SeqCst);
            }
            if name == "pyproject.toml" {
                config_changed = true;
                continue;
            }
            // The baseline in force was rewritten (`--update-baseline`), or one the settings name appeared.
            if name.ends_with(".json") {
                let config = self.state.config();
                let watched = match &config.baseline {
                    Some(known) => known.path == path,
                    None => config.settings.baseline.is_some(),
                };
                config_changed |= watched;
                continue;
            }
            if !name.ends_with(".py") {
                continue;
            }
            if Uri::from_file_path(&path).is_some_and(|u| self.state.documents.contains_key(&u)) {
                continue; // the buffer wins over the disk
            }
            paths.push(path);
        }
        // Read by the refresher on a blocking thread; what is not a regular file is skipped unopened.
        if !paths.is_empty() {
            self.queue(|w| w.disk.extend(paths));
        }
        if config_changed {
            self.reconfigure();
        }
    }

    /// Watches the workspace folders from the server: batches of changed paths, gathered for 50 ms, go
    /// through `disk_changed`.
    pub(super) async fn watch_workspace(&self) {
        let roots = self.state.roots.read().expect("roots lock").clone();
        if roots.is_empty() {
            return;
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<PathBuf>>();
        // Adding inotify watches walks the tree: off the async threads.
        let started = tokio::task::spawn_blocking(move || watch::start(roots, tx)).await;
        match started {
            Ok(Ok((watcher, failed))) => {
                for f in failed {
                    tracing::warn!("not watched for changes on disk: {f}");
                }
                tracing::info!("watching the workspace for changes on disk");
                *self.state.watcher.lock().expect("watcher lock") = Some(watcher);
            }
            Ok(Err(e)) => {
                tracing::warn!("{e}; changes on disk are seen when a file is opened or saved");
                return;
            }
            Err(_) => return,
        }
        let backend = Backend { client: self.client.clone(), state: self.state.clone() };
        tokio::spawn(async move {
            while let Some(mut paths) = rx.recv().await {
                tokio::time::sleep(Duration::from_millis(50)).await;
                while let Ok(more) = rx.try_recv() {
                    paths.extend(more);
                }
                paths.sort();
                paths.dedup();
                backend.disk_changed(paths);
            }
        });
    }
}
