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
use super::state::Linked;
use super::{Backend, CLIENT_REQUEST_TIMEOUT, Config, State, apply_baseline, chain_hash, chain_to_lsp, finding_to_lsp};
use crate::analysis::facts::Facts;
use crate::analysis::summary::Loc;
use crate::analysis::{self, FileAnalysis};
use crate::project::ChainFinding;

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

/// Where the lines of one text are in another that differs from it in one stretch (an edit): the
/// lines before the first changed byte's line keep their place, the lines after the last changed
/// byte's line (in the old text) move by the difference in line count (their bytes by the difference
/// in length); a position on a changed line has no place.
struct Moved {
    /// The first line with a changed byte (the same in both texts).
    first: u32,
    /// The old text's last line with a changed byte.
    last: u32,
    lines: i64,
    bytes: i64,
}

impl Moved {
    fn new(old: &Rope, new: &Rope) -> Moved {
        let (a, b) = (old.to_string(), new.to_string());
        let (a, b) = (a.as_bytes(), b.as_bytes());
        let common = a.len().min(b.len());
        // Compared in blocks (memcmp), then byte by byte inside the first block that differs.
        const BLOCK: usize = 4096;
        let mut prefix = 0;
        while prefix + BLOCK <= common && a[prefix..prefix + BLOCK] == b[prefix..prefix + BLOCK] {
            prefix += BLOCK;
        }
        while prefix < common && a[prefix] == b[prefix] {
            prefix += 1;
        }
        let room = common - prefix;
        let mut suffix = 0;
        while suffix + BLOCK <= room
            && a[a.len() - suffix - BLOCK..a.len() - suffix] == b[b.len() - suffix - BLOCK..b.len() - suffix]
        {
            suffix += BLOCK;
        }
        while suffix < room && a[a.len() - 1 - suffix] == b[b.len() - 1 - suffix] {
            suffix += 1;
        }
        // The changed bytes are old[prefix..old_end] (maybe empty: an insertion at `prefix`). Lines are
        // counted as the analysis counts them (`Loc::line`): by `\n`, not by every break ropey knows.
        let (old_end, new_end) = (a.len() - suffix, b.len() - suffix);
        let breaks = |s: &[u8]| s.iter().filter(|&&c| c == b'\n').count() as i64;
        let first = breaks(&a[..prefix]);
        let (removed, added) = (breaks(&a[prefix..old_end]), breaks(&b[prefix..new_end]));
        Moved {
            first: first as u32,
            last: (first + removed) as u32,
            lines: added - removed,
            bytes: b.len() as i64 - a.len() as i64,
        }
    }

    /// `loc` (in the old text) in the new one; `None` on a changed line.
    fn loc(&self, loc: &mut Loc) -> Option<()> {
        if loc.line < self.first {
            return Some(());
        }
        if loc.line <= self.last {
            return None;
        }
        loc.line = u32::try_from(i64::from(loc.line) + self.lines).ok()?;
        loc.offset = u32::try_from(i64::from(loc.offset) + self.bytes).ok()?;
        Some(())
    }

    /// A chain finding of `file` (and its hops in it) placed in the new text; `None` when a position
    /// of it is on a changed line.
    fn place(&self, c: &mut ChainFinding, file: usize) -> Option<()> {
        if c.file == file {
            self.loc(&mut c.start)?;
            self.loc(&mut c.end)?;
        }
        for h in c.hops.iter_mut().chain(c.also.iter_mut()).filter(|h| h.file == file) {
            self.loc(&mut h.loc)?;
        }
        Some(())
    }
}

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

/// The thread that computes the edited documents' diagnostics (the first half of a refresher pass,
/// `State::pass_edited`): on every keystroke's path, so at the async thread's priority, not at the
/// background's (under load a thread at nice +10 waited several ms for a CPU before its 0.3 ms of work),
/// and never queued behind analysis jobs in the blocking pool.
static EDITS_POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();

/// Runs `f` on the edited documents' thread (see `EDITS_POOL`); `None` when it panicked (logged).
async fn for_edits<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    run_on(&EDITS_POOL, 1, "loopsafe-edits", f).await
}

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
        tracing::error!("work on the {name} threads panicked");
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
        let converted = match uri.to_file_path() {
            Some(_) => self.with_linked(|l| self.convert(uri, &snap, Some(l), None)),
            None => self.convert(uri, &snap, None, None),
        };
        converted.expect("without a move, every chain finding is placed")
    }

    /// `publishable` with the linked project given (`None`: not a file). `moved`: the linked project
    /// describes this file as the text of an earlier version (`Moved::old`), whose chain findings are
    /// placed in this version's text by the lines the edit kept (`None` when one is on a line the edit
    /// changed); the hovers on blocking functions are then left out (see `early`).
    fn convert(&self, uri: &Uri, snap: &Snap, linked: Option<&Linked>, moved: Option<&Moved>) -> Option<Published> {
        let caps = self.caps();
        let Snap { version, rope, analysis } = snap;
        let version = *version;
        let config = self.config();
        let path = uri.to_file_path();
        // The document's `per-file-ignores`.
        let off = path.as_deref().map(|p| config.settings.ignored_in(p)).unwrap_or_default();
        // Each finding's identity hash, when a baseline is to be matched.
        let known = config.baseline.as_deref().zip(path.as_deref());
        let file = linked.zip(path.as_deref()).and_then(|(l, p)| Some((l, l.project.file_index(p)?)));
        // findings5: blocking calls in coroutines only command-line commands await are hints.
        let demoted = file.and_then(|(l, i)| match l.project.file_findings(&l.links, i, &analysis.findings) {
            std::borrow::Cow::Owned(v) => Some(v),
            std::borrow::Cow::Borrowed(_) => None,
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
                (finding_to_lsp(f, rope, caps.encoding, version, uri), (f.route.clone(), f.instead.clone()), hash)
            })
            .collect();
        let mut blocking = Vec::new();
        if let Some((linked, file)) = file {
            let project = &linked.project;
            let mut uris = HashMap::new();
            for mut c in project.findings(&linked.links, Some(file), &config.settings) {
                if off.iter().any(|s| s.matches(c.rule)) {
                    continue;
                }
                if let Some(m) = moved {
                    m.place(&mut c, file)?;
                }
                let d = chain_to_lsp(&c, project.files(), caps.encoding, version, &mut uris);
                let hash = known.map_or_else(String::new, |(k, p)| chain_hash(k, p, &c));
                out.push((d, (c.route.clone(), c.instead.clone()), hash));
            }
            // Hovers on the names of functions that block, computed now: a hover never waits for
            // the linked project.
            let linked_analysis = &project.files()[file].analysis;
            let same = Arc::ptr_eq(linked_analysis, analysis);
            for (i, f) in analysis.summary.functions.iter().enumerate().filter(|_| moved.is_none()) {
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
        }
        // runtime3: the `runtime` recording confirms findings and adds what it saw that none covers.
        if let (Some(recorded), Some(path)) = (config.runtime.as_deref(), path.as_deref()) {
            let known = |p: &Path| self.index.contains_key(p);
            let instead = || (None, Some(crate::runtime::INSTEAD.to_string()));
            recorded.apply(path, rope, caps.encoding, version, &config.settings, &off, &known, &mut out, instead);
        }
        out.sort_by_key(|(d, _, _)| (d.range.start, d.range.end));
        if let Some((k, _)) = known {
            apply_baseline(&mut out, k, config.settings.hide_baselined);
        }
        let (diagnostics, extras) = out.into_iter().map(|(d, e, _)| (d, e)).unzip();
        Some(Published { version, rope: rope.clone(), analysis: analysis.clone(), diagnostics, extras, blocking })
    }

    /// The diagnostics of an edited document whose summary changed shape, computed before its new
    /// analysis goes into the linked project (issue 13: the edited document's diagnostics are sent
    /// first; relinking follows, off the keystroke path): its own findings exactly, its chain findings
    /// as the links stand, moved from the lines of the version `prev` published (the one the linked
    /// project holds) to this version's. `None` when the linked project holds another version of the
    /// file or a chain finding is on a line the edit changed: the document then waits for the relink.
    /// Sent, not stored: hovers and pulls wait for the diagnostics computed after the relink, which
    /// are sent again only when they differ.
    fn early(&self, uri: &Uri, snap: &Snap, prev: &Published, linked: &Linked, file: usize) -> Option<Published> {
        if !Arc::ptr_eq(&linked.project.files()[file].analysis, &prev.analysis) {
            return None;
        }
        let moved = Moved::new(&prev.rope, &snap.rope);
        self.convert(uri, snap, Some(linked), Some(&moved))
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

    /// The first half of a refresher pass (`inline`: on the async thread, in the refresher's task,
    /// which then never waits for the linked project's lock; else on a thread of its own at the async
    /// thread's priority, `for_edits`): the edited documents (`dirty`) are indexed and get their
    /// diagnostics now, before anything else of the pass (files changed on disk, relinking, other open
    /// documents) is computed. Those whose summary kept its shape get them from the linked project as
    /// it stands (their links did not change: exact for the index as it stands). Those whose shape
    /// changed get them from the links as they stood before (`early`), sent but not stored, and are left
    /// to the second half, which relinks the project and sends them again when they differ. So is a
    /// document when there is no linked project (never linked here: on the keystroke path) or, inline,
    /// when its lock is taken. Returns the diagnostics to send first, the documents left to the second
    /// half with what was sent for them, and whether the linked project changed.
    fn pass_edited(&self, dirty: HashSet<Uri>, inline: bool) -> (Pushes, HashMap<Uri, Option<Arc<Published>>>, bool) {
        let started = std::time::Instant::now();
        let cpu = super::timing::thread_cpu();
        let (mut publish, mut left, mut changed) = (Vec::new(), HashMap::new(), false);
        let lock = || match self.linked.try_lock() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(e)) => panic!("linked lock: {e}"),
            Err(std::sync::TryLockError::WouldBlock) if inline => None,
            Err(std::sync::TryLockError::WouldBlock) => Some(self.linked.lock().expect("linked lock")),
        };
        for uri in dirty {
            let Some(snap) = self.snapshot(&uri) else { continue };
            let (Some(path), Some(guard)) = (uri.to_file_path().map(|p| p.into_owned()), lock()) else {
                // Not a file (no index, no links), or the lock is taken: the second half.
                left.insert(uri, None);
                continue;
            };
            let prev = self.documents.get(&uri).and_then(|d| d.published.clone());
            let mut early = None;
            let reshaped = self.update_index_with(guard, path, snap.analysis.clone(), |linked, file| {
                early = prev.and_then(|prev| self.early(&uri, &snap, &prev, linked, file));
            });
            let p = match lock() {
                Some(guard) if !reshaped => guard.as_ref().and_then(|l| self.convert(&uri, &snap, Some(l), None)),
                _ => None,
            };
            let Some(p) = p.map(Arc::new) else {
                changed |= reshaped;
                let early = early.map(Arc::new);
                if let Some(p) = &early {
                    publish.push((uri.clone(), Some(p.clone())));
                }
                left.insert(uri, early);
                continue;
            };
            if let Some(mut d) = self.documents.get_mut(&uri).filter(|d| Arc::ptr_eq(&d.analysis, &p.analysis)) {
                d.published = Some(p.clone());
                drop(d);
                publish.push((uri, Some(p)));
            }
        }
        super::timing::pass(
            if inline { "edited-inline" } else { "edited" },
            started.elapsed(),
            super::timing::thread_cpu() - cpu,
            publish.len(),
            left.len(),
        );
        tracing::debug!(
            "edited documents refreshed in {:.1} ms: {} to send, {} left for relinking",
            started.elapsed().as_secs_f64() * 1e3,
            publish.len(),
            left.len()
        );
        (publish, left, changed)
    }

    /// Whether a newer analysis of an open document is queued for the refresher: what a pass would
    /// compute for it now is stale (dropped; the next pass computes the newer one).
    fn superseded(&self, uri: &Uri) -> bool {
        self.work.lock().expect("work lock").dirty.contains(uri)
    }

    /// One refresher pass, on a blocking thread (see the module's documentation). `relinked`: the
    /// first half of the pass (`pass_edited`) changed the linked project, so every open document is
    /// recomputed. `early`: what the first half sent for the documents it left here (sent again only
    /// when the relinked project gives them other diagnostics).
    fn pass(&self, work: Work, relinked: bool, early: &HashMap<Uri, Option<Arc<Published>>>) -> PassOut {
        let started = std::time::Instant::now();
        let cpu = super::timing::thread_cpu();
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
            if self.superseded(&uri) {
                continue;
            }
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
                if self.superseded(&uri) {
                    continue;
                }
                if let Some(s) = self.snapshot(&uri) {
                    self.index_open(&uri, s.analysis.clone());
                    snaps.push((uri, s, false));
                }
            }
        }
        let mut unchanged = 0;
        tracing::debug!("indexed in {:.1} ms", started.elapsed().as_secs_f64() * 1e3);
        if changed && self.linked.lock().expect("linked lock").is_none() {
            // Relinked now even when every document's analysis here is superseded: the next edit's
            // diagnostics are then computed from the links as they stand (`early`), not after a relink.
            self.with_linked(|_| ());
        }
        for (uri, snap, new) in snaps {
            if self.superseded(&uri) {
                unchanged += 1;
                continue;
            }
            let p = Arc::new(self.publishable(&uri, snap));
            // Stored (and sent) only while it is the document's latest analysis: a newer one is queued.
            // A document refreshed only because another file changed is not sent again when the client
            // already has the same diagnostics for that version (an edit changing a module's names would
            // otherwise re-send every open document).
            let send = match self.documents.get_mut(&uri) {
                Some(mut d) if Arc::ptr_eq(&d.analysis, &p.analysis) => {
                    let old = d.published.replace(p.clone());
                    let same = |o: &Published| o.version == p.version && o.diagnostics == p.diagnostics;
                    match early.get(&uri) {
                        // Sent already by the first half, from the links before the relink.
                        Some(Some(e)) if new => !same(e),
                        _ => new || !old.is_some_and(|o| same(&o)),
                    }
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
        super::timing::pass("rest", started.elapsed(), super::timing::thread_cpu() - cpu, publish.len(), 0);
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
            let mut early = HashMap::new();
            if !work.all && !work.dirty.is_empty() {
                let dirty = std::mem::take(&mut work.dirty);
                // One edited document is converted in this task, on the async thread (about 0.3 ms on
                // `_bot.py`, 12,522 lines): two thread hops fewer on the keystroke's path, each a wait
                // for a CPU on a loaded machine. More (a burst across files), on their own thread.
                let first = if dirty.len() == 1 {
                    Some(state.pass_edited(dirty, true))
                } else {
                    for_edits(move || state.pass_edited(dirty, false)).await
                };
                match first {
                    Some((publish, left, changed)) => {
                        self.state.published.notify_waiters();
                        self.send(publish).await;
                        work.dirty = left.keys().cloned().collect();
                        early = left;
                        relinked = changed;
                    }
                    None => {
                        tracing::error!("refreshing the edited documents' diagnostics failed");
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
            let out = match background(move || state.pass(work, relinked, &early)).await {
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
                let t = std::time::Instant::now();
                self.client.publish_diagnostics(uri, p.diagnostics.clone(), Some(p.version)).await;
                super::timing::push(p.version, t.elapsed());
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The position of `needle`'s first byte in `text` as a `Loc` (line by `\n`, columns in bytes).
    fn loc_of(text: &str, needle: &str) -> Loc {
        let offset = text.find(needle).expect("in the text");
        let line = text[..offset].matches('\n').count() as u32;
        let col = (offset - text[..offset].rfind('\n').map_or(0, |i| i + 1)) as u32;
        Loc { offset: offset as u32, line, col, col_utf16: col, col_utf8: col }
    }

    /// A chain finding's positions, moved from the text its analysis describes to an edited one, land
    /// where the same code is; a position on a line the edit changed has none.
    #[test]
    fn moved_positions_follow_the_unchanged_lines() {
        let old = "import requests\n\nx = 1\n\nasync def a():\n    requests.get(u)\n";
        for (new, placed) in [
            // A def typed above (an insertion of whole lines).
            ("import requests\n\nx = 1\ndef f(u):\n    return u\n\nasync def a():\n    requests.get(u)\n", true),
            // Characters typed on a line of their own.
            ("import requests\n\nx = 1\nde\n\nasync def a():\n    requests.get(u)\n", true),
            // Lines erased.
            ("import requests\n\nasync def a():\n    requests.get(u)\n", true),
            // The line of the position itself edited.
            ("import requests\n\nx = 1\n\nasync def a():\n    requests.get(u, timeout=5)\n", false),
            // The same text.
            (old, true),
        ] {
            let moved = Moved::new(&Rope::from_str(old), &Rope::from_str(new));
            let mut at = loc_of(old, "requests.get");
            let got = moved.loc(&mut at);
            assert_eq!(got.is_some(), placed, "{new:?}");
            if placed {
                assert_eq!(at, loc_of(new, "requests.get"), "{new:?}");
            }
            // Before the edit: unmoved.
            let mut top = loc_of(old, "requests\n");
            assert!(moved.loc(&mut top).is_some());
            assert_eq!(top, loc_of(old, "requests\n"));
        }
    }
}
