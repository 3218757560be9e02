//! Replacing a file's content so that nothing can be lost: the new content goes to a temporary file in
//! the same directory, is flushed to disk (`fsync`), and is renamed over the file, so that at every
//! moment — a SIGKILL, a power cut, a full disk — the file is either wholly the old or wholly the new
//! version. The file keeps its permission bits and, where the system allows it, its owner and group.
//!
//! On Linux the temporary file is created without a name (`O_TMPFILE`) and named only once it is
//! complete, just before the rename: a process killed while writing leaves nothing behind. Where
//! `O_TMPFILE` is not supported, or in the instant between naming and renaming, a killed run can leave
//! a temporary file; it is hidden and named `.<file>.loopsafe-<pid>.tmp` (never `.py`).
//!
//! SIGINT, SIGTERM and SIGHUP are held back while files are written (`InterruptGuard`), so that an
//! interrupt stops the run between two files.

use std::fs::{File, Metadata};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What `replace` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Replaced {
    Done,
    /// The file changed (content, size, time or identity) while the new version was being written: it
    /// is left as it is.
    Changed,
}

/// The suffix of temporary files (see the module documentation).
pub const TEMP_SUFFIX: &str = ".tmp";

/// The name of the `n`th temporary file for `target`.
fn temp_path(target: &Path, n: u32) -> PathBuf {
    let name = target.file_name().map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let pid = std::process::id();
    let unique = if n == 0 { format!("{pid}") } else { format!("{pid}-{n}") };
    target.with_file_name(format!(".{name}.loopsafe-{unique}{TEMP_SUFFIX}"))
}

/// Whether the file at `path` is still the one described by `before` (same file, size and time).
fn unchanged(path: &Path, before: &Metadata) -> bool {
    let Ok(now) = std::fs::metadata(path) else { return false };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if (now.dev(), now.ino(), now.ctime(), now.ctime_nsec())
            != (before.dev(), before.ino(), before.ctime(), before.ctime_nsec())
        {
            return false;
        }
    }
    now.len() == before.len() && now.modified().ok() == before.modified().ok()
}

/// Replaces the content of `target` (a regular file, not a symbolic link: resolve links first) with
/// `bytes`, atomically, keeping its mode and owner. `before` is the file's metadata when its content was
/// read: if the file changes after that, it is left alone (`Replaced::Changed`). On an error the file is
/// unchanged and no temporary file is left.
pub fn replace(target: &Path, bytes: &[u8], before: &Metadata) -> Result<Replaced, String> {
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let (file, mut name) = match unnamed_temp(dir) {
        Some(f) => (f, None),
        None => {
            let (f, p) = named_temp(target)?;
            (f, Some(p))
        }
    };
    let result = (|| {
        fill(&file, bytes, before)?;
        if name.is_none() {
            match link_unnamed(&file, target) {
                Ok(p) => name = Some(p),
                // Linking is refused (no /proc, unprivileged): a named temporary file then.
                Err(_) => {
                    let (named, p) = named_temp(target)?;
                    name = Some(p);
                    fill(&named, bytes, before)?;
                }
            }
        }
        let tmp = name.as_deref().expect("the temporary file has a name by now");
        if !unchanged(target, before) {
            return Ok(Replaced::Changed);
        }
        std::fs::rename(tmp, target).map_err(|e| format!("cannot rename the new version over the file: {e}"))?;
        name = None;
        // The rename itself reaches the disk with the directory (some file systems cannot sync one).
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(Replaced::Done)
    })();
    if let Some(tmp) = name {
        let _ = std::fs::remove_file(tmp);
    }
    result
}

/// Writes the content, gives the file the target's owner and mode, and flushes it to disk.
fn fill(mut file: &File, bytes: &[u8], before: &Metadata) -> Result<(), String> {
    file.write_all(bytes).map_err(|e| format!("cannot write the new version: {e}"))?;
    keep_owner_and_mode(file, before)?;
    file.sync_all().map_err(|e| format!("cannot write the new version to disk: {e}"))
}

#[cfg(unix)]
fn keep_owner_and_mode(file: &File, before: &Metadata) -> Result<(), String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt, fchown};
    let (uid, gid) = (before.uid(), before.gid());
    let now = file.metadata().map_err(|e| format!("cannot read the new version's owner: {e}"))?;
    if (now.uid(), now.gid()) != (uid, gid)
        && let Err(e) = fchown(file, Some(uid), Some(gid))
    {
        // Only root may give a file away; anyone may keep their own file in one of their groups.
        if now.uid() != uid {
            return Err(format!("cannot keep its owner (uid {uid}): {e}"));
        }
        fchown(file, None, Some(gid)).map_err(|e| format!("cannot keep its group (gid {gid}): {e}"))?;
    }
    // After the owner: changing it clears the set-user-ID and set-group-ID bits.
    file.set_permissions(std::fs::Permissions::from_mode(before.mode() & 0o7777))
        .map_err(|e| format!("cannot keep its permissions: {e}"))
}

#[cfg(not(unix))]
fn keep_owner_and_mode(file: &File, before: &Metadata) -> Result<(), String> {
    file.set_permissions(before.permissions()).map_err(|e| format!("cannot keep its permissions: {e}"))
}

/// A named temporary file beside `target`, created exclusively (readable by its owner only until it
/// gets the target's mode).
fn named_temp(target: &Path) -> Result<(File, PathBuf), String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    for n in 0..100 {
        let path = temp_path(target, n);
        match options.open(&path) {
            Ok(f) => return Ok((f, path)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot create a temporary file in {}: {e}", display_dir(target))),
        }
    }
    Err(format!("cannot create a temporary file in {}: too many exist", display_dir(target)))
}

fn display_dir(target: &Path) -> String {
    target.parent().map_or_else(|| ".".to_string(), |d| d.display().to_string())
}

/// An unnamed temporary file in `dir` (Linux), or `None` where that is not possible.
#[cfg(target_os = "linux")]
fn unnamed_temp(dir: &Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).custom_flags(libc::O_TMPFILE).mode(0o600).open(dir).ok()
}

#[cfg(not(target_os = "linux"))]
fn unnamed_temp(_dir: &Path) -> Option<File> {
    None
}

/// Gives an unnamed temporary file a name beside `target`.
#[cfg(target_os = "linux")]
fn link_unnamed(file: &File, target: &Path) -> Result<PathBuf, String> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::io::AsRawFd;
    let fd = file.as_raw_fd();
    let proc_path = CString::new(format!("/proc/self/fd/{fd}")).expect("no NUL in a number");
    let mut last = String::new();
    for n in 0..100 {
        let path = temp_path(target, n);
        let Ok(c_path) = CString::new(path.as_os_str().as_bytes()) else {
            return Err("the path contains a NUL byte".to_string());
        };
        // SAFETY: valid NUL-terminated paths and an open descriptor.
        let mut rc = unsafe {
            libc::linkat(libc::AT_FDCWD, proc_path.as_ptr(), libc::AT_FDCWD, c_path.as_ptr(), libc::AT_SYMLINK_FOLLOW)
        };
        if rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOENT) {
            // No /proc: AT_EMPTY_PATH does the same for a privileged process.
            // SAFETY: as above; the empty path names the descriptor itself.
            rc = unsafe { libc::linkat(fd, c"".as_ptr(), libc::AT_FDCWD, c_path.as_ptr(), libc::AT_EMPTY_PATH) };
        }
        if rc == 0 {
            return Ok(path);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            continue;
        }
        last = e.to_string();
        break;
    }
    Err(format!("cannot name the temporary file in {}: {last}", display_dir(target)))
}

#[cfg(not(target_os = "linux"))]
fn link_unnamed(_file: &File, _target: &Path) -> Result<PathBuf, String> {
    unreachable!("unnamed temporary files exist on Linux only")
}

/// While alive, SIGINT, SIGTERM and SIGHUP do not end the process: they are recorded, for the writer
/// to stop between two files (signals the process ignores stay ignored). Dropping it restores the
/// previous handlers; `reraise` then ends the process by the signal received, as the caller expects.
pub struct InterruptGuard {
    #[cfg(unix)]
    previous: Vec<(libc::c_int, libc::sighandler_t)>,
}

#[cfg(unix)]
static RECEIVED: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

#[cfg(unix)]
extern "C" fn record(signal: libc::c_int) {
    RECEIVED.store(signal, std::sync::atomic::Ordering::SeqCst);
}

impl InterruptGuard {
    #[cfg(unix)]
    pub fn install() -> InterruptGuard {
        let mut previous = Vec::new();
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            // SAFETY: `record` only stores into an atomic, which is async-signal-safe.
            let old = unsafe { libc::signal(sig, record as *const () as libc::sighandler_t) };
            if old == libc::SIG_IGN {
                // SAFETY: restoring the disposition just read.
                unsafe { libc::signal(sig, libc::SIG_IGN) };
            } else if old != libc::SIG_ERR {
                previous.push((sig, old));
            }
        }
        InterruptGuard { previous }
    }

    #[cfg(not(unix))]
    pub fn install() -> InterruptGuard {
        InterruptGuard {}
    }

    /// The signal received since the guard was installed, if any.
    pub fn received(&self) -> Option<i32> {
        #[cfg(unix)]
        {
            let s = RECEIVED.load(std::sync::atomic::Ordering::SeqCst);
            if s != 0 {
                return Some(s);
            }
        }
        None
    }
}

impl Drop for InterruptGuard {
    fn drop(&mut self) {
        #[cfg(unix)]
        for (sig, old) in self.previous.drain(..) {
            // SAFETY: restoring a disposition read by `install`.
            unsafe { libc::signal(sig, old) };
        }
    }
}

/// Ends the process by `signal` (with its default action), as if it had not been held back.
pub fn reraise(signal: i32) {
    #[cfg(unix)]
    // SAFETY: default action, then the signal to this process; it does not return for a fatal signal.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
    let _ = signal;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_content_keeping_the_mode_and_leaving_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.py");
        std::fs::write(&path, "old\n").unwrap();
        #[cfg(unix)]
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o754)).unwrap();
        let before = std::fs::metadata(&path).unwrap();
        assert_eq!(replace(&path, b"new\n", &before), Ok(Replaced::Done));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        #[cfg(unix)]
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).unwrap().permissions()) & 0o777,
            0o754
        );
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["a.py"]);
    }

    #[test]
    fn a_file_changed_since_it_was_read_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.py");
        std::fs::write(&path, "old\n").unwrap();
        let before = std::fs::metadata(&path).unwrap();
        std::fs::write(&path, "edited by the user\n").unwrap();
        assert_eq!(replace(&path, b"new\n", &before), Ok(Replaced::Changed));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "edited by the user\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn the_named_fallback_works_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.py");
        let (mut f, tmp) = named_temp(&path).unwrap();
        assert!(tmp.file_name().unwrap().to_str().unwrap().starts_with(".a.py.loopsafe-"));
        assert!(tmp.to_str().unwrap().ends_with(".tmp"));
        f.write_all(b"x").unwrap();
        drop(f);
        let (_, second) = named_temp(&path).unwrap();
        assert_ne!(tmp, second);
    }
}
