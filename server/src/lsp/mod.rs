//! `loopsafe server`: the language server. The only module that knows LSP types.
//!
//! Concurrency rules (tower-lsp runs up to four handlers at once, notifications included):
//! - every document mutation (`didOpen`, `didChange`, `didClose`) happens before the handler's first
//!   `.await`, so edits apply in the order they arrive;
//! - no dashmap guard is held across an `.await` (values are cloned out first);
//! - no handler awaits a request to the client: refreshes are spawned with a timeout;
//! - nothing slow runs on the async thread: whole-file analyses, code actions, linking, reading files
//!   and sending diagnostics happen on blocking threads or in spawned tasks (`scheduler`), so that a
//!   handler returns at once and hovers are answered while a large document is analysed.

mod code_action;
pub mod document;
pub mod framing;
mod input;
pub mod log;
mod runtime; // runtime3: the `runtime` setting
mod scheduler;
mod stdio;
mod timing;
mod watch;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use dashmap::DashMap;
use rayon::prelude::*;
use tower_lsp_server::jsonrpc::{self, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer, LspService};

use crate::analysis::facts::Facts;
use crate::analysis::shift::LineEdit;
use crate::analysis::{self, FileAnalysis, Finding};
use crate::catalog::Catalog;
use crate::check::{self, CheckOptions, Source};
use crate::project::{ChainFinding, Links, Project, ProjectFile};
use crate::rules::{Tier, doc_url};
use crate::settings::Settings;
use document::{Applied, Document, Encoding, Published, position};
use scheduler::CancelOnDrop;

pub use document::Encoding as PositionEncoding;
pub use input::Ended;

/// How long a spawned request to the client may take before it is abandoned.
const CLIENT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a hover waits for a document just opened to get its first diagnostics.
const HOVER_WAIT: Duration = Duration::from_secs(2);
/// How long a `textDocument/diagnostic` request waits for the analysis of the document's current
/// version before it is answered `ServerCancelled` (with `retriggerRequest`).
const PULL_WAIT: Duration = Duration::from_secs(2);
/// How long `source.fixAll` waits for the current version's chain findings.
const FIX_ALL_WAIT: Duration = Duration::from_secs(10);
/// How long a `textDocument/diagnostic` request waits for the first index of the workspace (and the
/// diagnostics computed with it) before it is answered `ServerCancelled` with `retriggerRequest`.
const INDEX_WAIT: Duration = Duration::from_secs(10);

/// `State::index_state`: the client has not sent `initialized` (nothing to wait for).
const INDEX_NOT_STARTED: u8 = 0;
/// The first index of the workspace is being built.
const INDEX_RUNNING: u8 = 1;
/// The first index is built and a refresh of every open document is queued.
pub(crate) const INDEX_BUILT: u8 = 2;
/// A refresher pass that started after the first index has recomputed every open document.
pub(crate) const INDEX_READY: u8 = 3;

#[derive(Clone, Copy, Debug)]
struct Caps {
    encoding: Encoding,
    pull: bool,
    refresh: bool,
    /// The client shows `$/progress` work-done progress.
    progress: bool,
    /// The client applies versioned `documentChanges` in workspace edits.
    document_changes: bool,
    /// The client shows disabled code actions (with the reason a fix is not offered).
    disabled_actions: bool,
    /// The client shows a diagnostic's message and related locations in the hover itself (VS Code, as
    /// loopsafe's extension declares): loopsafe's hover then adds only the route and the advice.
    diagnostics_in_hover: bool,
    /// The client watches files for the server (dynamic registration of `didChangeWatchedFiles`): it
    /// gets the registration (the server watches its workspace folders itself anyway, `watch`).
    client_watches: bool,
}

struct Config {
    settings: Settings,
    catalog: Arc<Catalog>,
    /// The baseline `settings.baseline` names, read with the settings: findings it holds are shown at
    /// hint severity or hidden.
    baseline: Option<Arc<crate::baseline::Known>>,
    /// runtime3: the recording `settings.runtime` names, read with the settings (`runtime`).
    runtime: Option<Arc<runtime::Recorded>>,
}

/// The linked project, rebuilt only when a summary changes shape; a change of positions only swaps the
/// file's analysis in place.
struct Linked {
    project: Project,
    links: Links,
}

struct State {
    documents: DashMap<Uri, Document>,
    /// Every workspace file's analysis: open ones from their buffer, closed ones from disk.
    index: DashMap<PathBuf, Arc<FileAnalysis>>,
    /// When each index entry was last written by the refresher (a tick of `index_clock`): background
    /// indexing leaves alone an entry written after it started (its read of the file is older).
    index_stamps: DashMap<PathBuf, u64>,
    index_clock: AtomicU64,
    roots: RwLock<Vec<PathBuf>>,
    config: RwLock<Arc<Config>>,
    caps: OnceLock<Caps>,
    linked: Mutex<Option<Linked>>,
    /// The client's settings (the keys of `[tool.loopsafe]`), laid over the project's.
    client_table: RwLock<Option<toml::Table>>,
    /// A closed file's own findings in LSP positions, for the analysis they were converted from.
    closed_findings: DashMap<PathBuf, (Arc<FileAnalysis>, Vec<Diagnostic>)>,
    /// Whether the project depends on anyio (code actions may then offload with it), read from its
    /// `pyproject.toml` and `requirements*.txt` once, and again after the watcher reports a change.
    anyio: Mutex<Option<bool>>,
    /// What the refresher has to do (see `scheduler`).
    work: Mutex<scheduler::Work>,
    /// Notified whenever documents' published diagnostics (or a failed analysis) were recorded.
    published: tokio::sync::Notify,
    /// Counts configuration changes: the settings read off the async thread apply only if no later
    /// change came meanwhile.
    config_generation: AtomicU64,
    /// Where the first index of the workspace is (`INDEX_*`): a document pull waits for it, since a
    /// report computed before it lacks the chains through files not indexed yet, and Neovim applies no
    /// later report for that document until it pulls it again.
    index_state: AtomicU8,
    /// The report each open document's client holds, as last sent in a document pull (its own report
    /// or a related document's), to send with later pulls the reports that other files changed.
    sent: DashMap<Uri, (Arc<Published>, String)>,
    /// The server's own watch over the workspace (see `watch`).
    watcher: Mutex<Option<watch::DiskWatcher>>,
    /// The offloader each open document's fixes write (`Backend::offload_name`), for the version it was
    /// read at and the `offload_epoch` then: a hover on another document than the one being typed in
    /// names it without parsing anything.
    offloaders: DashMap<Uri, (i32, u64, &'static str)>,
    /// Changes when what the offloader depends on besides the document does (settings, dependencies).
    offload_epoch: AtomicU64,
}

#[derive(Clone)]
pub struct Backend {
    client: Client,
    state: Arc<State>,
}

/// Serves LSP on stdin/stdout until `exit` or the end of input.
pub async fn serve_stdio() -> Ended {
    let (input, output) = stdio::open();
    serve(input, output).await
}

/// Serves LSP over any pair of streams (stdio, or a duplex in tests) until `exit` or the end of input.
/// Any byte sequence is survived: see `input` and `framing`.
pub async fn serve<R, W>(input: R, output: W) -> Ended
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
    W: tokio::io::AsyncWrite + Unpin,
{
    // `$/setTrace` is a notification tower-lsp-server would otherwise drop as an unknown `$/` method.
    let (service, socket) = LspService::build(Backend::new).custom_method("$/setTrace", Backend::set_trace).finish();
    input::run(service, socket, input, output).await
}

/// How the client's `trace` setting changes the server's logging, installed by the binary (the library
/// does not own the process's log subscriber). It gets the least level to log at (`"info"` for
/// `messages`, `"debug"` for `verbose`), or `None` to go back to the `--log-level` the server started with.
type LogControl = Box<dyn Fn(Option<&'static str>) + Send + Sync>;
static LOG_CONTROL: OnceLock<LogControl> = OnceLock::new();

/// Lets the client's `trace` setting (`initialize` and `$/setTrace`) raise the log level.
pub fn set_log_control(f: impl Fn(Option<&'static str>) + Send + Sync + 'static) {
    let _ = LOG_CONTROL.set(Box::new(f));
}

fn apply_trace(value: TraceValue) {
    let level = match value {
        TraceValue::Off => None,
        TraceValue::Messages => Some("info"),
        TraceValue::Verbose => Some("debug"),
    };
    if let Some(control) = LOG_CONTROL.get() {
        control(level);
    }
    tracing::info!("trace set to {value:?}");
}

impl Backend {
    async fn set_trace(&self, params: SetTraceParams) {
        apply_trace(params.value);
    }

    /// Files changed on disk (reported by the client's watcher or the server's): the index reads the
    /// Python files again (on the refresher's thread), the configuration and declared dependencies are
    /// read again. An open document's buffer wins over the disk.
    fn disk_changed(&self, changed: Vec<PathBuf>) {
        let mut config_changed = false;
        let mut paths = Vec::new();
        for path in changed {
            // runtime3: the recording in force was rewritten: read it again, diagnostics recomputed.
            if runtime::watches(self.state.config().runtime.as_deref(), &path) {
                self.reload_runtime();
                continue;
            }
            let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
            if name == "pyproject.toml" || name.starts_with("requirements") && name.ends_with(".txt") {
                // Declared dependencies: read again when a code action next needs them.
                *self.state.anyio.lock().expect("anyio lock") = None;
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
    async fn watch_workspace(&self) {
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

    fn new(client: Client) -> Backend {
        Backend { client, state: Arc::new(State::new()) }
    }
}

impl State {
    fn new() -> State {
        let config = Config {
            settings: Settings::default(),
            catalog: Arc::new(Catalog::bundled().clone()),
            baseline: None,
            runtime: None,
        }; // runtime3
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
            work: Mutex::new(scheduler::Work::default()),
            published: tokio::sync::Notify::new(),
            config_generation: AtomicU64::new(0),
            index_state: AtomicU8::new(INDEX_NOT_STARTED),
            sent: DashMap::new(),
            watcher: Mutex::new(None),
            offloaders: DashMap::new(),
            offload_epoch: AtomicU64::new(0),
        }
    }

    fn caps(&self) -> Caps {
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

    fn config(&self) -> Arc<Config> {
        self.config.read().expect("config lock").clone()
    }

    /// Analyses a document's one edit inside a function alone (see `analysis::reanalyze_edit`). Returns
    /// the new analysis when that worked (the document's facts are then the new text's); `None` when the
    /// whole file must be analysed.
    fn analyse_edit(&self, doc: &mut Document, uri: &Uri, edit: &LineEdit) -> Option<Arc<FileAnalysis>> {
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

    /// Records an open document's new analysis in the index (see `update_index`).
    fn index_open(&self, uri: &Uri, analysis: Arc<FileAnalysis>) -> bool {
        uri.to_file_path().is_some_and(|p| self.update_index(p.into_owned(), analysis))
    }

    /// Analyses a document's current text (its tree must be current); `None` (logged) when the
    /// analysis panicked.
    fn analyse(&self, d: &Document, uri: &Uri) -> Option<(Facts, FileAnalysis)> {
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

    /// Records a file's new analysis. Returns whether its summary changed shape, which changes what the
    /// linker computes (and so possibly other files' diagnostics); a change of positions only is swapped
    /// into the linked project in place.
    fn update_index(&self, path: PathBuf, analysis: Arc<FileAnalysis>) -> bool {
        self.stamp(&path);
        let old = self.index.insert(path.clone(), analysis.clone());
        if old.as_ref().is_some_and(|o| o.summary == analysis.summary) {
            return false;
        }
        let mut guard = self.linked.lock().expect("linked lock");
        if old.is_some()
            && let Some(linked) = guard.as_mut()
            && let Some(i) = linked.project.file_index(&path)
        {
            if linked.project.replace_same_shape(i, analysis.clone()) {
                return false;
            }
            // Its calls or blocking calls changed, not the names other files resolve against: relink
            // this file's calls and recompute the chains, without building the project again.
            let settings = &self.config().settings;
            let Linked { project, links } = linked;
            if project.replace_same_names(i, analysis, links, settings) {
                return true;
            }
        }
        *guard = None;
        true
    }

    /// Marks an index entry as written now, before it is written (see `index_workspace`).
    fn stamp(&self, path: &Path) {
        let tick = self.index_clock.fetch_add(1, Ordering::SeqCst) + 1;
        self.index_stamps.insert(path.to_path_buf(), tick);
    }

    /// Runs `f` on the linked project, linking it first if needed. The lock is held only while `f` runs
    /// (never across an `.await`).
    fn with_linked<T>(&self, f: impl FnOnce(&Linked) -> T) -> T {
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
            );
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

    /// Hover on the name of a sync function that blocks: which blocking call it reaches, and how (from
    /// the published chains).
    fn function_hover(&self, pos: Position, published: &Published) -> Option<Hover> {
        let enc = self.caps().encoding;
        let rope = &published.rope;
        let offset = document::offset(rope, pos, enc);
        let (range, qualname, text) =
            published.blocking.iter().find(|(r, _, _)| r.start <= offset && offset <= r.end)?;
        let start = document::position(rope, range.start, enc);
        let end = document::position(rope, range.end, enc);
        Some(Hover {
            contents: HoverContents::Markup(MarkupContent {
                kind: MarkupKind::Markdown,
                value: format!("**`{qualname}` blocks the event loop** when a coroutine calls it:\n\n{text}"),
            }),
            range: Some(Range { start, end }),
        })
    }

    /// The settings in force: the workspace root's `[tool.loopsafe]`, with the client's keys (from
    /// `initializationOptions` or `didChangeConfiguration`) laid over it key by key, so that an editor
    /// setting overrides one key without hiding the rest of the project's configuration.
    fn effective_settings(&self) -> std::result::Result<Settings, String> {
        let root = self.roots.read().expect("roots lock").first().cloned();
        let (mut table, ctx, dir) = match &root {
            Some(root) => crate::config::discover_table_dir(root)?,
            None => (toml::Table::new(), String::new(), None),
        };
        Settings::from_table(&table, &ctx)?;
        let client = self.client_table.read().expect("client settings lock").clone();
        if let Some(client) = client {
            table.extend(client);
        }
        let mut settings = Settings::from_table(&table, "settings:")?;
        // `per-file-ignores` globs are relative to the configuration file (else the workspace root).
        settings.config_dir = dir.or(root);
        Ok(settings)
    }

    /// The baseline the settings name (relative to the configuration file's directory, else to the
    /// workspace root), read on a blocking thread with them. One that cannot be read is logged, and no
    /// finding is lowered.
    fn load_baseline(&self, settings: &Settings) -> Option<Arc<crate::baseline::Known>> {
        let file = settings.baseline.as_ref()?;
        let root = self.roots.read().expect("roots lock").first().cloned()?;
        let dir = crate::config::discover(&root)
            .ok()
            .and_then(|l| l.root().map(Path::to_path_buf))
            .unwrap_or_else(|| root.clone());
        let project_root = crate::check::project_root(&root).unwrap_or(root);
        match crate::baseline::Known::load(&dir.join(file), project_root) {
            Ok(known) => Some(Arc::new(known)),
            Err(e) => {
                tracing::warn!("not using the baseline: {e}");
                None
            }
        }
    }

    /// Reports for `workspace/diagnostic`: every open document, and every closed file with findings
    /// (its text is read from disk to place them).
    ///
    /// `previous` maps a URI to the result id the client holds: a report that has not changed since is
    /// sent as `unchanged`, and a file the client holds diagnostics for that has none now gets an empty
    /// report. Clients ask again every few seconds, so the findings of a closed file are converted to
    /// LSP positions (which needs its text, from disk) once per analysis, then kept.
    fn workspace_reports(&self, previous: &HashMap<String, String>) -> Vec<WorkspaceDocumentDiagnosticReport> {
        let caps = self.caps();
        let config = self.config();
        let mut items = Vec::new();
        let mut report = |uri: Uri, version: Option<i64>, diags: Vec<Diagnostic>| {
            let id = result_id(&diags);
            if previous.get(uri.as_str()) == Some(&id) {
                items.push(WorkspaceDocumentDiagnosticReport::Unchanged(WorkspaceUnchangedDocumentDiagnosticReport {
                    uri,
                    version,
                    unchanged_document_diagnostic_report: UnchangedDocumentDiagnosticReport { result_id: id },
                }));
            } else if !diags.is_empty() || previous.contains_key(uri.as_str()) {
                items.push(full_report(uri, version, Some(id), diags));
            }
        };
        // Open documents: their latest analysis, with the version it describes.
        let open: Vec<Uri> = self.documents.iter().map(|e| e.key().clone()).collect();
        for uri in &open {
            if let Some(p) = self.latest_published(uri) {
                report(uri.clone(), Some(p.version as i64), p.diagnostics.clone());
            }
        }
        let closed: Vec<(PathBuf, Arc<FileAnalysis>)> = self
            .index
            .iter()
            .filter(|e| Uri::from_file_path(e.key()).is_none_or(|u| !self.documents.contains_key(&u)))
            .map(|e| (e.key().clone(), e.value().clone()))
            .collect();
        self.closed_findings.retain(|path, _| self.index.contains_key(path));
        self.with_linked(|linked| {
            let project = &linked.project;
            for (path, analysis) in closed {
                let off = config.settings.ignored_in(&path);
                let mut chains = match project.file_index(&path) {
                    Some(file) => project.findings(&linked.links, Some(file), &config.settings),
                    None => Vec::new(),
                };
                chains.retain(|c| !off.iter().any(|s| s.matches(c.rule)));
                let Some(uri) = Uri::from_file_path(&path) else { continue };
                if analysis.findings.is_empty() && chains.is_empty() {
                    report(uri, None, Vec::new());
                    continue;
                }
                let cached =
                    self.closed_findings.get(&path).filter(|c| Arc::ptr_eq(&c.0, &analysis)).map(|c| c.1.clone());
                let mut hashes: Vec<String> = match &config.baseline {
                    Some(known) => analysis
                        .findings
                        .iter()
                        .filter(|f| !off.iter().any(|s| s.matches(f.rule)))
                        .map(|f| {
                            let hops = f.chain.iter().map(|h| h.name.as_str());
                            known.hash(&path, f.rule, f.function.as_deref(), f.callee.as_deref(), hops)
                        })
                        .collect(),
                    None => Vec::new(),
                };
                let mut diags = match cached {
                    Some(d) => d,
                    None => {
                        let Ok(text) = scheduler::read_regular(&path) else { continue };
                        let rope = ropey::Rope::from_str(&text);
                        let d: Vec<Diagnostic> = analysis
                            .findings
                            .iter()
                            .filter(|f| !off.iter().any(|s| s.matches(f.rule)))
                            .map(|f| finding_to_lsp(f, &rope, caps.encoding, 0))
                            .collect();
                        self.closed_findings.insert(path.clone(), (analysis.clone(), d.clone()));
                        d
                    }
                };
                let mut uris = HashMap::new();
                diags.extend(chains.iter().map(|c| chain_to_lsp(c, project.files(), caps.encoding, 0, &mut uris)));
                let diags = match &config.baseline {
                    Some(known) => {
                        hashes.extend(chains.iter().map(|c| chain_hash(known, &path, c)));
                        let mut items: Vec<(Diagnostic, (), String)> =
                            diags.into_iter().zip(hashes).map(|(d, h)| (d, (), h)).collect();
                        items.sort_by_key(|(d, _, _)| (d.range.start, d.range.end));
                        apply_baseline(&mut items, known, config.settings.hide_baselined);
                        items.into_iter().map(|(d, _, _)| d).collect()
                    }
                    None => {
                        diags.sort_by_key(|d| (d.range.start, d.range.end));
                        diags
                    }
                };
                report(uri, None, diags);
            }
        });
        items
    }

    /// The reports of the open documents other than `uri` whose client does not hold them yet (see
    /// `sent`): only reports of a document's current version (a pull report has no version), and only
    /// for documents the client pulled before (the others it pulls anyway). Cheap: a report whose
    /// published diagnostics are the ones last sent is skipped without hashing it.
    fn related_reports(&self, uri: &Uri) -> HashMap<Uri, DocumentDiagnosticReportKind> {
        let current: Vec<(Uri, Arc<Published>)> = self
            .documents
            .iter()
            .filter(|e| e.key() != uri)
            .filter_map(|e| {
                let p = e.value().published.clone()?;
                (p.version == e.value().version).then(|| (e.key().clone(), p))
            })
            .collect();
        let mut related = HashMap::new();
        for (other, p) in current {
            let Some(mut sent) = self.sent.get_mut(&other) else { continue };
            if Arc::ptr_eq(&sent.0, &p) {
                continue;
            }
            let id = result_id(&p.diagnostics);
            let changed = sent.1 != id;
            *sent = (p.clone(), id.clone());
            drop(sent);
            if changed {
                related.insert(
                    other,
                    DocumentDiagnosticReportKind::Full(FullDocumentDiagnosticReport {
                        result_id: Some(id),
                        items: p.diagnostics.clone(),
                    }),
                );
            }
        }
        self.sent.retain(|u, _| self.documents.contains_key(u));
        related
    }

    /// Indexes every Python file of the workspace roots that is not open (open ones are analysed from
    /// their buffers).
    fn index_workspace(&self) -> usize {
        let read = self.read_workspace();
        self.commit_index(read)
    }

    /// The first half of `index_workspace`: every workspace file read and analysed, with the tick of
    /// the index clock when the reading started.
    fn read_workspace(&self) -> (u64, Vec<(PathBuf, FileAnalysis)>) {
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
            .filter_map(|p| match check::read_source(p) {
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
            })
            .collect();
        (started, analysed)
    }

    /// The second half of `index_workspace`: what it read goes into the index, except over an open
    /// document or an entry the refresher wrote since the reading started.
    fn commit_index(&self, (started, analysed): (u64, Vec<(PathBuf, FileAnalysis)>)) -> usize {
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
    async fn index_ready(&self, limit: Duration) -> bool {
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

    /// The offloader the offload fix writes in a document (see `FileContext::offload_name`), read off
    /// its imports on an interactive thread once per version (then kept in `offloaders`); `None` when
    /// it is not open or cannot be parsed.
    async fn offload_name(&self, uri: &Uri) -> Option<&'static str> {
        let epoch = self.state.offload_epoch.load(Ordering::SeqCst);
        let (rope, tree, stale, version) = {
            let d = self.state.documents.get(uri)?;
            let known = self.state.offloaders.get(uri).filter(|k| k.0 == d.version && k.1 == epoch).map(|k| k.2);
            if known.is_some() {
                return known;
            }
            (d.rope.clone(), d.tree.clone(), d.stale, d.version)
        };
        let state = self.state.clone();
        // On the interactive threads: a hover must not queue behind analyses in the blocking pool.
        let name = scheduler::interactive(move || {
            let text = rope.to_string();
            let tree = match tree {
                Some(t) if !stale => t,
                t => crate::syntax::parse(&text, t.as_ref())?,
            };
            let config = state.config();
            let anyio = state.anyio.lock().expect("anyio lock").unwrap_or(false);
            let options = crate::fix::Options::new(&config.settings, anyio);
            Some(crate::fix::FileContext::new(&text, &tree, &config.catalog, &options).offload_name())
        })
        .await
        .flatten()?;
        if self.state.documents.contains_key(uri) {
            self.state.offloaders.insert(uri.clone(), (version, epoch, name));
        }
        Some(name)
    }

    /// Re-indexes the closed files off the async threads, then refreshes every open document.
    fn reindex_in_background(&self) {
        let backend = self.clone();
        tokio::spawn(async move {
            let worker = backend.state.clone();
            let _ = tokio::task::spawn_blocking(move || worker.index_workspace()).await;
            backend.refresh_all();
        });
    }

    /// After a change that may affect other files: every open document's diagnostics are computed again
    /// and pushed, or a pull client is asked to refresh (by the refresher, off the handler).
    fn refresh_all(&self) {
        self.queue(|w| w.all = true);
    }

    /// Reads the settings again (the project's `pyproject.toml` with the client's keys over it) off the
    /// async thread, and applies them unless a later change came meanwhile. A bad configuration is
    /// shown and the last good one stays in force.
    fn reconfigure(&self) {
        let generation = self.state.config_generation.fetch_add(1, Ordering::SeqCst) + 1;
        let backend = self.clone();
        tokio::spawn(async move {
            let state = backend.state.clone();
            let settings = tokio::task::spawn_blocking(move || {
                state.effective_settings().map(|s| {
                    let baseline = state.load_baseline(&s);
                    let runtime = state.load_runtime(&s); // runtime3
                    (s, baseline, runtime)
                })
            })
            .await;
            if backend.state.config_generation.load(Ordering::SeqCst) != generation {
                return;
            }
            match settings {
                Ok(Ok(settings)) => backend.apply_settings(settings),
                Ok(Err(e)) => {
                    let message = format!("loopsafe: {e}; the previous settings stay in force");
                    backend.client.show_message(MessageType::ERROR, message).await;
                }
                Err(e) => tracing::error!("reading the settings failed: {e}"),
            }
        });
    }

    /// Puts new settings in force: open documents are analysed again (off the async thread) and closed
    /// files re-indexed in the background.
    #[allow(clippy::type_complexity)] // runtime3
    fn apply_settings(
        &self,
        (settings, baseline, runtime): (Settings, Option<Arc<crate::baseline::Known>>, Option<Arc<runtime::Recorded>>),
    ) {
        let catalog = Arc::new(Catalog::bundled().extended(&settings.extend_blocking_calls));
        self.warn_runtime(self.state.config().runtime.as_deref(), runtime.as_deref()); // runtime3
        *self.state.config.write().expect("config lock") = Arc::new(Config { settings, catalog, baseline, runtime });
        self.state.offload_epoch.fetch_add(1, Ordering::SeqCst);
        let uris: Vec<Uri> = self.state.documents.iter().map(|e| e.key().clone()).collect();
        for uri in &uris {
            self.schedule(uri, true);
        }
        self.reindex_in_background();
    }
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let general = params.capabilities.general.as_ref();
        let offered = general.and_then(|g| g.position_encodings.clone()).unwrap_or_default();
        let encoding = if offered.contains(&PositionEncodingKind::UTF8) {
            Encoding::Utf8
        } else if offered.contains(&PositionEncodingKind::UTF32) && !offered.contains(&PositionEncodingKind::UTF16) {
            Encoding::Utf32
        } else {
            Encoding::Utf16
        };
        let text_caps = params.capabilities.text_document.as_ref();
        let pull = text_caps.and_then(|t| t.diagnostic.as_ref()).is_some();
        let workspace_caps = params.capabilities.workspace.as_ref();
        // Helix (25.07) handles `workspace/diagnostic/refresh` but declares it as
        // `workspace.diagnostic.refreshSupport` (the specification says `diagnostics`), which the typed
        // capabilities drop: without the refresh, a finding that changed because a closed module changed
        // on disk would never reach it.
        let helix = params.client_info.as_ref().is_some_and(|c| c.name == "helix");
        let refresh = helix
            || workspace_caps.and_then(|w| w.diagnostics.as_ref()).and_then(|d| d.refresh_support).unwrap_or(false);
        let progress = params.capabilities.window.as_ref().and_then(|w| w.work_done_progress).unwrap_or(false);
        let document_changes =
            workspace_caps.and_then(|w| w.workspace_edit.as_ref()).and_then(|e| e.document_changes).unwrap_or(false);
        let disabled_actions =
            text_caps.and_then(|t| t.code_action.as_ref()).and_then(|c| c.disabled_support).unwrap_or(false);
        let diagnostics_in_hover = params
            .capabilities
            .experimental
            .as_ref()
            .and_then(|e| e.pointer("/loopsafe/diagnosticsInHover"))
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        // Neovim answers `workspace/diagnostic/refresh` with a workspace pull when the server offers one,
        // and never applies its reports to the buffers it pulls one by one: a finding that changed because
        // another file changed on disk would stay stale in the open buffer. Without workspace pulls, it
        // answers a refresh by pulling each open buffer again.
        let neovim = params.client_info.as_ref().is_some_and(|c| c.name == "Neovim");
        let workspace_diagnostics = !neovim;
        let client_watches = workspace_caps
            .and_then(|w| w.did_change_watched_files.as_ref())
            .and_then(|d| d.dynamic_registration)
            .unwrap_or(false);
        let _ = self.state.caps.set(Caps {
            encoding,
            pull,
            refresh,
            progress,
            document_changes,
            disabled_actions,
            diagnostics_in_hover,
            client_watches,
        });
        if let Some(trace) = params.trace {
            apply_trace(trace);
        }

        let mut roots: Vec<PathBuf> = params
            .workspace_folders
            .unwrap_or_default()
            .iter()
            .filter_map(|f| f.uri.to_file_path().map(|p| p.into_owned()))
            .collect();
        #[allow(deprecated)]
        if roots.is_empty()
            && let Some(p) = params.root_uri.as_ref().and_then(|u| u.to_file_path())
        {
            roots.push(p.into_owned());
        }
        let roots: Vec<PathBuf> = roots.into_iter().map(|r| std::fs::canonicalize(&r).unwrap_or(r)).collect();

        // Settings: initializationOptions (the keys of [tool.loopsafe]) over the root's pyproject.toml.
        *self.state.roots.write().expect("roots lock") = roots;
        match client_table(params.initialization_options.unwrap_or_default(), "initializationOptions:") {
            Ok(t) => *self.state.client_table.write().expect("client settings lock") = t,
            Err(e) => self.client.show_message(MessageType::ERROR, format!("loopsafe: {e}")).await,
        }
        // Reading pyproject.toml: on a blocking thread (it could be anything, even a FIFO).
        let state = self.state.clone();
        let read = tokio::task::spawn_blocking(move || {
            state.effective_settings().map(|s| {
                let baseline = state.load_baseline(&s);
                let runtime = state.load_runtime(&s); // runtime3
                (s, baseline, runtime)
            })
        })
        .await;
        let (settings, baseline, runtime) = match read.unwrap_or_else(|e| Err(e.to_string())) {
            Ok(s) => s,
            Err(e) => {
                self.client.show_message(MessageType::ERROR, format!("loopsafe: {e}")).await;
                (Settings::default(), None, None)
            }
        };
        let catalog = Arc::new(Catalog::bundled().extended(&settings.extend_blocking_calls));
        self.warn_runtime(None, runtime.as_deref()); // runtime3
        *self.state.config.write().expect("config lock") = Arc::new(Config { settings, catalog, baseline, runtime }); // runtime3: `runtime`

        let position_encoding = Some(match encoding {
            Encoding::Utf8 => PositionEncodingKind::UTF8,
            Encoding::Utf16 => PositionEncodingKind::UTF16,
            Encoding::Utf32 => PositionEncodingKind::UTF32,
        });
        Ok(InitializeResult {
            capabilities: ServerCapabilities {
                position_encoding,
                text_document_sync: Some(TextDocumentSyncCapability::Options(TextDocumentSyncOptions {
                    open_close: Some(true),
                    change: Some(TextDocumentSyncKind::INCREMENTAL),
                    ..Default::default()
                })),
                hover_provider: Some(HoverProviderCapability::Simple(true)),
                code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
                    code_action_kinds: Some(code_action::kinds()),
                    work_done_progress_options: Default::default(),
                    resolve_provider: Some(false),
                })),
                diagnostic_provider: pull.then(|| {
                    DiagnosticServerCapabilities::Options(DiagnosticOptions {
                        identifier: Some("loopsafe".into()),
                        inter_file_dependencies: true,
                        workspace_diagnostics,
                        work_done_progress_options: Default::default(),
                    })
                }),
                ..Default::default()
            },
            server_info: Some(ServerInfo { name: "loopsafe".into(), version: Some(env!("CARGO_PKG_VERSION").into()) }),
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        // From now on logs go to the client (tower-lsp drops messages sent before `initialized`).
        log::connect(self.client.clone());
        self.state.index_state.store(INDEX_RUNNING, Ordering::SeqCst);
        let state = self.state.clone();
        let client = self.client.clone();
        // Index in the background: handlers keep serving meanwhile. Progress is reported when the
        // client shows it; creating the token is a request to the client, so it too is in the task.
        tokio::spawn(async move {
            // The server's own watch starts before the index reads the files, so that no change made
            // meanwhile is missed (the newer read wins: `index_stamps`). It runs whatever the client
            // declares: Helix declares dynamic registration of `didChangeWatchedFiles` but reports only
            // the files it writes itself, not those another program changes.
            Backend { client: client.clone(), state: state.clone() }.watch_workspace().await;
            let started = std::time::Instant::now();
            let mut progress = None;
            if state.caps().progress {
                let token = ProgressToken::String("loopsafe/index".into());
                let created =
                    tokio::time::timeout(CLIENT_REQUEST_TIMEOUT, client.create_work_done_progress(token.clone())).await;
                if matches!(created, Ok(Ok(()))) {
                    let roots = state.roots.read().expect("roots lock").len();
                    progress = Some(
                        client
                            .progress(token, "loopsafe")
                            .with_message(format!("indexing {roots} workspace folder(s)"))
                            .begin()
                            .await,
                    );
                }
            }
            let worker = state.clone();
            let n = tokio::task::spawn_blocking(move || worker.index_workspace()).await.unwrap_or(0);
            let summary = format!("indexed {n} files in {:.2}s", started.elapsed().as_secs_f64());
            tracing::info!("{summary}");
            // Pulls wait until the refresh queued below has recomputed the open documents.
            state.index_state.store(INDEX_BUILT, Ordering::SeqCst);
            Backend { client: client.clone(), state: state.clone() }.refresh_all();
            if let Some(p) = progress {
                p.finish_with_message(summary).await;
            }
            // Changes on disk (another editor, git checkout) update the index: watched by the server
            // itself (above) and, where the client can watch files for the server, reported by it too
            // (a file read twice changes nothing the second time).
            if state.caps().client_watches {
                let watch = Registration {
                    id: "loopsafe-watch".into(),
                    method: "workspace/didChangeWatchedFiles".into(),
                    register_options: serde_json::to_value(DidChangeWatchedFilesRegistrationOptions {
                        watchers: ["**/*.py", "**/pyproject.toml", "**/requirements*.txt", "**/*baseline*.json"]
                            .into_iter()
                            .map(|g| FileSystemWatcher { glob_pattern: GlobPattern::String(g.into()), kind: None })
                            .collect(),
                    })
                    .ok(),
                };
                let registering = client.clone();
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(CLIENT_REQUEST_TIMEOUT, registering.register_capability(vec![watch]))
                        .await;
                });
            }
        });
    }

    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let doc = params.text_document;
        let uri = doc.uri.clone();
        // Versions start again at a reopen: what was read of the closed document does not hold.
        self.state.offloaders.remove(&uri);
        let mut document = Document::new(doc.text, doc.version);
        // A small document is analysed before it is stored: a request that follows at once sees its
        // findings. A large one is parsed and analysed off the async thread.
        let inline = document.text.len() <= scheduler::INLINE_OPEN_BYTES;
        if inline {
            document.reparse();
            match self.state.analyse(&document, &uri) {
                Some((facts, a)) => {
                    document.facts = Some(facts);
                    document.analysed_now(Arc::new(a));
                }
                None => {
                    document.analysed_now(Arc::default());
                    document.failed = Some(document.version);
                }
            }
        }
        if let Some(old) = self.state.documents.insert(uri.clone(), document)
            && let Some(job) = old.job
        {
            job.cancel.store(true, Ordering::Relaxed);
        }
        if inline {
            self.changed(uri);
        } else {
            self.schedule(&uri, false);
        }
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let uri = params.text_document.uri.clone();
        let version = params.text_document.version;
        let enc = self.state.caps().encoding;
        {
            let Some(mut doc) = self.state.documents.get_mut(&uri) else {
                tracing::warn!("didChange for a document that is not open: {}", uri.as_str());
                return;
            };
            if version <= doc.version {
                tracing::warn!(
                    "didChange for {} has version {version}, not after {}; ignored",
                    uri.as_str(),
                    doc.version
                );
                return;
            }
            // Applying the changes is cheap (rope, string, tree edits; no parse).
            let applied = doc.apply(&params.content_changes, enc);
            doc.version = version;
            match applied {
                Applied::Edit(edit) => {
                    // One edit: analysed with its function alone when it is inside one (sub-millisecond).
                    if let Some(a) = self.state.analyse_edit(&mut doc, &uri, &edit) {
                        doc.analysed_now(a);
                        drop(doc);
                        self.changed(uri);
                        return;
                    }
                }
                Applied::Trivia(edits) => {
                    // Typing inside a comment: the analysis only moves (no reparse, no re-analysis).
                    let mut moved = (*doc.analysis).clone();
                    for e in &edits {
                        analysis::shift::shift(&mut moved, e);
                        if let Some(facts) = doc.facts.as_mut() {
                            facts.moved(e.old_end, e.new_end);
                        }
                    }
                    doc.analysed_now(Arc::new(moved));
                    drop(doc);
                    self.changed(uri);
                    return;
                }
                Applied::Whole => {}
            }
        }
        // Anything else: the whole file, off the async thread; edits that arrive meanwhile coalesce.
        self.schedule(&uri, false);
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        let uri = params.text_document.uri;
        self.state.offloaders.remove(&uri);
        if let Some((_, doc)) = self.state.documents.remove(&uri)
            && let Some(job) = doc.job
        {
            job.cancel.store(true, Ordering::Relaxed);
        }
        // The closed file keeps only its analysis, from what is on disk (read by the refresher).
        let path = uri.to_file_path().map(|p| p.into_owned());
        self.queue(|w| {
            w.closed.insert(uri);
            w.disk.extend(path);
        });
    }

    /// Nothing to do: an open document is analysed from its buffer, which the file on disk now equals
    /// (no re-read), and the watcher's event for that file is ignored while it is open. `save` is not
    /// advertised (the server needs no saves), but clients may send it anyway.
    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        tracing::trace!("saved: {}", params.text_document.uri.as_str());
    }

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
        let paths = params.changes.iter().filter_map(|e| e.uri.to_file_path().map(|p| p.into_owned())).collect();
        self.disk_changed(paths);
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        // The same keys as [tool.loopsafe], under "loopsafe" or at the top level. Clients send null or
        // an empty object when they have nothing to say (Neovim does at start): that changes nothing.
        // An empty "loopsafe" section (`{}`, or `[]` from a Lua table) clears the client's settings.
        let value = match params.settings.get("loopsafe") {
            Some(v) => v.clone(),
            None if params.settings.as_object().is_some_and(|o| o.is_empty()) => return,
            None => params.settings,
        };
        if value.is_null() {
            return;
        }
        match client_table(value, "settings:") {
            Ok(table) => {
                *self.state.client_table.write().expect("client settings lock") = table;
                self.reconfigure();
            }
            Err(e) => {
                self.client
                    .show_message(MessageType::ERROR, format!("loopsafe: {e}; the previous settings stay in force"))
                    .await;
            }
        }
    }

    /// A pull report has no version: the client takes it for the document as it is when the answer
    /// arrives. So the request waits (bounded) for the analysis of the document's current version, and
    /// after `PULL_WAIT` is answered `ServerCancelled` with `retriggerRequest` (the client asks again),
    /// never with the diagnostics of an older text. Before that, it waits (at most `INDEX_WAIT`, then
    /// the same answer) for the first index of the workspace: a report without the chains through
    /// files not indexed yet would stay in clients that apply no later report until they pull again
    /// (Neovim answers a refresh with a workspace pull, whose reports it ignores for open documents).
    ///
    /// The report carries, as `relatedDocuments`, the new reports of other open documents that changed
    /// since their client last got them (an edit here changed the chains they report): Neovim, which
    /// pulls only the document edited, applies them.
    async fn diagnostic(&self, params: DocumentDiagnosticParams) -> Result<DocumentDiagnosticReportResult> {
        let uri = &params.text_document.uri;
        let cancelled = |message: &str| jsonrpc::Error {
            code: jsonrpc::ErrorCode::ServerError(-32802),
            message: message.to_string().into(),
            data: Some(serde_json::json!({ "retriggerRequest": true })),
        };
        if !self.state.documents.contains_key(uri) {
            return Ok(pull_report(&params, Vec::new(), None));
        }
        if !self.index_ready(INDEX_WAIT).await {
            return Err(cancelled("the workspace is still being indexed"));
        }
        let published = match self.published(uri, true, PULL_WAIT).await {
            Some(p) => p,
            None if !self.state.documents.contains_key(uri) => return Ok(pull_report(&params, Vec::new(), None)),
            None => return Err(cancelled("the document's analysis is still running")),
        };
        let items = published.diagnostics.clone();
        self.state.sent.insert(uri.clone(), (published, result_id(&items)));
        let related = self.state.related_reports(uri);
        Ok(pull_report(&params, items, (!related.is_empty()).then_some(related)))
    }

    async fn workspace_diagnostic(&self, params: WorkspaceDiagnosticParams) -> Result<WorkspaceDiagnosticReportResult> {
        let previous: HashMap<String, String> =
            params.previous_result_ids.into_iter().map(|p| (p.uri.as_str().to_string(), p.value)).collect();
        // Reading closed files from disk: off the async threads.
        let state = self.state.clone();
        let items = tokio::task::spawn_blocking(move || state.workspace_reports(&previous)).await.unwrap_or_default();
        Ok(WorkspaceDiagnosticReportResult::Report(WorkspaceDiagnosticReport { items }))
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let uri = params.text_document.uri.clone();
        // Editors ask on every move of the cursor, mostly where there is nothing of ours: answered at once.
        let ours = params.context.diagnostics.iter().any(|d| d.source.as_deref() == Some("loopsafe"));
        if !ours && !code_action::wants(&params.context.only, code_action::FIX_ALL) {
            return Ok(self.state.documents.contains_key(&uri).then(Vec::new));
        }
        // Fix-all takes chain findings from the published diagnostics: those of the current version.
        let chains = if code_action::wants(&params.context.only, code_action::FIX_ALL) {
            self.published(&uri, true, FIX_ALL_WAIT).await.map(|p| p.diagnostics.clone()).unwrap_or_default()
        } else {
            Vec::new()
        };
        let fix_all = code_action::wants(&params.context.only, code_action::FIX_ALL);
        let Some(snapshot) = self.state.documents.get(&uri).map(|d| code_action::Snapshot::of(&d)) else {
            return Ok(None);
        };
        // Quick fixes only for diagnostics of the current version: none, nothing to compute.
        if !fix_all && !code_action::any_current(&params.context.diagnostics, snapshot.version()) {
            return Ok(Some(Vec::new()));
        }
        // Rebuilt off the async thread; `$/cancelRequest` drops this future, which stops that work.
        // Quick fixes on threads of their own, fix-all (which may take long) in the blocking pool.
        let cancel = CancelOnDrop(Arc::new(AtomicBool::new(false)));
        let (state, flag) = (self.state.clone(), cancel.0.clone());
        let work = move || code_action::actions(&state, snapshot, chains, params, &flag);
        let actions = if fix_all {
            tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
                tracing::error!("code actions failed: {e}");
                None
            })
        } else {
            scheduler::interactive(work).await.flatten()
        };
        drop(cancel);
        Ok(actions)
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        let uri = params.text_document_position_params.text_document.uri;
        let pos = params.text_document_position_params.position;
        // The last published diagnostics: a hover never waits for an analysis in progress, only, briefly,
        // for the first diagnostics of a document just opened and analysed.
        let analysed = self.state.documents.get(&uri).is_some_and(|d| d.analysed.is_some());
        let wait = if analysed { HOVER_WAIT } else { Duration::ZERO };
        let Some(published) = self.published(&uri, false, wait).await else {
            return Ok(None);
        };
        let found = published
            .diagnostics
            .iter()
            .zip(&published.extras)
            .find(|(d, _)| d.range.start <= pos && pos <= d.range.end);
        if let Some((d, (route, instead))) = found {
            // The advice names the offloader the quick fix writes in this file (read off its imports).
            let offload = match instead {
                Some(i) if i.contains(DEFAULT_OFFLOADER) => self.offload_name(&uri).await,
                _ => None,
            };
            let root = self.state.roots.read().expect("roots lock").first().cloned();
            let instead = instead.as_deref().map(|i| match offload {
                Some(name) => i.replace(DEFAULT_OFFLOADER, name),
                None => i.to_string(),
            });
            let caps = self.state.caps();
            let value =
                hover_text(d, route.as_deref(), instead.as_deref(), root.as_deref(), !caps.diagnostics_in_hover);
            return Ok(Some(Hover {
                contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value }),
                range: Some(d.range),
            }));
        }
        Ok(self.state.function_hover(pos, &published))
    }
}

/// The client's settings as a table of `[tool.loopsafe]` keys, checked on their own so that an error
/// names the client's key. Null is no settings; an empty list (an empty Lua table) is an empty table.
fn client_table(value: serde_json::Value, ctx: &str) -> std::result::Result<Option<toml::Table>, String> {
    if value.is_null() {
        return Ok(None);
    }
    if value.as_array().is_some_and(|a| a.is_empty()) {
        return Ok(Some(toml::Table::new()));
    }
    let table = serde_json::from_value::<toml::Table>(value).map_err(|e| format!("{ctx} {e}"))?;
    Settings::from_table(&table, ctx)?;
    Ok(Some(table))
}

/// A document pull's answer: `unchanged` when the client holds the same report and no other document's
/// changed.
fn pull_report(
    params: &DocumentDiagnosticParams,
    items: Vec<Diagnostic>,
    related: Option<HashMap<Uri, DocumentDiagnosticReportKind>>,
) -> DocumentDiagnosticReportResult {
    let id = result_id(&items);
    // With related documents, a full report: Neovim reads them only from one.
    let report = if related.is_none() && params.previous_result_id.as_ref() == Some(&id) {
        DocumentDiagnosticReport::Unchanged(RelatedUnchangedDocumentDiagnosticReport {
            related_documents: related,
            unchanged_document_diagnostic_report: UnchangedDocumentDiagnosticReport { result_id: id },
        })
    } else {
        DocumentDiagnosticReport::Full(RelatedFullDocumentDiagnosticReport {
            related_documents: related,
            full_document_diagnostic_report: FullDocumentDiagnosticReport { result_id: Some(id), items },
        })
    };
    DocumentDiagnosticReportResult::Report(report)
}

fn full_report(
    uri: Uri,
    version: Option<i64>,
    result_id: Option<String>,
    items: Vec<Diagnostic>,
) -> WorkspaceDocumentDiagnosticReport {
    WorkspaceDocumentDiagnosticReport::Full(WorkspaceFullDocumentDiagnosticReport {
        uri,
        version,
        full_document_diagnostic_report: FullDocumentDiagnosticReport { result_id, items },
    })
}

/// A report's result id: a hash of its diagnostics, so equal reports have equal ids across requests.
fn result_id(items: &[Diagnostic]) -> String {
    let bytes = serde_json::to_vec(items).unwrap_or_default();
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes))
}

/// The identity hash of a chain finding of file `path` (see `baseline::Known::hash`).
fn chain_hash(known: &crate::baseline::Known, path: &Path, c: &ChainFinding) -> String {
    known.hash(path, c.rule, Some(&c.function), Some(&c.callee), c.hops.iter().map(|h| h.name.as_str()))
}

/// Lowers to hint severity the findings the baseline holds, or drops them (`hide`). `items`: a file's
/// diagnostics in source order, each with its identity hash.
fn apply_baseline<X>(items: &mut Vec<(Diagnostic, X, String)>, known: &crate::baseline::Known, hide: bool) {
    let held = known.holds(items.iter().map(|(_, _, h)| h.clone()));
    let mut held = held.into_iter();
    items.retain_mut(|(d, _, _)| {
        if !held.next().unwrap_or(false) {
            return true;
        }
        d.severity = Some(DiagnosticSeverity::HINT);
        !hide
    });
}

fn severity(t: Tier) -> DiagnosticSeverity {
    match t {
        Tier::Critical => DiagnosticSeverity::ERROR,
        Tier::Warning => DiagnosticSeverity::WARNING,
        Tier::Info => DiagnosticSeverity::INFORMATION,
        Tier::Hint => DiagnosticSeverity::HINT,
    }
}

fn code_description(rule: crate::rules::Rule) -> Option<CodeDescription> {
    doc_url(rule).parse::<Uri>().ok().map(|href| CodeDescription { href })
}

fn finding_to_lsp(f: &Finding, rope: &ropey::Rope, enc: Encoding, version: i32) -> Diagnostic {
    let range = Range { start: position(rope, f.range.start, enc), end: position(rope, f.range.end, enc) };
    let call =
        f.call_range.as_ref().map(|r| Range { start: position(rope, r.start, enc), end: position(rope, r.end, enc) });
    Diagnostic {
        range,
        severity: Some(severity(f.tier)),
        code: Some(NumberOrString::String(f.rule.code().into())),
        code_description: code_description(f.rule),
        source: Some("loopsafe".into()),
        message: plain(&f.message),
        related_information: None,
        tags: None,
        data: Some(fix_data(f.rule, f.callee.as_deref(), &f.fix_kinds, call.filter(|c| *c != range), false, version)),
    }
}

/// A diagnostic's `data`: what its code actions are rebuilt from (`lsp::code_action`), and no more (it
/// is sent with every diagnostic on every edit). `call` is the whole call when it is not the
/// diagnostic's range; `chain` marks a finding reached through project functions.
fn fix_data(
    rule: crate::rules::Rule,
    callee: Option<&str>,
    fixes: &[crate::catalog::FixKind],
    call: Option<Range>,
    chain: bool,
    version: i32,
) -> serde_json::Value {
    let mut data = serde_json::json!({ "rule": rule.name(), "fixes": fixes, "version": version });
    if let Some(callee) = callee {
        data["callee"] = callee.into();
    }
    if let Some(call) = call {
        data["call"] = serde_json::json!(call);
    }
    if chain {
        data["chain"] = true.into();
    }
    data
}

fn loc_position(l: &crate::analysis::summary::Loc, enc: Encoding) -> Position {
    let character = match enc {
        Encoding::Utf8 => l.col_utf8,
        Encoding::Utf16 => l.col_utf16,
        Encoding::Utf32 => l.col,
    };
    Position { line: l.line, character }
}

/// A chain finding as a diagnostic. `uris` remembers the files' URIs across calls (hops of different
/// chains are mostly in the same few files).
fn chain_to_lsp(
    c: &ChainFinding,
    files: &[ProjectFile],
    enc: Encoding,
    version: i32,
    uris: &mut HashMap<usize, Option<Uri>>,
) -> Diagnostic {
    let range = Range { start: loc_position(&c.start, enc), end: loc_position(&c.end, enc) };
    let related: Vec<DiagnosticRelatedInformation> = c
        .hops
        .iter()
        .filter_map(|h| {
            let uri = uris.entry(h.file).or_insert_with(|| Uri::from_file_path(&files[h.file].path)).clone()?;
            let p = loc_position(&h.loc, enc);
            Some(DiagnosticRelatedInformation {
                location: Location { uri, range: Range { start: p, end: p } },
                message: h.name.clone(),
            })
        })
        .collect();
    Diagnostic {
        range,
        severity: Some(severity(c.tier)),
        code: Some(NumberOrString::String(c.rule.code().into())),
        code_description: code_description(c.rule),
        source: Some("loopsafe".into()),
        message: plain(&c.message),
        related_information: Some(related),
        tags: None,
        data: Some(fix_data(c.rule, Some(&c.callee), &c.fixes, None, true, version)),
    }
}

/// The offloader advice names unless the file gets another one (`run_in_threadpool` with FastAPI).
const DEFAULT_OFFLOADER: &str = "asyncio.to_thread";

/// Text for places that show it as is (the Problems panel, virtual text, code action titles): the
/// Markdown code spans of messages without their backticks.
pub(crate) fn plain(s: &str) -> String {
    s.replace('`', "")
}

/// A location as a user reads it: the path relative to the workspace root, and the 1-based line.
fn place(uri: &Uri, line: u32, root: Option<&std::path::Path>) -> String {
    let path = uri.to_file_path().map(|p| p.into_owned());
    let shown = match (&path, root) {
        (Some(p), Some(root)) => p.strip_prefix(root).unwrap_or(p).display().to_string(),
        (Some(p), None) => p.display().to_string(),
        (None, _) => uri.as_str().to_string(),
    };
    format!("{shown}:{}", line + 1)
}

/// A finding's hover, readable where links are not rendered (Helix, Neovim): the message (unless the
/// client shows it already), the route, the chain as `name — path:line` steps after the call on the
/// finding's own line, and the advice.
fn hover_text(
    d: &Diagnostic,
    route: Option<&str>,
    instead: Option<&str>,
    root: Option<&std::path::Path>,
    with_message: bool,
) -> String {
    let mut parts = Vec::new();
    if with_message {
        let code = match &d.code {
            Some(NumberOrString::String(s)) => s.clone(),
            _ => String::new(),
        };
        let rule = d.data.as_ref().and_then(|data| data["rule"].as_str()).unwrap_or_default();
        parts.push(format!("**{code} {rule}**: {}", d.message));
    }
    if let Some(route) = route {
        parts.push(format!("In route `{route}`."));
    }
    if with_message && let Some(related) = &d.related_information {
        let steps: Vec<String> = related
            .iter()
            .filter(|r| {
                !(r.location.uri == related[0].location.uri && r.location.range.start.line == d.range.start.line)
            })
            .enumerate()
            .map(|(i, r)| {
                format!("{}. `{}` — {}", i + 1, r.message, place(&r.location.uri, r.location.range.start.line, root))
            })
            .collect();
        if !steps.is_empty() {
            parts.push(format!("Chain:\n{}", steps.join("\n")));
        }
    }
    if let Some(instead) = instead {
        parts.push(format!("Instead: {instead}"));
    }
    parts.join("\n\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary_of(text: &str) -> crate::analysis::summary::FileSummary {
        let config = Config {
            settings: Settings::default(),
            catalog: Arc::new(Catalog::bundled().clone()),
            baseline: None,
            runtime: None,
        }; // runtime3
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
        let state = State::new();
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
