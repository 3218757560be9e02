//! What keeps the server's one async thread free: whole-file analyses run as jobs on blocking threads
//! (one at a time per document, superseded ones cancelled, their results dropped), and one refresher
//! task at a time records open documents' analyses in the index, re-reads files the watcher reported,
//! computes diagnostics and sends them, in order.
//!
//! - A job analyses a snapshot of a document (its rope and edited tree, cheap to clone). When it ends,
//!   its result is stored only if the document is still at that version (and the settings did not
//!   change meanwhile); otherwise the tree it parsed is brought up to the current text with the edits
//!   logged since (`Document::edits`), kept as the base of the next incremental parse, and a job for
//!   the latest version starts: edits that arrive while a job runs coalesce into one analysis.
//!   A newer version cancels the running job, which gives up at its next step.
//! - The refresher takes all the work queued (`Work`): open documents whose analysis changed, closed
//!   documents, files changed on disk. A pass has two halves, each on a blocking thread, each followed
//!   by its pushes on the async thread. First the edited documents: each is indexed, and one whose
//!   summary kept its shape (its links are unchanged) gets its diagnostics at once, from its own new
//!   analysis and the linked project as it stands (`pass_edited`). Then the rest, off the keystroke
//!   path: files changed on disk are read, the project is relinked where a shape changed, and, when
//!   other files' chains may have changed, every other open document is recomputed (and pushed only
//!   when its diagnostics differ). Each analysis is converted to diagnostics (`Published`, stored in
//!   the document when it is still its latest analysis) and pushed in the order computed: a push for a
//!   version is never followed by one for an older version.
//!   Hovers and pull requests read `Document::published`; nothing on the async thread waits for the
//!   `linked` lock or reads a file.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rayon::prelude::*;
use ropey::Rope;
use tower_lsp_server::ls_types::{Diagnostic, Uri};
use tree_sitter::Tree;

use super::document::{Document, Job, Published};
use super::{Backend, CLIENT_REQUEST_TIMEOUT, Config, State, apply_baseline, chain_hash, chain_to_lsp, finding_to_lsp};
use crate::analysis::facts::Facts;
use crate::analysis::{self, FileAnalysis};

/// Documents up to this size are parsed and analysed in the `didOpen` handler itself (a few
/// milliseconds): requests that follow at once see their analysis. Larger ones are analysed by a job.
pub const INLINE_OPEN_BYTES: usize = 64 * 1024;

/// What the refresher has to do next.
#[derive(Default)]
pub struct Work {
    /// Open documents whose analysis changed.
    pub dirty: HashSet<Uri>,
    /// Documents closed: their diagnostics are cleared (push clients).
    pub closed: HashSet<Uri>,
    /// Files that changed on disk (or closed documents), to be read again unless they are open.
    pub disk: Vec<PathBuf>,
    /// Recompute every open document's diagnostics (settings or the index changed).
    pub all: bool,
    /// A document in `dirty` was analysed again at the same version (the settings changed): its client
    /// made no edit, so a pull client does not ask for its diagnostics unless it is told to refresh.
    pub unedited: bool,
    /// A refresher task is running (it takes new work before it stops).
    running: bool,
}

impl Work {
    fn is_empty(&self) -> bool {
        self.dirty.is_empty() && self.closed.is_empty() && self.disk.is_empty() && !self.all
    }
}

/// What a refresher pass computed: diagnostics to push, in order, and whether other files' diagnostics
/// may have changed (pull clients are asked to refresh).
struct PassOut {
    /// `None`: the document was closed (its diagnostics are cleared).
    publish: Vec<(Uri, Option<Arc<Published>>)>,
    changed: bool,
}

/// Diagnostics to push, in order; `None`: the document was closed (its diagnostics are cleared).
type Pushes = Vec<(Uri, Option<Arc<Published>>)>;

/// A diagnostic's route and advice (see `Published::extras`).
type Extra = (Option<String>, Option<String>);

/// An open document's latest analysis with the version and text it describes.
struct Snap {
    version: i32,
    rope: Rope,
    analysis: Arc<FileAnalysis>,
}

/// What a job computed: the tree it parsed (when it got that far) and the analysis (`None` when it was
/// cancelled first, `Some(None)` when the analysis panicked).
#[derive(Default)]
struct JobOut {
    tree: Option<Tree>,
    /// `tree` parses the text with deep brackets blanked (`analysis::parse_document`).
    blanked: bool,
    analysis: Option<Option<(Facts, FileAnalysis)>>,
}

/// Sets a flag when dropped: a request handler holds one while its work runs on a blocking thread, and
/// tower-lsp drops the handler's future on `$/cancelRequest`, which tells that work to stop.
pub struct CancelOnDrop(pub Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Threads that compute quick fixes and the offloader a hover names: requests a user waits for, which
/// must not queue behind analysis jobs, refresher passes and fix-alls in the runtime's blocking pool
/// (under a flood of edits its queue holds dozens of whole-file analyses).
const INTERACTIVE_THREADS: usize = 2;

/// The interactive threads, started by the first `interactive` call.
static INTERACTIVE_POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();

/// The thread that reads a document's offloader for a hover (`Backend::offload_name`), started by the
/// first such read: apart from the quick fixes, so that a hover never queues behind them (issue 18's
/// soak: the slowest 1 % of hovers waited ~240 ms for an interactive thread after a `didOpen`).
static HOVER_POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();

/// Runs `f` on the interactive threads (see `INTERACTIVE_THREADS`); `None` when it panicked (logged).
/// Dropping the returned future does not stop `f`: pass it a flag (`CancelOnDrop`) for that.
pub async fn interactive<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    run_on(&INTERACTIVE_POOL, INTERACTIVE_THREADS, "loopsafe-actions", f).await
}

/// Runs `f` on the hover thread (see `HOVER_POOL`); `None` when it panicked (logged).
pub async fn for_hover<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    run_on(&HOVER_POOL, 1, "loopsafe-hover", f).await
}

async fn run_on<T: Send + 'static>(
    pool: &'static std::sync::OnceLock<Option<rayon::ThreadPool>>,
    threads: usize,
    name: &'static str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job = move || {
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let _ = tx.send(out.ok());
    };
    let pool = pool.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(move |i| format!("{name}-{i}"))
            .build()
            .inspect_err(|e| tracing::warn!("no threads for {name} ({e}); it shares the blocking pool"))
            .ok()
    });
    match pool {
        Some(pool) => pool.spawn(job),
        None => drop(tokio::task::spawn_blocking(job)),
    }
    let out = rx.await.ok().flatten();
    if out.is_none() {
        tracing::error!("a quick fix or a hover panicked");
    }
    out
}

/// How much lower than the async thread's the scheduling priority of background work is (a nice
/// increment, Linux: per thread). Measured on the soak (issue 18, 2 busy cores): the slowest hovers and
/// quick fixes waited behind CPU time, not behind any lock: the async thread, runnable, queued for a
/// CPU while whole-file analyses, refresher passes and fix-alls ran beside it at the same priority.
/// At +10 a background thread weighs about a ninth of the async thread and of the interactive ones
/// (quick fixes), and still takes every idle cycle: nothing starves while the editor is idle.
const BACKGROUND_NICE: i32 = 10;

/// Lowers the calling thread's priority by `BACKGROUND_NICE`, once per thread (a thread of the
/// blocking pool or of rayon's global pool: both run only background work). A priority can only be
/// lowered without privileges, and it never needs raising again: these threads run nothing a user
/// waits for (quick fixes and hovers have the interactive threads).
pub fn lower_priority() {
    thread_local!(static LOWERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
    if LOWERED.with(|l| l.replace(true)) {
        return;
    }
    #[cfg(target_os = "linux")]
    // SAFETY: the `gettid` system call, `getpriority` and `setpriority` only read and set the calling
    // thread's scheduling attributes (on Linux `PRIO_PROCESS` with a thread id names that one thread).
    unsafe {
        // Relative to the main (async) thread's priority, not this thread's: a thread started by a
        // lowered one (rayon's global threads, started from the blocking pool) inherits its priority.
        let nice_of = |id: libc::id_t| {
            *libc::__errno_location() = 0;
            let n = libc::getpriority(libc::PRIO_PROCESS, id);
            (n != -1 || *libc::__errno_location() == 0).then_some(n)
        };
        // The system call, not glibc's `gettid()` wrapper: that wrapper is glibc 2.30's, and the
        // manylinux2014 wheel links against glibc 2.17 (`tests/install/run.sh` fails to link it).
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        if let (Some(main), Some(now)) = (nice_of(libc::getpid() as libc::id_t), nice_of(tid)) {
            let target = (main + BACKGROUND_NICE).min(19);
            if now < target {
                let _ = libc::setpriority(libc::PRIO_PROCESS, tid, target);
            }
        }
    }
}

/// Runs background work (analyses, refresher passes, fix-alls, indexing) on the blocking pool at a
/// lower priority (`lower_priority`).
pub async fn background<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    tokio::task::spawn_blocking(move || {
        lower_priority();
        f()
    })
    .await
}

/// Parses (incrementally from `tree`, which has the edits, unless it had syntax errors: see
/// `Document::reparse`) and analyses one snapshot. Runs on a
/// blocking thread; a panic in the parser or the analysis is caught.
fn run_job(rope: Rope, tree: Option<Tree>, config: &Config, job: &Job) -> JobOut {
    let cancelled = || job.cancel.load(Ordering::Relaxed);
    if cancelled() {
        return JobOut::default();
    }
    let text = rope.to_string();
    let (tree, blanked) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        analysis::parse_document(&text, tree.as_ref().filter(|t| !t.root_node().has_error()))
    }))
    .unwrap_or((None, false));
    if cancelled() {
        return JobOut { tree, blanked, analysis: None };
    }
    let analysed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match &tree {
        Some(tree) => analysis::analyze_document(&text, tree, blanked, &config.catalog, &config.settings),
        None => (Facts::default(), FileAnalysis::default()),
    }));
    JobOut { tree, blanked, analysis: Some(analysed.ok()) }
}

/// Reads a Python file reported by the watcher or left by a closed document, without ever blocking on
/// it: anything but a regular file (a FIFO, a socket, a device, a directory) is skipped before it is
/// opened, and it is opened with `O_NONBLOCK` and checked again, in case it was replaced meanwhile.
pub fn read_regular(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{shown}: skipped: not a regular file"));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let mut file = options.open(path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Err(format!("{shown}: skipped: not a regular file"));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::io::Read::read_to_end(&mut file, &mut bytes).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    // As `check::read_source` decodes: a BOM is dropped, NUL bytes early on mean a binary file.
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    if body.iter().take(8192).any(|&b| b == 0) {
        return Err(format!("{shown}: skipped: binary file (contains NUL bytes)"));
    }
    String::from_utf8(body.to_vec()).map_err(|e| format!("{shown}: skipped: not valid UTF-8 ({e})"))
}

impl State {
    /// An open document's latest analysis; `None` when it is not open or not analysed yet.
    fn snapshot(&self, uri: &Uri) -> Option<Snap> {
        let doc = self.documents.get(uri)?;
        let (version, rope) = doc.analysed.clone()?;
        Some(Snap { version, rope, analysis: doc.analysis.clone() })
    }

    /// The diagnostics of one analysed version of an open document: its own findings, and the chain
    /// findings the linked project gives its file (linked first if needed: this runs on a blocking
    /// thread).
    fn publishable(&self, uri: &Uri, snap: Snap) -> Published {
        let caps = self.caps();
        let Snap { version, rope, analysis } = snap;
        let config = self.config();
        let path = uri.to_file_path();
        // The document's `per-file-ignores`.
        let off = path.as_deref().map(|p| config.settings.ignored_in(p)).unwrap_or_default();
        // Each finding's identity hash, when a baseline is to be matched.
        let known = config.baseline.as_deref().zip(path.as_deref());
        // findings5: blocking calls in coroutines only command-line commands await are hints.
        let demoted = path.as_deref().and_then(|p| {
            self.with_linked(|l| {
                match l.project.file_findings(&l.links, l.project.file_index(p)?, &analysis.findings) {
                    std::borrow::Cow::Owned(v) => Some(v),
                    std::borrow::Cow::Borrowed(_) => None,
                }
            })
        });
        let mut out: Vec<(Diagnostic, Extra, String)> = demoted
            .as_deref()
            .unwrap_or(&analysis.findings)
            .iter()
            .filter(|f| !off.iter().any(|s| s.matches(f.rule)))
            .map(|f| {
                let hash = known.map_or_else(String::new, |(k, p)| {
                    k.hash(
                        p,
                        f.rule,
                        f.function.as_deref(),
                        f.callee.as_deref(),
                        f.chain.iter().map(|h| h.name.as_str()),
                    )
                });
                (finding_to_lsp(f, &rope, caps.encoding, version, uri), (f.route.clone(), f.instead.clone()), hash)
            })
            .collect();
        let mut blocking = Vec::new();
        if let Some(path) = path.as_deref() {
            self.with_linked(|linked| {
                let project = &linked.project;
                let Some(file) = project.file_index(path) else { return };
                let mut uris = HashMap::new();
                for c in project.findings(&linked.links, Some(file), &config.settings) {
                    if off.iter().any(|s| s.matches(c.rule)) {
                        continue;
                    }
                    let d = chain_to_lsp(&c, project.files(), caps.encoding, version, &mut uris);
                    let hash = known.map_or_else(String::new, |(k, p)| chain_hash(k, p, &c));
                    out.push((d, (c.route.clone(), c.instead.clone()), hash));
                }
                // Hovers on the names of functions that block, computed now: a hover never waits for
                // the linked project.
                let linked_analysis = &project.files()[file].analysis;
                let same = Arc::ptr_eq(linked_analysis, &analysis);
                for (i, f) in analysis.summary.functions.iter().enumerate() {
                    let index = if same {
                        Some(i)
                    } else {
                        linked_analysis.summary.functions.iter().position(|g| g.qualname == f.qualname)
                    };
                    if let Some(text) = index.and_then(|index| project.blocking_chain(&linked.links, file, index)) {
                        let len = f.qualname.rsplit('.').next().map_or(0, str::len);
                        let start = f.name.offset as usize;
                        blocking.push((start..start + len, f.qualname.clone(), text));
                    }
                }
            });
        }
        // runtime3: the `runtime` recording confirms findings and adds what it saw that none covers.
        if let (Some(recorded), Some(path)) = (config.runtime.as_deref(), path.as_deref()) {
            let known = |p: &Path| self.index.contains_key(p);
            let instead = || (None, Some(crate::runtime::INSTEAD.to_string()));
            recorded.apply(path, &rope, caps.encoding, version, &config.settings, &off, &known, &mut out, instead);
        }
        out.sort_by_key(|(d, _, _)| (d.range.start, d.range.end));
        if let Some((k, _)) = known {
            apply_baseline(&mut out, k, config.settings.hide_baselined);
        }
        let (diagnostics, extras) = out.into_iter().map(|(d, e, _)| (d, e)).unzip();
        Published { version, rope, analysis, diagnostics, extras, blocking }
    }

    /// The diagnostics of an open document's latest analysis: the published ones when they are of it,
    /// else computed now (on a blocking thread).
    pub(super) fn latest_published(&self, uri: &Uri) -> Option<Arc<Published>> {
        let (published, snap) = {
            let doc = self.documents.get(uri)?;
            let published = doc.published.clone().filter(|p| Arc::ptr_eq(&p.analysis, &doc.analysis));
            let snap =
                doc.analysed.clone().map(|(version, rope)| Snap { version, rope, analysis: doc.analysis.clone() });
            (published, snap)
        };
        published.or_else(|| Some(Arc::new(self.publishable(uri, snap?))))
    }

    /// Analyses a file from disk for the index; `None` (logged) when it cannot be read or is not text.
    fn analyse_from_disk(&self, path: &Path, config: &Config) -> Option<FileAnalysis> {
        match read_regular(path) {
            Ok(text) => std::panic::catch_unwind(|| {
                analysis::analyze_source_file(&text, &config.catalog, &config.settings, true)
            })
            .ok(),
            Err(why) => {
                tracing::info!("not indexed: {why}");
                None
            }
        }
    }

    fn is_open(&self, path: &Path) -> bool {
        Uri::from_file_path(path).is_some_and(|u| self.documents.contains_key(&u))
    }

    /// The first half of a refresher pass, on a blocking thread: the edited documents (`dirty`) are
    /// indexed, and those whose summary kept its shape get their diagnostics now, before anything
    /// else of the pass (files changed on disk, relinking, other open documents) is computed: their
    /// links did not change, so these diagnostics are exact for the index as it stands. Returns them
    /// (to be sent first), the documents left to the second half (their shape changed: their chains
    /// need the project relinked, and other files' chains may change with them), and whether the
    /// linked project changed.
    fn pass_edited(&self, dirty: HashSet<Uri>) -> (Pushes, HashSet<Uri>, bool) {
        let started = std::time::Instant::now();
        let (mut publish, mut left, mut changed) = (Vec::new(), HashSet::new(), false);
        for uri in dirty {
            let Some(snap) = self.snapshot(&uri) else { continue };
            if self.index_open(&uri, snap.analysis.clone()) {
                changed = true;
                left.insert(uri);
                continue;
            }
            let p = Arc::new(self.publishable(&uri, snap));
            if let Some(mut d) = self.documents.get_mut(&uri).filter(|d| Arc::ptr_eq(&d.analysis, &p.analysis)) {
                d.published = Some(p.clone());
                drop(d);
                publish.push((uri, Some(p)));
            }
        }
        tracing::debug!(
            "edited documents refreshed in {:.1} ms: {} to send, {} left for relinking",
            started.elapsed().as_secs_f64() * 1e3,
            publish.len(),
            left.len()
        );
        (publish, left, changed)
    }

    /// One refresher pass, on a blocking thread (see the module's documentation). `relinked`: the
    /// first half of the pass (`pass_edited`) changed the linked project, so every open document is
    /// recomputed.
    fn pass(&self, work: Work, relinked: bool) -> PassOut {
        let started = std::time::Instant::now();
        // The first pass to recompute every open document after the first index: pulls wait for it.
        let first_indexed = work.all && self.index_state.load(Ordering::SeqCst) == super::INDEX_BUILT;
        let mut changed = work.all || relinked;
        let mut publish = Vec::new();
        for uri in work.closed {
            if !self.documents.contains_key(&uri) {
                publish.push((uri, None));
            }
        }
        // Files changed on disk: the buffer of an open one wins.
        let config = self.config();
        let mut disk: Vec<PathBuf> = work
            .disk
            .into_iter()
            .map(|p| std::fs::canonicalize(&p).unwrap_or(p))
            .filter(|p| !self.is_open(p))
            .collect();
        disk.sort();
        disk.dedup();
        // Quick fixes across the workspace walk it again when a file was created or deleted.
        self.fix_files.disk_changed(&disk);
        let read: Vec<(PathBuf, Option<FileAnalysis>)> = disk
            .into_par_iter()
            .map(|p| {
                lower_priority();
                let a = self.analyse_from_disk(&p, &config);
                (p, a)
            })
            .collect();
        for (path, analysis) in read {
            changed |= match analysis {
                Some(a) => self.update_index(path, Arc::new(a)),
                None => self.drop_from_index(&path),
            };
        }
        // Open documents whose analysis changed, then, when other files' chains may have changed with
        // them, every open document: each is indexed with the analysis its diagnostics are computed from.
        // (uri, its latest analysis, whether that analysis is new: else only other files changed)
        let mut snaps: Vec<(Uri, Snap, bool)> = Vec::new();
        for uri in work.dirty {
            if let Some(s) = self.snapshot(&uri) {
                changed |= self.index_open(&uri, s.analysis.clone());
                snaps.push((uri, s, true));
            }
        }
        if changed {
            let seen: HashSet<Uri> = snaps.iter().map(|(u, _, _)| u.clone()).collect();
            let others: Vec<Uri> =
                self.documents.iter().map(|e| e.key().clone()).filter(|u| !seen.contains(u)).collect();
            for uri in others {
                if let Some(s) = self.snapshot(&uri) {
                    self.index_open(&uri, s.analysis.clone());
                    snaps.push((uri, s, false));
                }
            }
        }
        let mut unchanged = 0;
        tracing::debug!("indexed in {:.1} ms", started.elapsed().as_secs_f64() * 1e3);
        for (uri, snap, new) in snaps {
            let p = Arc::new(self.publishable(&uri, snap));
            // Stored (and sent) only while it is the document's latest analysis: a newer one is queued.
            // A document refreshed only because another file changed is not sent again when the client
            // already has the same diagnostics for that version (an edit changing a module's names would
            // otherwise re-send every open document).
            let send = match self.documents.get_mut(&uri) {
                Some(mut d) if Arc::ptr_eq(&d.analysis, &p.analysis) => {
                    let old = d.published.replace(p.clone());
                    new || !old.is_some_and(|o| o.version == p.version && o.diagnostics == p.diagnostics)
                }
                _ => false,
            };
            // A request waiting for this document's diagnostics (a hover just after a `didOpen`, a pull,
            // a fix-all) is answered now, not after every other open document is recomputed: the edited
            // documents come first in `snaps`, and the others' conversion is most of a pass.
            if new {
                self.published.notify_waiters();
            }
            if send {
                publish.push((uri, Some(p)));
            } else {
                unchanged += 1;
            }
        }
        tracing::debug!(
            "refreshed in {:.1} ms: {} to send, {unchanged} unchanged or superseded, linked project {}",
            started.elapsed().as_secs_f64() * 1e3,
            publish.len(),
            if changed { "changed" } else { "kept" }
        );
        if first_indexed {
            self.index_state.store(super::INDEX_READY, Ordering::SeqCst);
        }
        PassOut { publish, changed }
    }

    /// Drops a file that is gone (or no longer readable text) from the index. Returns whether it was
    /// there (the linked project is then rebuilt).
    pub(super) fn drop_from_index(&self, path: &Path) -> bool {
        self.stamp(path);
        let removed = self.index.remove(path).is_some();
        if removed {
            *self.linked.lock().expect("linked lock") = None;
        }
        removed
    }
}

impl Backend {
    /// Queues work for the refresher, starting it when it is not running.
    pub(super) fn queue(&self, f: impl FnOnce(&mut Work)) {
        let start = {
            let mut work = self.state.work.lock().expect("work lock");
            f(&mut work);
            !std::mem::replace(&mut work.running, true)
        };
        if start {
            tokio::spawn(self.clone().refresher());
        }
    }

    /// Queues an open document whose latest analysis changed.
    pub(super) fn changed(&self, uri: Uri) {
        self.queue(|w| {
            w.dirty.insert(uri);
        });
    }

    async fn refresher(self) {
        loop {
            let work = {
                let mut work = self.state.work.lock().expect("work lock");
                if work.is_empty() {
                    work.running = false;
                    drop(work);
                    // Pulls waiting for the refresher to be idle (`Backend::refreshed`).
                    self.state.published.notify_waiters();
                    return;
                }
                Work {
                    dirty: std::mem::take(&mut work.dirty),
                    closed: std::mem::take(&mut work.closed),
                    disk: std::mem::take(&mut work.disk),
                    all: std::mem::take(&mut work.all),
                    unedited: std::mem::take(&mut work.unedited),
                    running: true,
                }
            };
            let state = self.state.clone();
            // Edited documents first (issue 13): their diagnostics are sent before files changed on disk
            // are read, the project is relinked and other open documents are refreshed. Skipped when
            // every open document is recomputed anyway (settings or the index changed).
            let mut work = work;
            let mut relinked = false;
            // Documents analysed again without an edit of theirs: a pull client is asked to pull them.
            let unedited = std::mem::take(&mut work.unedited);
            if !work.all && !work.dirty.is_empty() {
                let dirty = std::mem::take(&mut work.dirty);
                match background(move || state.pass_edited(dirty)).await {
                    Ok((publish, left, changed)) => {
                        self.state.published.notify_waiters();
                        self.send(publish).await;
                        work.dirty = left;
                        relinked = changed;
                    }
                    Err(e) => {
                        tracing::error!("refreshing diagnostics failed: {e}");
                        continue;
                    }
                }
                if work.is_empty() && !relinked {
                    if unedited {
                        self.refresh_pulls();
                    }
                    continue;
                }
            }
            let state = self.state.clone();
            let out = match background(move || state.pass(work, relinked)).await {
                Ok(out) => out,
                Err(e) => {
                    tracing::error!("refreshing diagnostics failed: {e}");
                    continue;
                }
            };
            self.state.published.notify_waiters();
            if !self.state.caps().pull {
                self.send(out.publish).await;
            } else if out.changed || unedited {
                self.refresh_pulls();
            }
        }
    }

    /// Asks a pull client to pull its diagnostics again (`workspace/diagnostic/refresh`), when it can;
    /// not awaited (no handler waits on the client).
    fn refresh_pulls(&self) {
        if !self.state.caps().refresh {
            return;
        }
        let client = self.client.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(CLIENT_REQUEST_TIMEOUT, client.workspace_diagnostic_refresh()).await;
        });
    }

    /// Pushes a pass's diagnostics in the order computed (push clients; pull clients read them).
    /// Each push waits for the client to take the one before: while it reads, documents move on, and a
    /// push whose document has a newer analysis (queued, so pushed next pass) is dropped. Under a flood
    /// of edits, pushes thus coalesce at the pace the client reads.
    async fn send(&self, publish: Pushes) {
        if self.state.caps().pull {
            return;
        }
        let mut superseded = 0;
        for (uri, published) in publish {
            let Some(p) = published else {
                self.client.publish_diagnostics(uri, Vec::new(), None).await;
                continue;
            };
            let latest = self.state.documents.get(&uri).is_some_and(|d| Arc::ptr_eq(&d.analysis, &p.analysis));
            if latest {
                self.client.publish_diagnostics(uri, p.diagnostics.clone(), Some(p.version)).await;
            } else {
                superseded += 1;
            }
        }
        if superseded > 0 {
            tracing::debug!("{superseded} superseded pushes dropped");
        }
    }

    /// Starts a whole-file analysis of an open document off the async thread, or, when one is running,
    /// cancels it (its result is stale) so that it starts again on the latest version. `rerun` analyses
    /// again even at the same version (the settings changed).
    pub(super) fn schedule(&self, uri: &Uri, rerun: bool) {
        let start = {
            let Some(mut doc) = self.state.documents.get_mut(uri) else { return };
            doc.facts = None;
            doc.pending = None;
            if let Some(job) = &doc.job {
                job.cancel.store(true, Ordering::Relaxed);
                doc.rerun |= rerun;
                return;
            }
            start_job(&mut doc)
        };
        tokio::spawn(self.clone().run_jobs(uri.clone(), start));
    }

    async fn run_jobs(self, uri: Uri, (mut job, mut rope, mut tree): (Arc<Job>, Rope, Option<Tree>)) {
        let mut unedited = false;
        loop {
            let config = self.state.config();
            let running = job.clone();
            let out = background(move || run_job(rope, tree, &config, &running)).await;
            // A panic outside the parser and the analysis (caught there) is a failed analysis too.
            let out = out.unwrap_or_else(|_| JobOut { tree: None, blanked: false, analysis: Some(None) });
            let next = {
                let Some(mut doc) = self.state.documents.get_mut(&uri) else { return };
                if !doc.job.as_ref().is_some_and(|j| Arc::ptr_eq(j, &job)) {
                    return; // closed and opened again: another job owns the document
                }
                let log = doc.edits.take();
                let done = doc.version == job.version && !doc.rerun && out.analysis.is_some();
                if let Some(mut t) = out.tree {
                    doc.blanked = out.blanked;
                    if done {
                        doc.clean = !t.root_node().has_error();
                        doc.tree = Some(t);
                        doc.stale = false;
                    } else if let Some(log) = log {
                        // The tree of an older text: brought up to the current one, it is the base of the
                        // next incremental parse.
                        for e in &log {
                            t.edit(e);
                        }
                        doc.tree = Some(t);
                        doc.stale = true;
                    }
                }
                if done {
                    doc.job = None;
                    // The same text analysed again: the settings changed, not the document.
                    unedited = doc.analysed.as_ref().is_some_and(|(v, _)| *v == job.version);
                    match out.analysis {
                        Some(Some((facts, a))) => {
                            doc.facts = Some(facts);
                            doc.analysed_now(Arc::new(a));
                        }
                        _ => {
                            tracing::error!(
                                "the analysis of {} (version {}) panicked; keeping its last diagnostics",
                                uri.as_str(),
                                job.version
                            );
                            doc.failed = Some(job.version);
                        }
                    }
                    None
                } else {
                    doc.rerun = false;
                    doc.job = None;
                    Some(start_job(&mut doc))
                }
            };
            match next {
                Some(start) => (job, rope, tree) = start,
                None => {
                    self.queue(|w| {
                        w.dirty.insert(uri.clone());
                        w.unedited |= unedited;
                    });
                    // A failed version publishes nothing: whoever waits for it answers from what it has.
                    self.state.published.notify_waiters();
                    return;
                }
            }
        }
    }

    /// Waits (at most `limit`) until the refresher has no work queued or running: the reports of the
    /// other open documents then follow every edit received so far (an edit of a helper changes the
    /// report of the route that reaches it in the same pass that relinks the project, after the
    /// helper's own diagnostics are stored). Returns whether it is idle.
    pub(super) async fn refreshed(&self, limit: Duration) -> bool {
        self.wait_for(limit, || {
            let work = self.state.work.lock().expect("work lock");
            (!work.running && work.is_empty()).then_some(())
        })
        .await
        .is_some()
    }

    /// The published diagnostics of an open document, waiting (at most `limit`) until they exist, or,
    /// with `current`, until they describe its current version (or its analysis failed) and no analysis
    /// of that same text is under way (the settings changed: the diagnostics in hand are of the old ones). `None` when the
    /// document is not open or the wait timed out.
    pub(super) async fn published(&self, uri: &Uri, current: bool, limit: Duration) -> Option<Arc<Published>> {
        self.wait_for(limit, || {
            let Some(doc) = self.state.documents.get(uri) else { return Some(None) };
            match &doc.published {
                Some(p) if !current => Some(Some(p.clone())),
                Some(_) if doc.reanalysing() => None,
                Some(p) if p.version == doc.version || doc.failed == Some(doc.version) => Some(Some(p.clone())),
                _ => None,
            }
        })
        .await
        .flatten()
    }

    /// Waits (at most `limit`) until `check` gives an answer (`Some`), checking again each time the
    /// waiters on `State::published` are woken (diagnostics stored, a job ended, the refresher
    /// stopped). `None` when the wait timed out. `check` holds no guard across the wait.
    async fn wait_for<T>(&self, limit: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.state.published.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(answer) = check() {
                return Some(answer);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }
}

/// Starts a job on a document's current version: its snapshot, to be analysed.
fn start_job(doc: &mut Document) -> (Arc<Job>, Rope, Option<Tree>) {
    let job = Arc::new(Job { version: doc.version, cancel: AtomicBool::new(false) });
    doc.job = Some(job.clone());
    doc.edits = Some(Vec::new());
    (job, doc.rope.clone(), doc.tree.clone().filter(|_| !doc.blanked))
}
