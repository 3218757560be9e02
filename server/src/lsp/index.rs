//! The workspace index: every workspace file's analysis (open ones from their buffers, closed ones
//! from disk), indexed in the background at `initialized` and again when the settings change, and the
//! linked project built from it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rayon::prelude::*;
use tower_lsp_server::ls_types::*;

use super::{Backend, Linked, State};
use super::{INDEX_NOT_STARTED, INDEX_READY};
use crate::analysis::{self, FileAnalysis};
use crate::check::{self, CheckOptions, Source};
use crate::project::{Project, ProjectFile};

impl State {
    /// Records an open document's new analysis in the index (see `update_index`).
    pub(super) fn index_open(&self, uri: &Uri, analysis: Arc<FileAnalysis>) -> bool {
        uri.to_file_path().is_some_and(|p| self.update_index(p.into_owned(), analysis))
    }

    /// Records a file's new analysis. Returns whether its summary changed shape, which changes what the
    /// linker computes (and so possibly other files' diagnostics); a change of positions only is swapped
    /// into the linked project in place.
    pub(super) fn update_index(&self, path: PathBuf, analysis: Arc<FileAnalysis>) -> bool {
        let guard = self.linked.lock().expect("linked lock");
        self.update_index_with(guard, path, analysis, |_, _| {})
    }

    /// `update_index` with the linked project's lock in hand (the caller may have taken it without
    /// waiting: the refresher on the async thread), calling `before` with the linked project and the
    /// file's index in it when the summary changed shape, before the project changes (the refresher
    /// sends the edited document's diagnostics computed from it first: `scheduler`'s `early`).
    pub(super) fn update_index_with(
        &self,
        mut guard: std::sync::MutexGuard<'_, Option<Linked>>,
        path: PathBuf,
        analysis: Arc<FileAnalysis>,
        before: impl FnOnce(&Linked, usize),
    ) -> bool {
        self.stamp(&path);
        let old = self.index.insert(path.clone(), analysis.clone());
        if old.is_some()
            && let Some(linked) = guard.as_mut()
            && let Some(i) = linked.project.file_index(&path)
        {
            // One walk of the summaries: an equal summary has the same shape too. (Comparing them whole
            // first, positions included, walked them once more on every keystroke.)
            if linked.project.replace_same_shape(i, analysis.clone()) {
                return false;
            }
            before(linked, i);
            // Its calls or blocking calls changed, not the names other files resolve against: relink
            // this file's calls and recompute the chains, without building the project again.
            let settings = &self.config().settings;
            let Linked { project, links } = linked;
            if project.replace_same_names(i, analysis.clone(), links, settings) {
                return true;
            }
        }
        if old.is_some_and(|o| o.summary == analysis.summary) {
            return false;
        }
        *guard = None;
        true
    }

    /// Marks an index entry as written now, before it is written (see `index_workspace`).
    pub(super) fn stamp(&self, path: &Path) {
        let tick = self.index_clock.fetch_add(1, Ordering::SeqCst) + 1;
        self.index_stamps.insert(path.to_path_buf(), tick);
    }

    /// Runs `f` on the linked project, linking it first if needed. The lock is held only while `f` runs
    /// (never across an `.await`).
    pub(super) fn with_linked<T>(&self, f: impl FnOnce(&Linked) -> T) -> T {
        let mut guard = self.linked.lock().expect("linked lock");
        if guard.is_none() {
            let started = std::time::Instant::now();
            let config = self.config();
            let mut files: Vec<(PathBuf, Arc<FileAnalysis>)> =
                self.index.iter().map(|e| (e.key().clone(), e.value().clone())).collect();
            files.sort_by(|a, b| a.0.cmp(&b.0));
            let root = self.roots.read().expect("roots lock").first().cloned();
            let project = Project::new(
                files
                    .into_iter()
                    .map(|(path, analysis)| ProjectFile { display: path.display().to_string(), path, analysis })
                    .collect(),
                root.as_deref(),
            )
            .with_catalog(config.catalog.clone());
            let links = project.link(&config.settings);
            tracing::debug!(
                "linked {} files in {:.1} ms",
                project.files().len(),
                started.elapsed().as_secs_f64() * 1e3
            );
            *guard = Some(Linked { project, links });
        }
        f(guard.as_ref().expect("linked just now"))
    }

    /// Indexes every Python file of the workspace roots that is not open (open ones are analysed from
    /// their buffers).
    pub(super) fn index_workspace(&self) -> usize {
        let read = self.read_workspace();
        self.commit_index(read)
    }

    /// The first half of `index_workspace`: every workspace file read and analysed, with the tick of
    /// the index clock when the reading started.
    pub(super) fn read_workspace(&self) -> (u64, Vec<(PathBuf, FileAnalysis)>) {
        // Files the refresher indexes after this (the watcher reported them) were read after this pass
        // read them: their entries are newer and stay.
        let started = self.index_clock.fetch_add(1, Ordering::SeqCst) + 1;
        let config = self.config();
        let roots = self.roots.read().expect("roots lock").clone();
        let mut files = Vec::new();
        for root in &roots {
            let paths = [root.clone()];
            let opts = CheckOptions {
                paths: &paths,
                settings: &config.settings,
                root: Some(root),
                follow: true,
                cache_dir: None,
            };
            match check::collect_files(&opts) {
                Ok(f) => files.extend(f),
                Err(e) => tracing::warn!("cannot index {}: {e}", root.display()),
            }
        }
        let analysed: Vec<(PathBuf, FileAnalysis)> = files
            .par_iter()
            .filter_map(|p| {
                // Rayon's global threads run only background work (see `scheduler::lower_priority`).
                super::scheduler::lower_priority();
                match check::read_source(p) {
                    Source::Text { text } => {
                        let a = std::panic::catch_unwind(|| {
                            analysis::analyze_source_file(&text, &config.catalog, &config.settings, true)
                        })
                        .ok()?;
                        Some((std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()), a))
                    }
                    Source::Skipped(why) => {
                        tracing::info!("not indexed: {why}");
                        None
                    }
                }
            })
            .collect();
        (started, analysed)
    }

    /// The second half of `index_workspace`: what it read goes into the index, except over an open
    /// document or an entry the refresher wrote since the reading started.
    pub(super) fn commit_index(&self, (started, analysed): (u64, Vec<(PathBuf, FileAnalysis)>)) -> usize {
        let n = analysed.len();
        for (path, a) in analysed {
            // An open document's buffer wins over the file on disk.
            let open = Uri::from_file_path(&path).is_some_and(|u| self.documents.contains_key(&u));
            if open {
                continue;
            }
            // The refresher stamps an entry before writing it, and the check holds the entry's lock: a
            // write after the check replaces this one, one before it is seen.
            let entry = self.index.entry(path);
            let newer = self.index_stamps.get(entry.key()).is_some_and(|t| *t > started);
            if !newer {
                entry.insert(Arc::new(a));
            }
        }
        *self.linked.lock().expect("linked lock") = None;
        n
    }
}

impl Backend {
    /// Waits (at most `limit`) until the first index of the workspace is built and every open document's
    /// diagnostics were computed with it; true at once when no index was started (no `initialized`).
    pub(super) async fn index_ready(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.state.published.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if matches!(self.state.index_state.load(Ordering::SeqCst), INDEX_NOT_STARTED | INDEX_READY) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return false;
            }
        }
    }

    /// Re-indexes the closed files off the async threads, then refreshes every open document.
    pub(super) fn reindex_in_background(&self) {
        let backend = self.clone();
        tokio::spawn(async move {
            let worker = backend.state.clone();
            let _ = super::scheduler::background(move || worker.index_workspace()).await;
            backend.refresh_all();
        });
    }

    /// After a change that may affect other files: every open document's diagnostics are computed again
    /// and pushed, or a pull client is asked to refresh (by the refresher, off the handler).
    pub(super) fn refresh_all(&self) {
        self.queue(|w| w.all = true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::lsp::Config;
    use crate::settings::Settings;

    fn summary_of(text: &str) -> crate::analysis::summary::FileSummary {
        let config = Config {
            settings: Settings::default(),
            catalog: Arc::new(Catalog::bundled().clone()),
            baseline: None,
            runtime: None,
        };
        analysis::analyze_source_file(text, &config.catalog, &config.settings, true).summary
    }

    /// Background indexing reads a file, the file changes and the watcher's update is indexed, then
    /// indexing stores what it read: the watcher's (newer) entry stays; so does a deletion. A file the
    /// refresher did not touch meanwhile gets the indexing's entry.
    #[test]
    fn a_watcher_update_after_indexing_read_the_file_wins() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let old = "import time\n\n\ndef pause():\n    time.sleep(1)\n";
        let new = "def pause():\n    pass\n";
        for name in ["changed.py", "deleted.py", "kept.py"] {
            std::fs::write(root.join(name), old).unwrap();
        }
        let state = State::new(Default::default());
        *state.roots.write().unwrap() = vec![root.clone()];
        let read = state.read_workspace();
        // Meanwhile: one file rewritten, one deleted, both reported by the watcher and indexed.
        std::fs::write(root.join("changed.py"), new).unwrap();
        std::fs::remove_file(root.join("deleted.py")).unwrap();
        let config = state.config();
        let fresh = analysis::analyze_source_file(new, &config.catalog, &config.settings, true);
        state.update_index(root.join("changed.py"), Arc::new(fresh));
        state.drop_from_index(&root.join("deleted.py"));
        assert_eq!(state.commit_index(read), 3);
        assert_eq!(state.index.get(&root.join("changed.py")).unwrap().summary, summary_of(new));
        assert!(!state.index.contains_key(&root.join("deleted.py")));
        assert_eq!(state.index.get(&root.join("kept.py")).unwrap().summary, summary_of(old));
        // A later indexing pass reads the disk as it is now.
        state.index_workspace();
        assert_eq!(state.index.get(&root.join("changed.py")).unwrap().summary, summary_of(new));
        assert!(!state.index.contains_key(&root.join("deleted.py")));
    }
}
