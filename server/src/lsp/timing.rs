//! Timing instrumentation for finding where requests wait (issue 18), off unless
//! `LOOPSAFE_LSP_TIMING=<file>` is set: then the server appends to that file one line per request
//! handled (`req <unix ms> <method> <id> <handler ms> <queued ms> <busy ms> <cpu ms>`: how long from
//! the moment tower-lsp handed it to the handler to its answer, how long of that before the handler
//! first ran, how long its own code ran on the async thread (wall time, which grows when the thread is
//! preempted) and the CPU time of that (the same on a loaded machine: what to compare between builds
//! run at different loads); a notification's id is `-`), one line per `didChange` saying what became
//! of its edits (`edit <unix ms> <outcome>`, see `edit`) and one line
//! whenever the async thread woke up late for a 5 ms tick (`lag <unix ms> <late ms> <run ms> <runqueue ms>`: how late, and how long the thread ran and waited
//! for a CPU meanwhile, from `/proc/thread-self/schedstat`), one per refresher half-pass (`pass`) and
//! one per push of diagnostics (`push`). A client's own timings minus the handler's
//! are the time spent in pipes and queues before the handler ran.

use std::io::Write as _;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

struct Timing {
    file: Mutex<std::fs::File>,
}

fn timing() -> Option<&'static Timing> {
    static TIMING: OnceLock<Option<Timing>> = OnceLock::new();
    TIMING
        .get_or_init(|| {
            let path = std::env::var_os("LOOPSAFE_LSP_TIMING")?;
            let file = std::fs::OpenOptions::new().create(true).append(true).open(path).ok()?;
            Some(Timing { file: Mutex::new(file) })
        })
        .as_ref()
}

fn unix_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64() * 1e3
}

fn line(text: std::fmt::Arguments<'_>) {
    if let Some(t) = timing() {
        let mut f = t.file.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = writeln!(f, "{text}");
    }
}

/// Whether timing is on (the caller then records the request).
pub fn on() -> bool {
    timing().is_some()
}

/// A message handled (a notification's id is `-`): handed to the handler at `started`, answered now,
/// first polled `queued` after `started`, its polls on the async thread `busy` in all.
pub fn request(method: &str, id: &str, started: Instant, queued: Duration, busy: Duration, cpu: Duration) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    line(format_args!(
        "req {:.1} {method} {id} {:.2} {:.2} {:.3} {:.3}",
        unix_ms(),
        ms(started.elapsed()),
        ms(queued),
        ms(busy),
        ms(cpu)
    ));
}

/// How many `didChange` analyses were left to a later `didChange` in this process (`crate::lsp::coalesced_edits`).
static COALESCED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub fn coalesced() -> u64 {
    COALESCED.load(std::sync::atomic::Ordering::Relaxed)
}

/// What became of a `didChange`'s edits (`edit <unix ms> <outcome>`): `analysed` (alone, inline),
/// `coalesced` (left to the next queued `didChange` of the document), `trivia` (a comment edit: the
/// analysis moved), `whole` (a whole-file job), and `caught-up` / `caught-up-whole` (edits left
/// pending, analysed for a request).
pub fn edit(outcome: &str) {
    if outcome == "coalesced" {
        COALESCED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    if on() {
        line(format_args!("edit {:.1} {outcome}", unix_ms()));
    }
}

/// A refresher half-pass done (`pass <unix ms> <half> <wall ms> <cpu ms> <pushes> <left>`): `edited`
/// (`pass_edited`: the edited documents whose summary kept its shape) or `rest` (relinking, files from
/// disk, other open documents), its time on its blocking thread, the diagnostics it has to push and,
/// for `edited`, the documents it left to `rest`.
pub fn pass(half: &str, wall: Duration, cpu: Duration, pushes: usize, left: usize) {
    if on() {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        line(format_args!("pass {:.1} {half} {:.2} {:.2} {pushes} {left}", unix_ms(), ms(wall), ms(cpu)));
    }
}

/// A document's diagnostics handed to the transport (`push <unix ms> <version> <ms>`: how long the
/// push took, waiting for the client to take the one before included).
pub fn push(version: i32, took: Duration) {
    if on() {
        line(format_args!("push {:.1} {version} {:.2}", unix_ms(), took.as_secs_f64() * 1e3));
    }
}

/// The CPU time the calling thread has used (zero where it cannot be read).
pub fn thread_cpu() -> Duration {
    #[cfg(unix)]
    {
        let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `clock_gettime` writes the calling thread's CPU clock into `t`, which it owns.
        if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) } == 0 {
            return Duration::new(t.tv_sec as u64, t.tv_nsec as u32);
        }
    }
    Duration::ZERO
}

/// The calling thread's time on a CPU and waiting on a run queue, in ns (Linux).
fn schedstat() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let mut it = s.split_whitespace().map(|v| v.parse::<u64>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

/// Ticks every 5 ms on the async thread and records each wake-up later than 20 ms.
pub async fn lag_monitor() {
    if !on() {
        return;
    }
    const TICK: Duration = Duration::from_millis(5);
    let mut last = schedstat();
    loop {
        let before = Instant::now();
        tokio::time::sleep(TICK).await;
        let late = before.elapsed().saturating_sub(TICK);
        let now = schedstat();
        if late > Duration::from_millis(20) {
            line(format_args!(
                "lag {:.1} {:.1} {:.1} {:.1}",
                unix_ms(),
                late.as_secs_f64() * 1e3,
                now.0.saturating_sub(last.0) as f64 / 1e6,
                now.1.saturating_sub(last.1) as f64 / 1e6
            ));
        }
        last = now;
    }
}
