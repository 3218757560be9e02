//! The command line at its I/O edge, driven as a hostile user would: `--fix` killed at random moments,
//! on a full disk, in a read-only directory, through symbolic links; the cache pointed at a project;
//! unreadable and vanishing directories; a Latin-1 `pyproject.toml`; NUL bytes in a source file.
//!
//! Tests that need root (mounting a small tmpfs, running as `nobody`) say so on stderr and are skipped
//! when they cannot run. Random choices come from a fixed seed, printed (override: LOOPSAFE_TEST_SEED).

mod common;
mod lsp_client;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{loopsafe, stderr, stdout, write};

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn from_env(default: u64) -> Rng {
        let seed = std::env::var("LOOPSAFE_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(default);
        eprintln!("seed: {seed} (LOOPSAFE_TEST_SEED={seed} repeats this run)");
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn is_root() -> bool {
    // SAFETY: no arguments, no failure.
    unsafe { libc::geteuid() == 0 }
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_loopsafe")
}

/// Every entry under `dir` (relative paths), sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().map(Result::unwrap) {
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Whether a file name is one of `--fix`'s temporary files (`.<file>.loopsafe-<pid>[-n].tmp`).
fn is_fix_temp(name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name);
    base.starts_with('.') && base.contains(".loopsafe-") && base.ends_with(".tmp") && !base.ends_with(".py")
}

// ---------------------------------------------------------------------------------------------------
// Killed runs

/// A module with `n` coroutines, each with a blocking sleep that `--fix` rewrites, and a long string so
/// that writing it takes a moment.
fn module(i: usize, n: usize) -> String {
    let mut s = format!("\"\"\"Module {i}.\"\"\"\nimport time\n\nDATA = \"{}\"\n", "x".repeat(20_000));
    for j in 0..n {
        s.push_str(&format!("\n\nasync def handler_{j}(x):\n    y = x + {j}\n    time.sleep(0.{j})\n    return y\n"));
    }
    s
}

const FILES: usize = 200;
const PER_FILE: usize = 3;

fn kill_project(dir: &Path) -> Vec<(String, Vec<u8>)> {
    write(dir, "pyproject.toml", "[project]\nname = \"killme\"\n");
    (0..FILES)
        .map(|i| {
            let rel = format!("pkg{}/mod_{i:03}.py", i % 4);
            let text = module(i, PER_FILE).into_bytes();
            write(dir, &rel, &text);
            (rel, text)
        })
        .collect()
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: a signal to our own child, which has not been waited for yet.
    unsafe { libc::kill(pid as i32, sig) };
}

/// Starts `loopsafe check --fix` in `dir`: the child, when it started, and the stamp (inode, size, time) of `first` (the
/// first file it fixes, in path order) before the run, for `wait_for_first_write`.
fn spawn_fix(dir: &Path, first: &Path) -> (std::process::Child, Instant, Stamp) {
    let ino = stamp(first).unwrap();
    let child = Command::new(bin())
        .args(["check", "--fix", "--no-cache", "."])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (child, Instant::now(), ino)
}

/// What tells that a file was written: its inode (a rename over it), size and modification time (a
/// write in place).
type Stamp = (u64, u64, i64, i64);

fn stamp(p: &Path) -> Option<Stamp> {
    std::fs::metadata(p).ok().map(|m| (m.ino(), m.len(), m.mtime(), m.mtime_nsec()))
}

/// Waits (polling every millisecond, at most `limit`) until `first` is no longer as `ino` describes it
/// or the child ended; the moment `first` was written.
fn wait_for_first_write(child: &mut std::process::Child, first: &Path, ino: Stamp, limit: Duration) -> Option<Instant> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if stamp(first).is_some_and(|s| s != ino) {
            return Some(Instant::now());
        }
        if child.try_wait().unwrap().is_some() {
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    None
}

#[test]
fn fix_killed_at_random_moments_leaves_every_file_old_or_new() {
    let mut rng = Rng::from_env(18_2026);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("project");
    let originals = kill_project(&dir);
    let first = |d: &Path| d.join(originals.iter().map(|(r, _)| r).min().unwrap());

    // The expected new versions: an uninterrupted run on a copy. It also measures how long the whole
    // run and its writing phase take (from the first file replaced to the end).
    let copy = work.path().join("expected");
    assert_eq!(kill_project(&copy), originals);
    let (mut child, started, ino) = spawn_fix(&copy, &first(&copy));
    let first_write = wait_for_first_write(&mut child, &first(&copy), ino, Duration::from_secs(600));
    let status = child.wait().unwrap();
    let (total, writing) = (started.elapsed(), first_write.map_or(Duration::ZERO, |t| t.elapsed()));
    assert_eq!(status.code(), Some(0));
    let expected: Vec<Vec<u8>> = originals.iter().map(|(rel, _)| std::fs::read(copy.join(rel)).unwrap()).collect();
    for ((rel, old), new) in originals.iter().zip(&expected) {
        assert_ne!(old, new, "{rel}: the uninterrupted run fixes every file");
    }
    eprintln!(
        "an uninterrupted run over {FILES} files ({} fixes): {:.2}s, writing {:.2}s of it",
        FILES * PER_FILE,
        total.as_secs_f64(),
        writing.as_secs_f64()
    );

    let mut mid_write = 0;
    let mut temp_survivors = Vec::new();
    // 20 SIGKILLs and 4 SIGINTs. Most land while files are written (a random time after the first file
    // is replaced); every fourth at a random time of the whole run (reading, analysing, computing).
    let kills: Vec<i32> = (0..24).map(|i| if i % 6 == 5 { libc::SIGINT } else { libc::SIGKILL }).collect();
    for (round, &sig) in kills.iter().enumerate() {
        // Back to the old version.
        for (rel, text) in &originals {
            if std::fs::read(dir.join(rel)).unwrap() != *text {
                std::fs::write(dir.join(rel), text).unwrap();
            }
        }
        let anywhere = round % 4 == 3;
        let (mut child, started, ino) = spawn_fix(&dir, &first(&dir));
        let delay = if anywhere {
            let at = total.mul_f64(rng.unit());
            std::thread::sleep(at.saturating_sub(started.elapsed()));
            at
        } else {
            let seen = wait_for_first_write(&mut child, &first(&dir), ino, Duration::from_secs(600));
            let extra = writing.mul_f64(rng.unit() * 1.1);
            std::thread::sleep(extra);
            seen.map_or(started.elapsed(), |t| t.duration_since(started) + extra)
        };
        signal(child.id(), sig);
        let status = child.wait().unwrap();

        let mut new = 0;
        for ((rel, old), fixed) in originals.iter().zip(&expected) {
            let now = std::fs::read(dir.join(rel)).unwrap();
            if now == *fixed {
                new += 1;
            } else {
                assert!(
                    now == *old,
                    "round {round}: {rel} is neither the old nor the new version ({} bytes; old {}, new {})",
                    now.len(),
                    old.len(),
                    fixed.len()
                );
            }
        }
        let mut strays = Vec::new();
        for entry in tree(&dir) {
            let known = entry == "pyproject.toml"
                || entry.starts_with("pkg") && (!entry.contains('/') || originals.iter().any(|(r, _)| *r == entry));
            if !known {
                assert!(is_fix_temp(&entry), "round {round}: a stray file is left: {entry}");
                strays.push(entry);
            }
        }
        if sig == libc::SIGINT {
            assert!(strays.is_empty(), "round {round}: an interrupted run leaves no temporary file: {strays:?}");
            assert!(
                status.signal() == Some(libc::SIGINT) || status.code() == Some(0),
                "round {round}: an interrupted run ends by SIGINT: {status:?}"
            );
        }
        for s in strays {
            std::fs::remove_file(dir.join(&s)).unwrap();
            temp_survivors.push(s);
        }
        if 0 < new && new < FILES {
            mid_write += 1;
        }
        eprintln!(
            "round {round:2}: {} at {:.3}s ({}): {new:3} of {FILES} files new, {status:?}",
            if sig == libc::SIGKILL { "SIGKILL" } else { "SIGINT " },
            delay.as_secs_f64(),
            if anywhere { "any moment" } else { "while writing" },
        );
    }
    eprintln!(
        "{mid_write} of {} kills landed between the first and the last file written; temporary files that \
         survived a SIGKILL: {temp_survivors:?}",
        kills.len()
    );
}

// ---------------------------------------------------------------------------------------------------
// Write errors

/// A tmpfs mounted for one test (root only), unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// `None` (with a message) when mounting is not possible here.
    fn mount(at: &Path, size: &str, test: &str) -> Option<Tmpfs> {
        if !is_root() {
            eprintln!("{test}: skipped: mounting a tmpfs needs root");
            return None;
        }
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(at).output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs(at.to_path_buf())),
            Ok(o) => {
                eprintln!("{test}: skipped: cannot mount a tmpfs: {}", String::from_utf8_lossy(&o.stderr).trim());
                None
            }
            Err(e) => {
                eprintln!("{test}: skipped: cannot run mount: {e}");
                None
            }
        }
    }
    fn remount_read_only(&self) {
        let o = Command::new("mount").args(["-o", "remount,ro"]).arg(&self.0).output().unwrap();
        assert!(o.status.success(), "remount: {}", String::from_utf8_lossy(&o.stderr));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

const BLOCKING: &str = "import time\n\n\nasync def f():\n    time.sleep(1)\n";

fn assert_failed_write(out: &Output, file: &str, why: &str) {
    let (o, e) = (stdout(out), stderr(out));
    assert_eq!(out.status.code(), Some(2), "stdout:\n{o}\nstderr:\n{e}");
    assert!(
        e.contains(&format!("loopsafe: error: {file}: cannot write the fixes: "))
            && e.contains("the file is unchanged"),
        "{e}"
    );
    assert!(e.contains(why), "{e}");
    assert!(e.contains("loopsafe: error: 1 fixed file could not be written (unchanged)"), "{e}");
    assert!(!o.contains("All checks passed") && !e.contains("All checks passed"), "{o}{e}");
}

#[test]
fn a_full_disk_fails_the_run_and_leaves_the_file_untouched() {
    let work = tempfile::tempdir().unwrap();
    let Some(fs) = Tmpfs::mount(&work.path().join("disk"), "512k", "full disk") else { return };
    // A file that fits, and a fixed version that does not fit beside it.
    let mut text = String::from("import time\n");
    for i in 0..300 {
        text.push_str(&format!("# padding line {i:03} {}\n", "x".repeat(780)));
    }
    text.push_str("\n\nasync def f():\n    time.sleep(1)\n");
    write(&fs.0, "app.py", &text);
    let mut filler = std::fs::File::create(fs.0.join("filler")).unwrap();
    let chunk = vec![b'x'; 4096];
    while std::io::Write::write_all(&mut filler, &chunk).is_ok() {}
    drop(filler);
    let out = loopsafe(&fs.0, &["check", "--fix", "--no-cache", "app.py"]);
    assert_failed_write(&out, "app.py", "No space left on device");
    assert_eq!(std::fs::read_to_string(fs.0.join("app.py")).unwrap(), text, "the file is untouched");
    assert_eq!(tree(&fs.0), ["app.py", "filler"], "no temporary file left");
}

#[test]
fn a_read_only_directory_fails_the_run_and_leaves_the_file_untouched() {
    let work = tempfile::tempdir().unwrap();
    // As root, permission bits do not stop a write: a read-only tmpfs does. Otherwise, mode 555 does.
    let (dir, _fs) = if is_root() {
        let Some(fs) = Tmpfs::mount(&work.path().join("ro"), "1m", "read-only directory") else { return };
        write(&fs.0, "app.py", BLOCKING);
        fs.remount_read_only();
        (fs.0.clone(), Some(fs))
    } else {
        let dir = work.path().join("ro");
        write(&dir, "app.py", BLOCKING);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        (dir, None)
    };
    let out = loopsafe(&dir, &["check", "--fix", "--no-cache", "app.py"]);
    let why = if is_root() { "Read-only file system" } else { "Permission denied" };
    assert_failed_write(&out, "app.py", why);
    assert_eq!(std::fs::read_to_string(dir.join("app.py")).unwrap(), BLOCKING);
    assert_eq!(tree(&dir), ["app.py"]);
    if !is_root() {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------------
// What a fixed file keeps

#[test]
fn fix_keeps_links_modes_owners_bom_crlf_and_the_encoding_declaration() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "pyproject.toml", "[project]\nname = \"keep\"\n");
    // CRLF, with an import the fix must add in the same style.
    write(
        d,
        "crlf.py",
        "\"\"\"Doc.\"\"\"\r\nimport time\r\n\r\n\r\nasync def f(p):\r\n    time.sleep(1)\r\n    return input(p)\r\n",
    );
    write(d, "bom.py", b"\xEF\xBB\xBF# -*- coding: utf-8 -*-\nimport time\n\n\nasync def f():\n    time.sleep(1)\n");
    write(d, "mode.py", BLOCKING);
    std::fs::set_permissions(d.join("mode.py"), std::fs::Permissions::from_mode(0o751)).unwrap();
    write(d, "real/target.py", BLOCKING);
    std::os::unix::fs::symlink("real/target.py", d.join("link.py")).unwrap();
    write(d, "owned.py", BLOCKING);
    let root = is_root();
    if root {
        std::os::unix::fs::chown(d.join("owned.py"), Some(65534), Some(65534)).unwrap();
    } else {
        eprintln!("owner kept: skipped the other-owner case (needs root to give a file away)");
    }

    // A hard link outside the checked tree keeps the old version (the file is replaced): a warning says so.
    write(d, "hard.py", BLOCKING);
    std::fs::create_dir(d.join(".elsewhere")).unwrap();
    std::fs::hard_link(d.join("hard.py"), d.join(".elsewhere/hard.py")).unwrap();

    let out = loopsafe(d, &["check", "--fix", "--unsafe-fixes", "--no-cache", "."]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stderr(&out).contains(
            "loopsafe: warning: hard.py: had 2 hard links: it was replaced, and its other names keep the old version\n"
        ),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(d.join(".elsewhere/hard.py")).unwrap(), BLOCKING);

    let crlf = std::fs::read_to_string(d.join("crlf.py")).unwrap();
    assert_eq!(
        crlf,
        "\"\"\"Doc.\"\"\"\r\nimport asyncio\r\n\r\n\r\nasync def f(p):\r\n    await asyncio.sleep(1)\r\n    return await asyncio.to_thread(input, p)\r\n",
        "{crlf:?}"
    );
    assert!(!crlf.replace("\r\n", "").contains('\n'), "every line ends with CRLF: {crlf:?}");

    let bom = std::fs::read(d.join("bom.py")).unwrap();
    assert_eq!(
        String::from_utf8(bom).unwrap(),
        "\u{feff}# -*- coding: utf-8 -*-\nimport asyncio\n\n\nasync def f():\n    await asyncio.sleep(1)\n"
    );

    let fixed = BLOCKING.replace("import time\n", "import asyncio\n").replace("time.sleep", "await asyncio.sleep");
    assert_eq!(std::fs::read_to_string(d.join("mode.py")).unwrap(), fixed);
    assert_eq!(std::fs::metadata(d.join("mode.py")).unwrap().permissions().mode() & 0o7777, 0o751);

    assert!(std::fs::symlink_metadata(d.join("link.py")).unwrap().file_type().is_symlink(), "the link stays a link");
    assert_eq!(std::fs::read_link(d.join("link.py")).unwrap(), Path::new("real/target.py"));
    assert_eq!(std::fs::read_to_string(d.join("real/target.py")).unwrap(), fixed, "its target is fixed");

    assert_eq!(std::fs::read_to_string(d.join("owned.py")).unwrap(), fixed);
    if root {
        let m = std::fs::metadata(d.join("owned.py")).unwrap();
        assert_eq!((m.uid(), m.gid()), (65534, 65534), "the owner is kept");
    }
    let temps: Vec<String> = tree(d).into_iter().filter(|e| e.contains("loopsafe-")).collect();
    assert!(temps.is_empty(), "{temps:?}");
}

// ---------------------------------------------------------------------------------------------------
// The cache directory

#[test]
fn the_cache_is_refused_a_directory_it_does_not_own() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "pyproject.toml", "[project]\nname = \"c\"\n");
    write(d, ".gitignore", "dist/\n");
    write(d, "app.py", BLOCKING);
    let expected = "loopsafe: error: cache directory `.` is not a loopsafe cache: it holds `.gitignore` and has no \
                    loopsafe CACHEDIR.TAG; give --cache-dir (or LOOPSAFE_CACHE_DIR) a new or empty directory\n";
    let out = loopsafe(d, &["check", "--cache-dir", ".", "app.py"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), expected);
    assert_eq!(stdout(&out), "");
    let out =
        Command::new(bin()).args(["check", "app.py"]).current_dir(d).env("LOOPSAFE_CACHE_DIR", ".").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), expected);
    assert_eq!(std::fs::read_to_string(d.join(".gitignore")).unwrap(), "dist/\n", "the project's .gitignore is kept");
    assert!(!d.join("CACHEDIR.TAG").exists());
    // --no-cache wins over a refused directory.
    assert_eq!(loopsafe(d, &["check", "--no-cache", "--cache-dir", ".", "app.py"]).status.code(), Some(1));

    // A new directory is created and marked; an empty one is claimed; both are reused.
    std::fs::create_dir(d.join("empty")).unwrap();
    for cache in ["new/cache", "empty"] {
        for _ in 0..2 {
            let out = loopsafe(d, &["check", "--cache-dir", cache, "app.py"]);
            assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
            assert_eq!(stderr(&out), "");
        }
        let tag = std::fs::read_to_string(d.join(cache).join("CACHEDIR.TAG")).unwrap();
        assert!(tag.starts_with("Signature: 8a477f597d28d172789f06886806bc55\n"), "{tag}");
        assert_eq!(
            std::fs::read_to_string(d.join(cache).join(".gitignore")).unwrap(),
            "# Automatically created by loopsafe.\n*\n"
        );
    }
}

#[test]
fn the_default_cache_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "pyproject.toml", "[project]\nname = \"c\"\n");
    write(d, "app.py", BLOCKING);
    let first = loopsafe(d, &["check", "."]);
    assert_eq!(first.status.code(), Some(1), "{}", stderr(&first));
    assert!(d.join(".loopsafe_cache/CACHEDIR.TAG").is_file());
    let timed = Command::new(bin())
        .args(["check", "."])
        .current_dir(d)
        .env("NO_COLOR", "1")
        .env("LOOPSAFE_TIMINGS", "1")
        .output()
        .unwrap();
    assert_eq!(stdout(&timed), stdout(&first));
    assert_eq!(stderr(&first), "");
    // A default cache directory that something else took over is not used (a warning), and not touched.
    let other = tempfile::tempdir().unwrap();
    write(other.path(), "pyproject.toml", "[project]\nname = \"c\"\n");
    write(other.path(), "app.py", BLOCKING);
    write(other.path(), ".loopsafe_cache/notes.txt", "mine\n");
    let out = loopsafe(other.path(), &["check", "."]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("loopsafe: warning: not using the cache: cache directory"), "{}", stderr(&out));
    assert_eq!(tree(&other.path().join(".loopsafe_cache")), ["notes.txt"]);
}

// ---------------------------------------------------------------------------------------------------
// The walk

const HELPER: &str = "import requests\n\n\ndef fetch():\n    return requests.get(\"https://example.com\")\n";
const ROUTE: &str = "from .helpers import fetch\n\n\nasync def route():\n    return fetch()\n";

fn walk_project(d: &Path) {
    write(d, "pyproject.toml", "[project]\nname = \"walk\"\n");
    write(d, "app/__init__.py", "");
    write(d, "app/helpers.py", HELPER);
    write(d, "app/routes.py", ROUTE);
    write(d, "app/slow.py", BLOCKING);
}

#[test]
fn an_unreadable_directory_is_skipped_with_a_warning_and_the_rest_is_checked() {
    let work = tempfile::tempdir().unwrap();
    let d = work.path().join("p");
    walk_project(&d);
    write(&d, "db/data/x.py", BLOCKING);
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = if is_root() {
        // Root reads everything: the directory belongs to root, and the check runs as `nobody`.
        let ok = Command::new("setpriv").args(["--reuid=65534", "--regid=65534", "--clear-groups", "true"]).status();
        if !ok.is_ok_and(|s| s.success()) {
            eprintln!("unreadable directory: skipped: cannot run a command as nobody with setpriv");
            return;
        }
        std::fs::set_permissions(d.join("db"), std::fs::Permissions::from_mode(0o700)).unwrap();
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", bin()]);
        c
    } else {
        std::fs::set_permissions(d.join("db"), std::fs::Permissions::from_mode(0o000)).unwrap();
        Command::new(bin())
    };
    let out = cmd.args(["check", "--no-cache", "."]).current_dir(&d).env("NO_COLOR", "1").output().unwrap();
    std::fs::set_permissions(d.join("db"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (o, e) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{o}{e}");
    assert_eq!(e, "loopsafe: warning: db: skipped: cannot read: permission denied\n");
    assert!(o.contains("app/slow.py:5:5: LS102"), "{o}");
    assert!(o.contains("app/routes.py:5:12:"), "the cross-module finding is there: {o}");
    assert!(o.contains("Found 2 findings"), "{o}");
}

#[test]
fn directories_vanishing_during_the_walk_never_fail_the_run() {
    let mut rng = Rng::from_env(18_0030);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    walk_project(&d);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churn = {
        let (stop, d) = (stop.clone(), d.clone());
        let mut seed = rng.next();
        std::thread::spawn(move || {
            let mut made = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let name = d.join(format!("build/t{}", seed >> 60));
                let deep = name.join("a/b/c");
                if std::fs::create_dir_all(&deep).is_ok() {
                    for k in 0..4 {
                        let _ = std::fs::write(deep.join(format!("gen_{k}.py")), "x = 1\n");
                        let _ = std::fs::create_dir(name.join(format!("a/d{k}")));
                    }
                }
                let _ = std::fs::remove_dir_all(&name);
                made += 1;
            }
            made
        })
    };
    let mut warned = 0;
    for run in 0..30 {
        let out = loopsafe(&d, &["check", "--no-cache", "."]);
        let (o, e) = (stdout(&out), stderr(&out));
        assert_eq!(out.status.code(), Some(1), "run {run}: {o}{e}");
        assert!(o.contains("app/slow.py:5:5: LS102") && o.contains("app/routes.py:5:12:"), "run {run}: {o}");
        for line in e.lines() {
            assert!(
                line.starts_with("loopsafe: warning: build/") && line.contains(": skipped: "),
                "run {run}: unexpected stderr: {line}"
            );
            warned += 1;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let made = churn.join().unwrap();
    eprintln!("30 runs while {made} directory trees came and went; {warned} warnings about vanished paths");
}

// ---------------------------------------------------------------------------------------------------
// Input that used to be ignored silently

#[test]
fn a_latin1_pyproject_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "pyproject.toml", b"[tool.loopsafe]\n# r\xe9sum\xe9 of the settings\nignore = [\"LS102\"]\n");
    write(d, "app.py", BLOCKING);
    let out = loopsafe(d, &["check", "--no-cache", "app.py"]);
    assert_eq!(out.status.code(), Some(2));
    let path = std::fs::canonicalize(d).unwrap().join("pyproject.toml");
    assert_eq!(
        stderr(&out),
        format!(
            "loopsafe: error: {}: not valid UTF-8 (byte 0xe9 at line 2, column 4); TOML files must be UTF-8\n",
            path.display()
        )
    );
}

#[test]
fn a_nul_byte_after_the_first_8_kib_does_not_end_the_analysis() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut text = String::from("import time\n\nBLOB = \"");
    text.push_str(&"x".repeat(9000));
    text.push_str("\\0 and a raw \0 NUL\"\n\n\nasync def late():\n    time.sleep(1)\n");
    write(d, "late.py", &text);
    let line = text[..text.find("time.sleep(1)").unwrap()].matches('\n').count() + 1;
    let out = loopsafe(d, &["check", "--no-cache", "late.py"]);
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains(&format!("late.py:{line}:5: LS102")), "{}", stdout(&out));
    assert_eq!(stderr(&out), "");
    // Binary files (a NUL in the first 8 KiB) are still skipped, with a warning.
    write(d, "blob.py", b"\0\x01\x02binary\n");
    let out = loopsafe(d, &["check", "--no-cache", "blob.py"]);
    assert_eq!(stderr(&out), "loopsafe: warning: blob.py: skipped: binary file (contains NUL bytes)\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_with_a_nul_byte_is_analysed_to_its_end_in_the_server() {
    use lsp_client::{Client, codes, uri};
    let dir = tempfile::tempdir().unwrap();
    let (mut c, _) = Client::start(serde_json::json!({}), Some(dir.path())).await;
    let u = uri(&dir.path().join("late.py"));
    let mut text = String::from("import time\n\nBLOB = \"");
    text.push_str(&"x".repeat(9000));
    text.push_str("\0\"\n\n\nasync def late():\n    time.sleep(1)\n");
    let line = text.matches('\n').count() - 1;
    c.open(&u, &text).await;
    c.diagnostics_until(&u, |d| codes(d) == [format!("LS102@{line}:4")]).await;
    // An edit inside the function (an incremental parse of part of the text) still sees past the NUL.
    let edit = serde_json::json!([{ "range": { "start": { "line": line, "character": 4 }, "end": { "line": line, "character": 4 } }, "text": "x = 1; " }]);
    c.change(&u, 2, edit).await;
    c.diagnostics_until(&u, |d| codes(d) == [format!("LS102@{line}:11")]).await;
}
