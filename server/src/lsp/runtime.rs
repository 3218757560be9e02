//! The `runtime` setting: a recording of the runtime recorder (`python -m loopsafe.record`,
//! `pytest --loopsafe-record`) merged into each open document's diagnostics, by the same pure merge as
//! `loopsafe check --runtime` (`crate::runtime::merge`).
//!
//! - A finding one of whose lines is a frame of a recorded event is *confirmed*: its message gets the
//!   suffix `check` gives it, and a related information at its own range says how often and how long.
//! - A recorded blocking call no finding of the document covers, whose coroutine frame is in the
//!   document, is a `blocking-seen-at-runtime` (LS190) diagnostic on that frame's line, with the
//!   recorded stack's project frames as related information.
//!
//! The file is read with the settings, on a blocking thread; the watchers' report of a change to it
//! reads it again, and every open document's diagnostics are computed again and pushed. A missing or
//! malformed file is a warning in the client's log (`window/logMessage`), and diagnostics are then as
//! without it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use ropey::Rope;
use tower_lsp_server::ls_types::*;

use super::convert::{diagnostic, fix_data};
use super::document::{Encoding, position};
use super::{Backend, Config, State};
use crate::rules::Rule;
use crate::runtime::{Recording, Site, confirmed_message, line_code, merge};
use crate::settings::{Selector, Settings};

/// The recording the settings name, as read with them.
pub(super) struct Recorded {
    /// The file: a change to it reads the settings and it again.
    pub path: PathBuf,
    /// The project root recorded paths are matched against (by path suffix, as `check` does).
    root: PathBuf,
    /// `None`: missing or malformed, and why (logged when read, shown when put in force).
    recording: Option<Recording>,
    error: Option<String>,
}

impl State {
    /// Reads the recording `settings.runtime` names (relative to the configuration file's directory,
    /// else to the workspace root). Runs on a blocking thread, with the settings.
    pub(super) fn load_runtime(&self, settings: &Settings) -> Option<Arc<Recorded>> {
        let file = settings.runtime.as_ref()?;
        let root = self.roots.read().expect("roots lock").first().cloned()?;
        let dir = settings.config_dir.clone().unwrap_or_else(|| root.clone());
        let path = dir.join(file);
        let project_root = crate::check::project_root(&root).unwrap_or(root);
        let (recording, error) = match crate::runtime::load(&path) {
            Ok(r) => {
                tracing::info!("runtime recording {}: {} recorded calls", path.display(), r.events.len());
                (Some(r), None)
            }
            Err(e) => {
                let e = e.strip_prefix("--runtime ").unwrap_or(&e);
                let e = format!("not using the runtime recording (setting `runtime`): {e}");
                tracing::warn!("{e}");
                (None, Some(e))
            }
        };
        Some(Arc::new(Recorded { path, root: project_root, recording, error }))
    }
}

impl Backend {
    /// The recording in force was rewritten: it is read again on a blocking thread and every open
    /// document's diagnostics are computed again (no analysis: the findings have not changed), unless
    /// the settings change meanwhile (their reading reads the recording too).
    pub(super) fn reload_runtime(&self) {
        let generation = self.state.config_generation.load(Ordering::SeqCst);
        let backend = self.clone();
        tokio::spawn(async move {
            let state = backend.state.clone();
            let read = tokio::task::spawn_blocking(move || state.load_runtime(&state.config().settings)).await;
            let Ok(runtime) = read else { return };
            if backend.state.config_generation.load(Ordering::SeqCst) != generation {
                return;
            }
            let old = backend.state.config();
            backend.warn_runtime(old.runtime.as_deref(), runtime.as_deref());
            let config = Config {
                settings: old.settings.clone(),
                catalog: old.catalog.clone(),
                baseline: old.baseline.clone(),
                runtime,
            };
            *backend.state.config.write().expect("config lock") = Arc::new(config);
            backend.refresh_all();
        });
    }

    /// Shows a recording that could not be read as a warning (`window/showMessage`), once for each
    /// new reason: `before` is the recording in force until now.
    pub(super) fn warn_runtime(&self, before: Option<&Recorded>, now: Option<&Recorded>) {
        let Some(e) = now.and_then(|r| r.error.clone()) else { return };
        if before.and_then(|r| r.error.as_ref()) == Some(&e) {
            return;
        }
        let client = self.client.clone();
        tokio::spawn(async move { client.show_message(MessageType::WARNING, format!("loopsafe: {e}")).await });
    }
}

/// Whether a changed file is the recording in force (or the one the settings name, unreadable so far).
pub(super) fn watches(recorded: Option<&Recorded>, path: &Path) -> bool {
    recorded.is_some_and(|r| r.path == path)
}

impl Recorded {
    /// The project-relative path (`/` separators) of a recorded file that is a project file: the
    /// longest suffix of its path, starting after a `/`, that `known` holds under the root.
    fn find(&self, file: &str, known: &dyn Fn(&Path) -> bool) -> Option<String> {
        let file = file.replace('\\', "/");
        if let Ok(rel) = Path::new(&file).strip_prefix(&self.root)
            && known(Path::new(&file))
        {
            return Some(rel.to_string_lossy().replace('\\', "/"));
        }
        let starts = file.match_indices('/').map(|(i, _)| i + 1);
        starts.map(|i| &file[i..]).find(|rel| !rel.is_empty() && known(&self.root.join(rel))).map(str::to_string)
    }

    /// Merges the recording into the diagnostics `out` of the open document `path` (text `rope`, of
    /// `version`). `known`: whether a path is a workspace file; `off`: the document's per-file ignores;
    /// `extra`: what a new diagnostic carries beside it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn apply<X>(
        &self,
        path: &Path,
        rope: &Rope,
        enc: Encoding,
        version: i32,
        settings: &Settings,
        off: &[Selector],
        known: &dyn Fn(&Path) -> bool,
        out: &mut Vec<(Diagnostic, X, String)>,
        extra: impl Fn() -> X,
    ) {
        let Some(recording) = &self.recording else { return };
        let Ok(rel) = path.strip_prefix(&self.root) else { return };
        let rel = rel.to_string_lossy().replace('\\', "/");
        let Some(uri) = Uri::from_file_path(path) else { return };
        let known = |p: &Path| p == path || known(p);
        let sites: Vec<Site> = out
            .iter()
            .map(|(d, _, _)| Site {
                file: &rel,
                first: d.range.start.line as usize + 1,
                last: d.range.end.line as usize + 1,
            })
            .collect();
        let merged = merge(recording, &sites, &|f| self.find(f, &known));
        for ((d, _, _), seen) in out.iter_mut().zip(&merged.seen) {
            let Some(seen) = seen else { continue };
            d.message = confirmed_message(&d.message, seen);
            let note = DiagnosticRelatedInformation {
                location: Location { uri: uri.clone(), range: d.range },
                message: format!("confirmed at runtime: {}", seen.describe()),
            };
            d.related_information.get_or_insert_with(Vec::new).insert(0, note);
        }
        let rule = Rule::BlockingSeenAtRuntime;
        if !settings.enabled(rule) || off.iter().any(|s| s.matches(rule)) {
            return;
        }
        let mut text: Option<String> = None;
        for u in merged.unseen.iter().filter(|u| u.file == rel) {
            let text = text.get_or_insert_with(|| rope.to_string());
            let Some((range, _)) = line_code(text, u.line) else { continue };
            if crate::runtime::suppressed(text, &range) {
                continue;
            }
            let mut related = Vec::new();
            for (i, f) in u.stack().iter().enumerate() {
                let file = match self.find(&f.file, &known) {
                    Some(rel) => self.root.join(rel),
                    None => {
                        let p = Path::new(&f.file);
                        let vendored = f.file.contains("/site-packages/") || f.file.contains("/.venv/");
                        if !p.starts_with(&self.root) || vendored {
                            continue;
                        }
                        p.to_path_buf()
                    }
                };
                let Some(uri) = Uri::from_file_path(&file) else { continue };
                let at = Position { line: f.line.saturating_sub(1) as u32, character: 0 };
                related.push(DiagnosticRelatedInformation {
                    location: Location { uri, range: Range { start: at, end: at } },
                    message: u.hop_name(i),
                });
            }
            let tier = settings.severity.get(&rule).copied().unwrap_or(rule.info().default_tier);
            let range = Range { start: position(rope, range.start, enc), end: position(rope, range.end, enc) };
            let message = u.message(related.len());
            let data = fix_data(rule, Some(&u.callee), &[], None, false, version);
            out.push((diagnostic(rule, tier, range, &message, Some(related), data), extra(), String::new()));
        }
    }
}
