//! The server's state: what the client declared (`Caps`), the settings in force (`Config`), the open
//! documents, the workspace index and the linked project (`State`), and the `Backend` every handler
//! gets. A document's snapshots (its `Published` diagnostics, the code actions' `Snapshot`) are cheap
//! clones taken out of `State::documents`, so that no guard is held across an `.await`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, AtomicU64};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::Duration;

use dashmap::DashMap;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::*;

use super::document::{Document, Encoding, Published};
use super::{scheduler, watch};
use crate::analysis::facts::Facts;
use crate::analysis::shift::LineEdit;
use crate::analysis::{self, FileAnalysis};
use crate::catalog::Catalog;
use crate::project::{Links, Project};
use crate::settings::Settings;

/// How long a spawned request to the client may take before it is abandoned.
pub(super) const CLIENT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// `State::index_state`: the client has not sent `initialized` (nothing to wait for).
pub(super) const INDEX_NOT_STARTED: u8 = 0;
/// The first index of the workspace is being built.
pub(super) const INDEX_RUNNING: u8 = 1;
/// The first index is built and a refresh of every open document is queued.
pub(crate) const INDEX_BUILT: u8 = 2;
/// A refresher pass that started after the first index has recomputed every open document.
pub(crate) const INDEX_READY: u8 = 3;

#[derive(Clone, Copy, Debug)]
pub(super) struct Caps {
    pub(super) encoding: Encoding,
    pub(super) pull: bool,
    pub(super) refresh: bool,
    /// The client shows `$/progress` work-done progress.
    pub(super) progress: bool,
    /// The client applies versioned `documentChanges` in workspace edits.
    pub(super) document_changes: bool,
    /// The client shows disabled code actions (with the reason a fix is not offered).
    pub(super) disabled_actions: bool,
    /// The client shows a diagnostic's message and related locations in the hover itself (VS Code, as
    /// loopsafe's extension declares): loopsafe's hover then adds only the route and the advice.
    pub(super) diagnostics_in_hover: bool,
    /// The client watches files for the server (dynamic registration of `didChangeWatchedFiles`): it
    /// gets the registration (the server watches its workspace folders itself anyway, `watch`).
    pub(super) client_watches: bool,
}

pub(super) struct Config {
    pub(super) settings: Settings,
    pub(super) catalog: Arc<Catalog>,
    /// The baseline `settings.baseline` names, read with the settings: findings it holds are shown at
    /// hint severity or hidden.
    pub(super) baseline: Option<Arc<crate::baseline::Known>>,
    /// The recording `settings.runtime` names, read with the settings (`runtime`).
    pub(super) runtime: Option<Arc<super::runtime::Recorded>>,
}

/// The linked project, rebuilt only when a summary changes shape; a change of positions only swaps the
/// file's analysis in place.
pub(super) struct Linked {
    pub(super) project: Project,
    pub(super) links: Links,
}

pub(super) struct State {
    pub(super) documents: DashMap<Uri, Document>,
    /// Every workspace file's analysis: open ones from their buffer, closed ones from disk.
    pub(super) index: DashMap<PathBuf, Arc<FileAnalysis>>,
    /// When each index entry was last written by the refresher (a tick of `index_clock`): background
    /// indexing leaves alone an entry written after it started (its read of the file is older).
    pub(super) index_stamps: DashMap<PathBuf, u64>,
    pub(super) index_clock: AtomicU64,
    pub(super) roots: RwLock<Vec<PathBuf>>,
    pub(super) config: RwLock<Arc<Config>>,
    pub(super) caps: OnceLock<Caps>,
    pub(super) linked: Mutex<Option<Linked>>,
    /// The client's settings (the keys of `[tool.loopsafe]`), laid over the project's.
    pub(super) client_table: RwLock<Option<toml::Table>>,
    /// A closed file's own findings in LSP positions, for the analysis they were converted from.
    pub(super) closed_findings: DashMap<PathBuf, (Arc<FileAnalysis>, Vec<Diagnostic>)>,
    /// Whether the project depends on anyio (code actions may then offload with it), read from its
    /// `pyproject.toml` and `requirements*.txt` once, and again after the watcher reports a change.
    pub(super) anyio: Mutex<Option<bool>>,
    /// The alternative to httpx the project depends on instead of httpx (`httpx2`), which the httpx
    /// rewrite writes in files importing neither (`autofix::http_module`); read like `anyio`.
    pub(super) http_module: Mutex<Option<Option<String>>>,
    /// What the refresher has to do (see `scheduler`).
    pub(super) work: Mutex<scheduler::Work>,
    /// Notified whenever documents' published diagnostics (or a failed analysis) were recorded.
    pub(super) published: tokio::sync::Notify,
    /// Counts configuration changes: the settings read off the async thread apply only if no later
    /// change came meanwhile.
    pub(super) config_generation: AtomicU64,
    /// Where the first index of the workspace is (`INDEX_*`): a document pull waits for it, since a
    /// report computed before it lacks the chains through files not indexed yet, and Neovim applies no
    /// later report for that document until it pulls it again.
    pub(super) index_state: AtomicU8,
    /// The report each open document's client holds, as last sent in a document pull (its own report
    /// or a related document's), to send with later pulls the reports that other files changed: which
    /// `Published` it was (only compared, so weak: an older version's text and analysis are freed once
    /// the document has moved on) and its result id.
    pub(super) sent: DashMap<Uri, (Weak<Published>, String)>,
    /// The server's own watch over the workspace (see `watch`).
    pub(super) watcher: Mutex<Option<watch::DiskWatcher>>,
    /// The offloader each open document's fixes write (`Backend::offload_name`), for the version it was
    /// read at and the `offload_epoch` then: a hover on another document than the one being typed in
    /// names it without parsing anything.
    pub(super) offloaders: DashMap<Uri, (i32, u64, &'static str)>,
    /// Changes when what the offloader depends on besides the document does (settings, dependencies).
    pub(super) offload_epoch: AtomicU64,
    /// The workspace's files and their parses as quick fixes across the workspace read them (`fix_files`).
    pub(super) fix_files: super::fix_files::FixFiles,
    /// The `didChange` notifications framed by the transport's guard and not handled yet (see
    /// `input::Framed`).
    pub(super) framed: Arc<super::input::Framed>,
}

#[derive(Clone)]
pub struct Backend {
    pub(super) client: Client,
    pub(super) state: Arc<State>,
}

impl State {
    pub(super) fn new(framed: Arc<super::input::Framed>) -> State {
        let config = Config {
            settings: Settings::default(),
            catalog: Arc::new(Catalog::bundled().clone()),
            baseline: None,
            runtime: None,
        };
        State {
            documents: DashMap::new(),
            index: DashMap::new(),
            index_stamps: DashMap::new(),
            index_clock: AtomicU64::new(0),
            roots: RwLock::new(Vec::new()),
            config: RwLock::new(Arc::new(config)),
            caps: OnceLock::new(),
            linked: Mutex::new(None),
            client_table: RwLock::new(None),
            closed_findings: DashMap::new(),
            anyio: Mutex::new(None),
            http_module: Mutex::new(None),
            work: Mutex::new(scheduler::Work::default()),
            published: tokio::sync::Notify::new(),
            config_generation: AtomicU64::new(0),
            index_state: AtomicU8::new(INDEX_NOT_STARTED),
            sent: DashMap::new(),
            watcher: Mutex::new(None),
            offloaders: DashMap::new(),
            offload_epoch: AtomicU64::new(0),
            fix_files: Default::default(),
            framed,
        }
    }

    pub(super) fn caps(&self) -> Caps {
        self.caps.get().copied().unwrap_or(Caps {
            encoding: Encoding::Utf16,
            pull: false,
            refresh: false,
            progress: false,
            document_changes: false,
            disabled_actions: false,
            diagnostics_in_hover: false,
            client_watches: false,
        })
    }

    pub(super) fn config(&self) -> Arc<Config> {
        self.config.read().expect("config lock").clone()
    }

    /// Analyses a document's one edit inside a function alone (see `analysis::reanalyze_edit`). Returns
    /// the new analysis when that worked (the document's facts are then the new text's); `None` when the
    /// whole file must be analysed.
    pub(super) fn analyse_edit(&self, doc: &mut Document, uri: &Uri, edit: &LineEdit) -> Option<Arc<FileAnalysis>> {
        let config = self.config();
        let mut facts = doc.facts.take()?;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let r =
                analysis::reanalyze_edit(&mut facts, &doc.analysis, &doc.text, edit, &config.catalog, &config.settings);
            (r, facts)
        }));
        match result {
            Ok((Ok(a), facts)) => {
                doc.facts = Some(facts);
                Some(Arc::new(a))
            }
            Ok((Err(why), _)) => {
                tracing::trace!("edit of {} analysed with the whole file: {why:?}", uri.as_str());
                None
            }
            Err(_) => {
                tracing::error!("the analysis of an edit of {} panicked; analysing the whole file", uri.as_str());
                None
            }
        }
    }

    /// Analyses a document's current text (its tree must be current); `None` (logged) when the
    /// analysis panicked.
    pub(super) fn analyse(&self, d: &Document, uri: &Uri) -> Option<(Facts, FileAnalysis)> {
        let config = self.config();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match &d.tree {
            Some(tree) => analysis::analyze_document(&d.text, tree, d.blanked, &config.catalog, &config.settings),
            None => (Facts::default(), FileAnalysis::default()),
        }));
        match &result {
            Err(_) => tracing::error!("the analysis of {} panicked; keeping its last diagnostics", uri.as_str()),
            // Where a depth bound cut the analysis off, say so once (when the cuts change).
            Ok((_, r)) if r.cuts != d.analysis.cuts => {
                r.cuts.iter().for_each(|c| tracing::warn!("{} (byte {}): {}", uri.as_str(), c.offset, c.message));
            }
            Ok(_) => {}
        }
        result.ok()
    }
}

impl Backend {
    pub(super) fn new(client: Client, framed: Arc<super::input::Framed>) -> Backend {
        Backend { client, state: Arc::new(State::new(framed)) }
    }
}
