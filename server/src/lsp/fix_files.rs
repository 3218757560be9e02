//! What the quick fixes across the workspace read besides texts, kept between requests (issue 18: each
//! quick fix on a chain walked the workspace, canonicalised every path, and parsed and queried every
//! file it looked at; in the soak, a quarter of the server's CPU).
//!
//! - The workspace's Python files (the walk `check::collect_files` makes, as canonical paths, sorted)
//!   and each one's module names are kept while what they depend on is unchanged: the roots, the
//!   settings, and the directories holding the files, whose modification times are checked at each
//!   use (a file created, deleted or renamed in one changes its time); and no file the watcher reported
//!   since was created where the list has none, or is gone where it has one (`disk_changed`, from the
//!   refresher: for a file created in a directory that held no Python file). A directory modified
//!   within `RACY` of the walk is not trusted, since a change within the clock's granularity may not
//!   change its time again: the next use walks again.
//! - Each file's parse and routes (`fix::Parsed`), kept with the text they were made from and reused
//!   only for that exact text; all dropped when the catalog changes, a file's when it leaves the list.
//!
//! Texts are not kept: open documents' come from their buffers, other files are read at each use. No fix
//! is kept (ARCHITECTURE invariant 5): every action is computed from these each time.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::Config;
use crate::catalog::Catalog;
use crate::fix::Parsed;

/// A directory modified this close to the walk may change again without its time changing (file times
/// are the clock's at its last tick: at most 10 ms old with the kernel's slowest tick, 100 Hz).
const RACY: Duration = Duration::from_millis(50);

/// The workspace's Python files, as the fixes across the workspace list them.
pub(super) struct Listing {
    roots: Vec<PathBuf>,
    /// The configuration the walk used (its excludes): compared by identity.
    config: Arc<Config>,
    /// `FixFiles::generation` when the walk started.
    generation: u64,
    /// Canonical paths, sorted.
    pub(super) paths: Vec<PathBuf>,
    /// Each path's module names (`project::module_names`).
    pub(super) modules: Vec<Vec<String>>,
    /// Every directory holding a listed file, and the roots, up to the root: with its modification time.
    dirs: Vec<(PathBuf, Option<SystemTime>)>,
    /// No directory was modified within `RACY` of the walk.
    trusted: bool,
}

impl Listing {
    /// Walks the workspace as the fixes across it always did.
    fn walk(roots: &[PathBuf], config: &Arc<Config>, generation: u64) -> Result<Listing, String> {
        let started = SystemTime::now();
        let root = roots.first().cloned();
        let opts = crate::check::CheckOptions {
            paths: roots,
            settings: &config.settings,
            root: root.as_deref(),
            follow: false,
            cache_dir: None,
        };
        // The walk does not follow symbolic links: below a canonical root, what it lists is canonical
        // already (one `realpath` per root, not one per file).
        let canonical: Vec<&PathBuf> =
            roots.iter().filter(|r| std::fs::canonicalize(r).is_ok_and(|c| c == **r)).collect();
        let mut paths: Vec<PathBuf> = crate::check::collect_files(&opts)?
            .into_iter()
            .map(|p| match canonical.iter().any(|r| p.starts_with(r)) {
                true => p,
                false => std::fs::canonicalize(&p).unwrap_or(p),
            })
            .collect();
        paths.sort();
        let modules = module_names(&paths, root.as_deref());
        let mut dirs: HashSet<&Path> = roots.iter().map(PathBuf::as_path).collect();
        for p in &paths {
            let Some(under) = roots.iter().find(|r| p.starts_with(r)) else {
                dirs.extend(p.parent());
                continue;
            };
            let mut d = p.parent();
            while let Some(dir) = d.filter(|d| d.starts_with(under)) {
                if !dirs.insert(dir) {
                    break;
                }
                d = dir.parent();
            }
        }
        let dirs: Vec<(PathBuf, Option<SystemTime>)> =
            dirs.into_iter().map(|d| (d.to_path_buf(), modified(d))).collect();
        let since = started.checked_sub(RACY).unwrap_or(SystemTime::UNIX_EPOCH);
        let trusted = dirs.iter().all(|(_, t)| t.is_some_and(|t| t < since));
        Ok(Listing { roots: roots.to_vec(), config: config.clone(), generation, paths, modules, dirs, trusted })
    }

    /// Whether this walk still lists the workspace's files.
    fn current(&self, roots: &[PathBuf], config: &Arc<Config>, generation: u64) -> bool {
        self.trusted
            && self.generation == generation
            && self.roots == roots
            && Arc::ptr_eq(&self.config, config)
            && self.dirs.iter().all(|(d, t)| modified(d) == *t)
    }
}

/// Each path's module names, with the packages (directories holding an `__init__.py`) `paths` show.
pub(super) fn module_names(paths: &[PathBuf], root: Option<&Path>) -> Vec<Vec<String>> {
    let dirs_with_init: HashSet<PathBuf> = paths
        .iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "__init__.py"))
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .collect();
    paths.iter().map(|p| crate::project::module_names(p, &dirs_with_init, root)).collect()
}

fn modified(dir: &Path) -> Option<SystemTime> {
    std::fs::metadata(dir).and_then(|m| m.modified()).ok()
}

/// The parses of the workspace's files, for the catalog they were queried with.
#[derive(Default)]
struct ParsedFiles {
    catalog: Option<Arc<Catalog>>,
    /// By canonical path: the text parsed, and its parse.
    files: HashMap<PathBuf, (String, Arc<Parsed>)>,
}

/// What the quick fixes across the workspace keep between requests (see the module's documentation).
#[derive(Default)]
pub(super) struct FixFiles {
    listing: Mutex<Option<Arc<Listing>>>,
    /// Counts files the watcher reported created where the listing has none, or gone where it has one.
    generation: AtomicU64,
    parsed: Mutex<ParsedFiles>,
}

impl FixFiles {
    /// The workspace's Python files, walked again only when the kept walk may be out of date. Runs off
    /// the async thread (it reads directories).
    pub(super) fn listing(&self, roots: &[PathBuf], config: &Arc<Config>) -> Result<Arc<Listing>, String> {
        let generation = self.generation.load(Ordering::SeqCst);
        let kept = self.listing.lock().expect("listing lock").clone();
        if let Some(l) = kept.filter(|l| l.current(roots, config, generation)) {
            return Ok(l);
        }
        let walked = Arc::new(Listing::walk(roots, config, generation)?);
        *self.listing.lock().expect("listing lock") = Some(walked.clone());
        Ok(walked)
    }

    /// Python files the watcher reported (canonical paths), on the refresher's thread: the kept walk is
    /// dropped when one of them exists and is not listed, or is listed and no longer exists.
    pub(super) fn disk_changed(&self, paths: &[PathBuf]) {
        let kept = self.listing.lock().expect("listing lock").clone();
        let Some(listing) = kept else { return };
        let stale = paths.iter().any(|p| {
            let listed = listing.paths.binary_search(p).is_ok();
            let exists = std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file());
            listed != exists
        });
        if stale {
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// The parse of each file (`files[i]`: its canonical path and its text), kept for that text; the
    /// entries of files not in `files` are dropped, all of them when `catalog` is not the one before.
    pub(super) fn parsed(&self, catalog: &Arc<Catalog>, files: &[(&Path, &str)]) -> Vec<Arc<Parsed>> {
        let mut kept = self.parsed.lock().expect("parsed lock");
        let kept = &mut *kept;
        if !kept.catalog.as_ref().is_some_and(|c| Arc::ptr_eq(c, catalog)) {
            kept.files.clear();
            kept.catalog = Some(catalog.clone());
        }
        let out: Vec<Arc<Parsed>> = files.iter().map(|(path, text)| entry(&mut kept.files, path, text)).collect();
        if kept.files.len() > files.len() {
            let listed: HashSet<&Path> = files.iter().map(|(p, _)| *p).collect();
            kept.files.retain(|p, _| listed.contains(p.as_path()));
        }
        out
    }

    /// The parse of one file (its canonical path and its text), kept for that text.
    pub(super) fn parsed_one(&self, catalog: &Arc<Catalog>, path: &Path, text: &str) -> Arc<Parsed> {
        let mut kept = self.parsed.lock().expect("parsed lock");
        let kept = &mut *kept;
        if !kept.catalog.as_ref().is_some_and(|c| Arc::ptr_eq(c, catalog)) {
            kept.files.clear();
            kept.catalog = Some(catalog.clone());
        }
        entry(&mut kept.files, path, text)
    }
}

/// The entry of `path` when it was made from `text`, else a new one (replacing it).
fn entry(files: &mut HashMap<PathBuf, (String, Arc<Parsed>)>, path: &Path, text: &str) -> Arc<Parsed> {
    match files.get(path) {
        Some((t, p)) if t == text => p.clone(),
        _ => {
            let p = Arc::new(Parsed::default());
            files.insert(path.to_path_buf(), (text.to_string(), p.clone()));
            p
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;

    fn config() -> Arc<Config> {
        Arc::new(Config {
            settings: Settings::default(),
            catalog: Arc::new(Catalog::bundled().clone()),
            baseline: None,
            runtime: None,
        })
    }

    /// The kept walk is used while nothing changed, and walked again after a file is created, deleted,
    /// or created in a directory that held no Python file once the watcher reports it.
    #[test]
    fn the_listing_follows_files_created_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir_all(root.join("pkg")).unwrap();
        std::fs::create_dir_all(root.join("docs")).unwrap();
        std::fs::write(root.join("pkg/a.py"), "x = 1\n").unwrap();
        std::fs::write(root.join("pkg/__init__.py"), "").unwrap();
        let roots = vec![root.clone()];
        let config = config();
        let files = FixFiles::default();
        let names = |l: &Listing| -> Vec<String> {
            l.paths.iter().map(|p| p.strip_prefix(&root).unwrap().display().to_string()).collect()
        };
        // Directories just written are not trusted: each use walks again until they are old enough.
        let first = files.listing(&roots, &config).unwrap();
        assert_eq!(names(&first), ["pkg/__init__.py", "pkg/a.py"]);
        assert_eq!(first.modules[1], ["pkg.a"]);
        assert!(!first.trusted);
        std::thread::sleep(RACY + Duration::from_millis(20));
        let walked = files.listing(&roots, &config).unwrap();
        assert!(walked.trusted);
        assert!(Arc::ptr_eq(&walked, &files.listing(&roots, &config).unwrap()), "kept while nothing changed");
        // A file created beside the others: its directory's time changed.
        std::fs::write(root.join("pkg/b.py"), "y = 2\n").unwrap();
        assert_eq!(names(&files.listing(&roots, &config).unwrap()), ["pkg/__init__.py", "pkg/a.py", "pkg/b.py"]);
        std::thread::sleep(RACY + Duration::from_millis(20));
        let kept = files.listing(&roots, &config).unwrap();
        // A file created where no Python file was: seen once the watcher reports it.
        std::fs::write(root.join("docs/conf.py"), "z = 3\n").unwrap();
        files.disk_changed(&[root.join("pkg/a.py")]);
        assert!(Arc::ptr_eq(&kept, &files.listing(&roots, &config).unwrap()), "a.py was listed and exists");
        files.disk_changed(&[root.join("docs/conf.py")]);
        let after = files.listing(&roots, &config).unwrap();
        assert_eq!(names(&after), ["docs/conf.py", "pkg/__init__.py", "pkg/a.py", "pkg/b.py"]);
        // A file deleted.
        std::thread::sleep(RACY + Duration::from_millis(20));
        files.listing(&roots, &config).unwrap();
        std::fs::remove_file(root.join("pkg/b.py")).unwrap();
        assert_eq!(names(&files.listing(&roots, &config).unwrap()), ["docs/conf.py", "pkg/__init__.py", "pkg/a.py"]);
        // Other settings: walked again.
        std::thread::sleep(RACY + Duration::from_millis(20));
        let kept = files.listing(&roots, &config).unwrap();
        assert!(!Arc::ptr_eq(&kept, &files.listing(&roots, &self::config()).unwrap()));
    }

    /// A parse is reused for the same text only.
    #[test]
    fn a_parse_is_kept_for_its_text() {
        let catalog = Arc::new(Catalog::bundled().clone());
        let files = FixFiles::default();
        let (a, b) = (Path::new("/w/a.py"), Path::new("/w/b.py"));
        let first = files.parsed(&catalog, &[(a, "x = 1\n"), (b, "y = 1\n")]);
        let again = files.parsed(&catalog, &[(a, "x = 1\n"), (b, "y = 2\n")]);
        assert!(Arc::ptr_eq(&first[0], &again[0]));
        assert!(!Arc::ptr_eq(&first[1], &again[1]));
        assert!(Arc::ptr_eq(&again[0], &files.parsed_one(&catalog, a, "x = 1\n")));
        let other = Arc::new(Catalog::bundled().clone());
        assert!(!Arc::ptr_eq(&again[0], &files.parsed_one(&other, a, "x = 1\n")));
    }
}
