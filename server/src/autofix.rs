//! `loopsafe check --fix / --unsafe-fixes / --diff`, and the fixes listed in JSON output: the I/O edge
//! around the pure fix engine (`fix`). Files are re-read and compared with the content hash the check
//! saw; a file that changed on disk in between is left alone with a warning.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::Path;

use crate::check::{Diagnostic, Report, Source, read_source};
use crate::fix::{self, FileContext, Options, ReportedEdit, ReportedFix, ReportedPosition, Shared, Target};
use crate::line_index::{ColumnUnit, LineIndex};
use crate::settings::Settings;
use crate::{cache, catalog::Catalog};

/// Libraries whose presence means `anyio` is installed (FastAPI, Starlette and httpx depend on it).
const ANYIO_PROVIDERS: &[&str] = &["anyio", "fastapi", "starlette", "httpx"];

/// The fix options for a run over `paths`.
pub fn options(settings: &Settings, paths: &[std::path::PathBuf]) -> Options {
    let start = paths.first().map_or(Path::new("."), |p| p.as_path());
    Options::new(settings, crate::config::project_depends_on(start, ANYIO_PROVIDERS))
        .with_http_module(http_module(start))
}

/// The module the httpx rewrite writes from in a file that imports no httpx: an alternative distribution
/// of httpx's API (the catalog's `[aliases]`, e.g. `httpx2`) that the project depends on while it does
/// not depend on httpx itself.
pub fn http_module(start: &Path) -> Option<String> {
    if crate::config::project_depends_on(start, &["httpx"]) {
        return None;
    }
    let alternatives = crate::catalog::Catalog::bundled().alternatives_of("httpx");
    alternatives.into_iter().find(|m| crate::config::project_depends_on(start, &[m])).map(str::to_string)
}

/// A file's fixed text.
pub struct FileFix {
    pub path: String,
    pub original: String,
    pub fixed: fix::FixedText,
    /// The content hash of `original` (the file is written only if it still has it).
    pub hash: u128,
    /// Files with the same group are written all or none (a chain made async across modules).
    pub group: Option<usize>,
}

/// The report's diagnostics grouped by file (in path order).
fn by_file(report: &Report) -> BTreeMap<&str, Vec<&Diagnostic>> {
    let mut files: BTreeMap<&str, Vec<&Diagnostic>> = BTreeMap::new();
    for d in &report.diagnostics {
        files.entry(d.path.as_str()).or_default().push(d);
    }
    files
}

/// Reads a reported file again; `None` (with a warning) when it is not what the check analysed.
fn reread(
    report: &Report,
    path: &str,
    overlay: Option<&crate::check::Overlay>,
    warnings: &mut Vec<String>,
) -> Option<(String, u128)> {
    let Source::Text { text } = read_overlaid(Path::new(path), None, overlay) else { return None };
    let hash = cache::content_hash(&text);
    if report.hashes.get(path).is_some_and(|h| *h != hash) {
        warnings.push(format!("{path}: changed on disk while loopsafe was running; not fixed"));
        return None;
    }
    Some((text, hash))
}

/// A file's text: `overlay`'s where it holds the file (by canonical path, `canonical` when known).
fn read_overlaid(path: &Path, canonical: Option<&Path>, overlay: Option<&crate::check::Overlay>) -> Source {
    if let Some(o) = overlay {
        let c = canonical.map(Path::to_path_buf).or_else(|| std::fs::canonicalize(path).ok());
        if let Some(text) = c.and_then(|c| o.get(&c)) {
            return Source::Text { text: text.clone() };
        }
    }
    read_source(path)
}

fn chain_target(d: &Diagnostic) -> Target {
    Target::from_finding(&d.finding, true)
}

/// Computes the fixed text of every reported file with fixable findings (nothing is written).
pub fn compute(
    report: &Report,
    catalog: &Catalog,
    settings: &Settings,
    options: &Options,
    allow_unsafe: bool,
    warnings: &mut Vec<String>,
) -> Vec<FileFix> {
    let run = FixRun { skipped: &|_| false, catalog, settings, options, allow_unsafe, workspace: None, overlay: None };
    compute_except(report, &run, warnings)
}

/// The inputs of a fix run ([`compute_except`], [`fix_until_converged`]).
pub struct FixRun<'a> {
    /// The findings left alone (those a baseline holds).
    pub skipped: &'a dyn Fn(&Diagnostic) -> bool,
    pub catalog: &'a Catalog,
    pub settings: &'a Settings,
    pub options: &'a Options,
    /// Whether unsafe fixes apply too (`--unsafe-fixes`).
    pub allow_unsafe: bool,
    /// The check's options: with `allow_unsafe`, chains are made async across the workspace they
    /// describe, and the rounds of [`fix_until_converged`] check it again.
    pub workspace: Option<&'a crate::check::CheckOptions<'a>>,
    /// Texts that stand in for files on disk (`--diff`'s later rounds, see [`diff_until_converged`]).
    pub overlay: Option<&'a crate::check::Overlay>,
}

/// [`compute`] leaving alone the findings `run.skipped` picks (those a baseline holds). With `allow_unsafe`
/// and the `workspace` (the check's options), a chain finding is first made async across the workspace
/// (`fix::make_async_everywhere`: every call site in every file awaited, or refused), which `--unsafe-fixes`
/// prefers to offloading the helper; the files it rewrites form a group written all or none.
pub fn compute_except(report: &Report, run: &FixRun<'_>, warnings: &mut Vec<String>) -> Vec<FileFix> {
    compute_remembering(report, run, &mut Refused::default(), warnings)
}

/// Chains refused across the workspace, kept from one round of [`fix_until_converged`] (or
/// [`diff_until_converged`]) to the next with what each try read of the files (`fix::Read`): a chain
/// refused on texts that read the same is refused again without being tried (issue 18: every later round
/// tried every refused chain again, each a walk of its chain's functions and their callers).
#[derive(Default)]
struct Refused {
    /// The workspace's files (display paths) the reads' indices are into: another list forgets them.
    paths: Vec<String>,
    /// By the finding's file and range: its target and the reads of the try that refused it.
    tries: HashMap<(String, Range<usize>), Vec<RefusedTry>>,
    /// Chains skipped so (logged at debug level).
    skipped: usize,
    /// Files whose per-file fixes changed nothing, with what they were computed from (the text's content
    /// hash, the chain targets and the findings left alone): the same inputs change nothing again (the
    /// file's settings, the catalog and the fix options are the run's).
    unchanged: HashMap<String, (u128, Vec<Target>, Vec<Target>)>,
    /// Files skipped so (logged at debug level).
    files_skipped: usize,
}

/// A chain's target and what the try that refused it read.
type RefusedTry = (Target, Vec<fix::Read>);

/// [`compute_except`] remembering refused chains in `refused` (see [`Refused`]).
fn compute_remembering(
    report: &Report,
    run: &FixRun<'_>,
    refused: &mut Refused,
    warnings: &mut Vec<String>,
) -> Vec<FileFix> {
    let FixRun { skipped, catalog, settings, options, allow_unsafe, workspace, overlay } = *run;
    let chains = match workspace.filter(|_| allow_unsafe) {
        Some(opts) => chains_across(report, run, opts, refused, warnings),
        None => Across::default(),
    };
    let mut out = Vec::new();
    let by_file = by_file(report);
    let others = other_places(report, skipped);
    let mut paths: Vec<&str> = by_file.keys().copied().collect();
    for p in chains.files.keys().map(String::as_str).chain(others.keys().copied()) {
        if !by_file.contains_key(p) && !paths.contains(&p) {
            paths.push(p);
        }
    }
    paths.sort();
    for path in paths {
        let diags = by_file.get(path).cloned().unwrap_or_default();
        let (skip, fixable): (Vec<&Diagnostic>, Vec<&Diagnostic>) = diags.into_iter().partition(|d| skipped(d));
        let across = chains.files.get(path);
        let elsewhere = others.get(path).map_or(&[][..], Vec::as_slice);
        if fixable.is_empty() && across.is_none() && elsewhere.is_empty() {
            continue;
        }
        let (original, hash, text, applied, group) = match across {
            Some(a) => (a.original.clone(), a.hash, a.text.clone(), a.applied, Some(a.group)),
            None => {
                let Some((text, hash)) = reread(report, path, overlay, warnings) else { continue };
                (text.clone(), hash, text, 0, None)
            }
        };
        // A file rewritten across the workspace: its chain findings' ranges are stale (they are found
        // again by the next run), and so are the baseline's.
        let (chain_targets, skip): (Vec<Target>, Vec<Target>) = if across.is_some() {
            (Vec::new(), Vec::new())
        } else {
            (
                fixable.iter().filter(|d| d.is_chain()).map(|d| chain_target(d)).collect(),
                skip.iter().map(|d| Target::from_finding(&d.finding, d.is_chain())).collect(),
            )
        };
        // The file's `per-file-ignores` hold for its fixes too.
        let settings = settings.for_file(Path::new(path));
        let mut chain_targets = chain_targets;
        if across.is_none() {
            chain_targets.extend(places_in(&text, elsewhere, &settings));
        }
        // A file the last round left as it was, with the same text and findings, is left so again.
        let inputs = across.is_none().then(|| (hash, chain_targets.clone(), skip.clone()));
        if let Some(i) = &inputs
            && refused.unchanged.get(path).is_some_and(|u| u == i)
        {
            refused.files_skipped += 1;
            continue;
        }
        let mut fixed = fix::fix_all_except(&text, chain_targets, skip, catalog, &settings, options, allow_unsafe);
        if let Some(i) = inputs
            && fixed.text == original
        {
            refused.unchanged.insert(path.to_string(), i);
        }
        if let Some(a) = across {
            fixed.applied += applied;
            let mut titles = a.titles.clone();
            titles.append(&mut fixed.titles);
            fixed.titles = titles;
        }
        if fixed.text != original {
            out.push(FileFix { path: path.to_string(), original, fixed, hash, group });
        }
    }
    out
}

/// The other places of folded findings (one-time work that several coroutines reach is reported once,
/// at its first call site, the others listed as related places), by file: each offset with its finding.
/// `--fix` fixes each place as it fixes the reported one; otherwise the next run would report, and fix,
/// the next place, and a second `--fix` would never be a no-op.
fn other_places<'r>(
    report: &'r Report,
    skipped: &dyn Fn(&Diagnostic) -> bool,
) -> BTreeMap<&'r str, Vec<(usize, &'r Diagnostic)>> {
    let mut out: BTreeMap<&str, Vec<(usize, &Diagnostic)>> = BTreeMap::new();
    for d in report.diagnostics.iter().filter(|d| d.is_chain() && !d.related.is_empty() && !skipped(d)) {
        for h in &d.related {
            if let Some(offset) = h.offset {
                out.entry(h.path.as_str()).or_default().push((offset, d));
            }
        }
    }
    out
}

/// The fix targets of the other places of folded findings in one file's `text` (see [`other_places`]):
/// the call starting at each place, unless the file's settings leave the rule out or a `# noqa` there
/// suppresses it.
fn places_in(text: &str, places: &[(usize, &Diagnostic)], settings: &Settings) -> Vec<Target> {
    let places: Vec<&(usize, &Diagnostic)> =
        places.iter().filter(|(o, d)| *o < text.len() && settings.enabled(d.finding.rule)).collect();
    if places.is_empty() {
        return Vec::new();
    }
    let Some(tree) = crate::syntax::parse(text, None) else { return Vec::new() };
    let mut out = Vec::new();
    for &&(offset, d) in &places {
        // The smallest call that starts at the place (the hop's location is its call's start).
        let mut node = tree.root_node().descendant_for_byte_range(offset, offset);
        while let Some(n) = node.filter(|n| n.start_byte() == offset && n.kind() != "call") {
            node = n.parent();
        }
        let Some(call) = node.filter(|n| n.start_byte() == offset && n.kind() == "call") else { continue };
        let range = call.byte_range();
        if crate::analysis::noqa::is_suppressed_at(text, d.finding.rule, &range) {
            continue;
        }
        out.push(Target { range, ..chain_target(d) });
    }
    out
}

/// The files chains made async across the workspace rewrote.
#[derive(Default)]
struct Across {
    files: BTreeMap<String, AcrossFile>,
}

struct AcrossFile {
    original: String,
    hash: u128,
    text: String,
    applied: usize,
    titles: Vec<String>,
    group: usize,
}

/// Makes the chain findings async across the workspace, one after the other on the rewritten texts (a
/// finding whose file an earlier one rewrote is left to the per-file fixes and the next run).
fn chains_across(
    report: &Report,
    run: &FixRun<'_>,
    opts: &crate::check::CheckOptions<'_>,
    refused: &mut Refused,
    warnings: &mut Vec<String>,
) -> Across {
    let FixRun { skipped, catalog, options, overlay, .. } = *run;
    let mut out = Across::default();
    let chains: Vec<&Diagnostic> = report.diagnostics.iter().filter(|d| d.is_chain() && !skipped(d)).collect();
    if chains.is_empty() {
        return out;
    }
    let Ok(paths) =
        crate::check::collect_files(&crate::check::CheckOptions { follow: false, cache_dir: None, ..opts.clone() })
    else {
        return out;
    };
    let canon: Vec<std::path::PathBuf> =
        paths.iter().map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())).collect();
    let dirs_with_init: std::collections::HashSet<std::path::PathBuf> = canon
        .iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "__init__.py"))
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .collect();
    let root = opts.root.map(|r| std::fs::canonicalize(r).unwrap_or_else(|_| r.to_path_buf()));
    // (display path, original, hash, current text, module names); unreadable files are left out.
    let mut files: Vec<(String, String, u128, String, Vec<String>)> = Vec::new();
    for (p, c) in paths.iter().zip(&canon) {
        let shown = crate::check::display_path(p);
        let Source::Text { text } = read_overlaid(p, Some(c), overlay) else { continue };
        let hash = cache::content_hash(&text);
        if report.hashes.get(&shown).is_some_and(|h| *h != hash) {
            warnings.push(format!("{shown}: changed on disk while loopsafe was running; not fixed"));
            return Across::default();
        }
        let modules = crate::project::module_names(c, &dirs_with_init, root.as_deref());
        files.push((shown, text.clone(), hash, text, modules));
    }
    if refused.paths.len() != files.len() || refused.paths.iter().zip(&files).any(|(p, f)| *p != f.0) {
        refused.paths = files.iter().map(|f| f.0.clone()).collect();
        refused.tries.clear();
    }
    let mut groups: Vec<usize> = (0..files.len()).collect();
    let mut touched: BTreeMap<usize, (usize, Vec<String>)> = BTreeMap::new();
    // Each file's parse and routes, kept from one chain to the next while its text is unchanged (a
    // chain refused or made async elsewhere leaves it as it was): a file with many chains is parsed and
    // queried once, not once per chain (findings x file size).
    let mut parsed: Vec<fix::Parsed> = files.iter().map(|_| fix::Parsed::default()).collect();
    let mut next = 0;
    while next < chains.len() {
        // The chains tried on the same texts (every one refused until one is made async) share each
        // file's context, and a chain whose rewrite surely refuses is refused without it (`Tries`): a
        // round trying a file's many chain findings costs their chains, not chains x file size.
        let made = {
            let ws: Vec<fix::WorkspaceFile<'_>> = files
                .iter()
                .map(|(shown, _, _, text, modules)| fix::WorkspaceFile { path: shown, text, modules: modules.clone() })
                .collect();
            let kept: Vec<&fix::Parsed> = parsed.iter().collect();
            let tries = fix::Tries::new(ws.len(), true);
            let mut made = None;
            while next < chains.len() {
                let d = chains[next];
                next += 1;
                let Some(home) = files.iter().position(|f| f.0 == d.path) else { continue };
                if touched.contains_key(&home) {
                    continue;
                }
                let target = chain_target(d);
                let key = (d.path.clone(), target.range.clone());
                if refused
                    .tries
                    .get(&key)
                    .is_some_and(|v| v.iter().any(|(t, reads)| *t == target && tries.reads_hold(&ws, reads)))
                {
                    refused.skipped += 1;
                    continue;
                }
                tries.take_reads();
                match fix::make_async_tried(&ws, &kept, &tries, home, &target, catalog, options) {
                    Ok(m) => {
                        made = Some((home, m));
                        break;
                    }
                    Err(_) => refused.tries.entry(key).or_default().push((target, tries.take_reads())),
                }
            }
            made
        };
        let Some((home, fix::MadeAsync { title, edits, .. })) = made else { break };
        let mut new_texts = Vec::new();
        for (i, e) in &edits {
            let Some(t) = fix::apply(&files[*i].3, e) else { break };
            new_texts.push((*i, t));
        }
        if new_texts.len() != edits.len() {
            continue;
        }
        // One group for the files of this fix and of any earlier one sharing a file with it.
        let group = groups[home];
        for (i, t) in new_texts {
            let old = groups[i];
            for g in &mut groups {
                if *g == old {
                    *g = group;
                }
            }
            files[i].3 = t;
            parsed[i] = fix::Parsed::default();
            let entry = touched.entry(i).or_insert((0, Vec::new()));
            if i == home {
                entry.0 += 1;
                entry.1.push(title.clone());
            }
        }
    }
    for (i, (applied, titles)) in touched {
        let (shown, original, hash, text, _) = &files[i];
        out.files.insert(
            shown.clone(),
            AcrossFile {
                original: original.clone(),
                hash: *hash,
                text: text.clone(),
                applied,
                titles,
                group: groups[i],
            },
        );
    }
    out
}

/// The most rounds of `--fix` in one run ([`fix_until_converged`]).
pub const MAX_ROUNDS: usize = 10;

/// What `--fix` did over its rounds.
#[derive(Default)]
pub struct Converged {
    /// The writes of every round added up (`files`: distinct files written).
    pub written: Written,
    /// The files written, each once, in the order first written.
    pub paths: Vec<String>,
    /// The check after the last round that wrote something (`None`: nothing was written).
    pub report: Option<Report>,
    /// Rounds that wrote fixes.
    pub rounds: usize,
}

/// `--fix`: writes the fixes [`compute_except`] finds in `report`, analyses the workspace again and
/// repeats while a round writes something, at most [`MAX_ROUNDS`] rounds (as ruff's fix loop). One
/// round makes at most one chain per file async across the workspace (the next chain's ranges are
/// stale after it), and a fix can uncover another (a helper made async leaves its caller's blocking call found); the loop applies
/// those in the same run, so that a second run has nothing left to change. A round that writes
/// nothing, fails to write, or is interrupted ends it.
pub fn fix_until_converged(report: &Report, run: &FixRun<'_>, warnings: &mut Vec<String>) -> Result<Converged, String> {
    let opts = run.workspace.ok_or("the fix rounds need the check's options, to check again")?;
    let mut out = Converged::default();
    let mut refused = Refused::default();
    for round in 0..MAX_ROUNDS {
        // The first round fixes `report`; each later one the check after the round before.
        let current = out.report.as_ref().unwrap_or(report);
        let fixes = compute_remembering(current, run, &mut refused, warnings);
        if fixes.is_empty() {
            break;
        }
        let written = write(&fixes, warnings);
        let mut new_paths = 0;
        for f in &fixes {
            if !out.paths.contains(&f.path) {
                out.paths.push(f.path.clone());
                new_paths += 1;
            }
        }
        // A file written in two rounds counts once.
        out.written.files += written.files.min(new_paths);
        out.written.fixes += written.fixes;
        out.written.errors.extend(written.errors);
        out.written.interrupted = written.interrupted;
        if written.fixes == 0 || written.interrupted.is_some() || !out.written.errors.is_empty() {
            break;
        }
        out.rounds += 1;
        out.report = Some(crate::check::check(opts, run.catalog)?);
        if round + 1 == MAX_ROUNDS {
            warnings.push(format!(
                "round {MAX_ROUNDS} of the fixes, the last, still changed files: run --fix again for what remains"
            ));
        }
    }
    tracing::debug!(
        "--fix: {} chains skipped, refused before on what they read; {} files skipped, unchanged by the same fixes before",
        refused.skipped,
        refused.files_skipped
    );
    let mut seen = std::collections::HashSet::new();
    warnings.retain(|w| seen.insert(w.clone()));
    Ok(out)
}

/// `--diff`: what [`fix_until_converged`] would write, computed in memory: each round checks the texts
/// the rounds before it fixed (`check::check_overlaid`), nothing is written. One [`FileFix`] per file,
/// from its text on disk to its text after the last round, with the fixes of every round.
pub fn diff_until_converged(
    report: &Report,
    run: &FixRun<'_>,
    warnings: &mut Vec<String>,
) -> Result<Vec<FileFix>, String> {
    let opts = run.workspace.ok_or("the fix rounds need the check's options, to check again")?;
    let mut overlay = crate::check::Overlay::new();
    let mut files: BTreeMap<String, FileFix> = BTreeMap::new();
    let mut current: Option<Report> = None;
    let mut refused = Refused::default();
    for round in 0..MAX_ROUNDS {
        let fixes = {
            let this = FixRun { overlay: Some(&overlay), ..*run };
            compute_remembering(current.as_ref().unwrap_or(report), &this, &mut refused, warnings)
        };
        if fixes.is_empty() {
            break;
        }
        for f in fixes {
            let key = std::fs::canonicalize(&f.path).unwrap_or_else(|_| std::path::PathBuf::from(&f.path));
            overlay.insert(key, f.fixed.text.clone());
            match files.entry(f.path.clone()) {
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(f);
                }
                std::collections::btree_map::Entry::Occupied(mut e) => {
                    let all = e.get_mut();
                    all.fixed.applied += f.fixed.applied;
                    all.fixed.titles.extend(f.fixed.titles);
                    all.fixed.text = f.fixed.text;
                }
            }
        }
        if round + 1 == MAX_ROUNDS {
            warnings.push(format!(
                "round {MAX_ROUNDS} of the fixes, the last, still changed files: run --fix again for what remains"
            ));
            break;
        }
        current = Some(crate::check::check_overlaid(opts, run.catalog, &overlay)?);
    }
    let mut seen = std::collections::HashSet::new();
    warnings.retain(|w| seen.insert(w.clone()));
    Ok(files.into_values().filter(|f| f.fixed.text != f.original).collect())
}

/// What writing the fixes did.
#[derive(Debug, Default)]
pub struct Written {
    /// Files written and fixes in them.
    pub files: usize,
    pub fixes: usize,
    /// Files that could not be written, each left exactly as it was, with why (the run must fail).
    pub errors: Vec<String>,
    /// The signal (SIGINT, SIGTERM, SIGHUP) that stopped the writing between two files: the files not
    /// written yet are unchanged, and the caller should end by the same signal (`atomic_write::reraise`).
    pub interrupted: Option<i32>,
}

/// Writes the fixed files, each atomically (see `atomic_write`): at every moment a file is wholly its
/// old or its new version, with its mode, owner, symbolic link, UTF-8 BOM and line endings kept. A file
/// that changed on disk since the check read it is left alone with a warning; a file that cannot be
/// written is an error in `Written::errors`, and the file is untouched.
pub fn write(fixes: &[FileFix], warnings: &mut Vec<String>) -> Written {
    let guard = crate::atomic_write::InterruptGuard::install();
    let mut out = Written::default();
    let mut groups_done = std::collections::HashSet::new();
    for f in fixes {
        if let Some(signal) = guard.received() {
            out.interrupted = Some(signal);
            break;
        }
        if let Some(g) = f.group {
            if groups_done.insert(g) {
                let members: Vec<&FileFix> = fixes.iter().filter(|x| x.group == Some(g)).collect();
                write_group(&members, &mut out, warnings);
            }
            continue;
        }
        let links = hard_links(&f.path);
        match write_file(f) {
            Ok(true) => {
                out.files += 1;
                out.fixes += f.fixed.applied;
                if links > 1 {
                    warnings.push(format!(
                        "{}: had {links} hard links: it was replaced, and its other names keep the old version",
                        f.path
                    ));
                }
            }
            Ok(false) => warnings.push(format!("{}: changed on disk while loopsafe was running; not fixed", f.path)),
            Err(e) => out.errors.push(format!("{}: cannot write the fixes: {e}; the file is unchanged", f.path)),
        }
    }
    // A signal during the last file.
    out.interrupted = out.interrupted.or(guard.received());
    out
}

/// Writes the files of one group (a chain made async across modules) all or none: none is written when
/// one changed on disk since the check read it, and when one cannot be written those written before it
/// get their old content back (each replacement atomic, see `atomic_write`).
fn write_group(members: &[&FileFix], out: &mut Written, warnings: &mut Vec<String>) {
    let names = members.iter().map(|m| m.path.as_str()).collect::<Vec<_>>().join(", ");
    let unchanged = |m: &FileFix| matches!(read_source(Path::new(&m.path)), Source::Text { text } if cache::content_hash(&text) == m.hash);
    if let Some(m) = members.iter().find(|m| !unchanged(m)) {
        warnings.push(format!("{}: changed on disk while loopsafe was running; none of {names} fixed", m.path));
        return;
    }
    let mut written: Vec<(std::path::PathBuf, Vec<u8>)> = Vec::new();
    for m in members {
        let old = std::fs::canonicalize(&m.path).and_then(|t| std::fs::read(&t).map(|b| (t, b)));
        let result = match old {
            Ok(old) => write_file(m).map(|done| (done, old)),
            Err(e) => Err(format!("cannot read: {e}")),
        };
        match result {
            Ok((true, old)) => written.push(old),
            failed => {
                for (target, bytes) in written.iter().rev() {
                    let restored = std::fs::metadata(target)
                        .map_err(|e| e.to_string())
                        .and_then(|before| crate::atomic_write::replace(target, bytes, &before));
                    if let Err(e) = restored {
                        out.errors
                            .push(format!("{}: cannot restore after a failed group write: {e}", target.display()));
                    }
                }
                match failed {
                    Err(e) => {
                        out.errors.push(format!("{}: cannot write the fixes: {e}; none of {names} is changed", m.path))
                    }
                    _ => warnings
                        .push(format!("{}: changed on disk while loopsafe was running; none of {names} fixed", m.path)),
                }
                return;
            }
        }
    }
    out.files += members.len();
    out.fixes += members.iter().map(|m| m.fixed.applied).sum::<usize>();
}

/// How many names (hard links) the file at `path` has.
fn hard_links(path: &str) -> u64 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).map_or(1, |m| m.nlink())
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        1
    }
}

/// Writes one fixed file; `Ok(false)` when it changed on disk since the check read it.
fn write_file(f: &FileFix) -> Result<bool, String> {
    use crate::atomic_write::{Replaced, replace};
    // A symbolic link stays a link: the file it points to gets the fixes.
    let target = match std::fs::canonicalize(&f.path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(format!("cannot resolve the path: {e}")),
    };
    // The metadata first, the content after: a write in between shows in `replace`'s comparison.
    let before = std::fs::metadata(&target).map_err(|e| format!("cannot read: {e}"))?;
    if !before.is_file() {
        return Err("not a regular file".to_string());
    }
    let bytes = std::fs::read(&target).map_err(|e| format!("cannot read: {e}"))?;
    let Source::Text { text } = crate::check::decode_source(&target, &bytes) else { return Ok(false) };
    if cache::content_hash(&text) != f.hash {
        return Ok(false);
    }
    let body = with_line_endings_of(&f.original, &f.fixed.text);
    let mut new = Vec::with_capacity(body.len() + 3);
    if bytes.starts_with(UTF8_BOM) {
        new.extend_from_slice(UTF8_BOM);
    }
    new.extend_from_slice(body.as_bytes());
    Ok(replace(&target, &new, &before)? == Replaced::Done)
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// `fixed` with the line endings of `original`: when every line of the original ends with `\r\n`, a
/// bare `\n` a fix brought in becomes `\r\n` too. (The fix engine already writes the file's line
/// ending; this is the last guard at the edge.) Files with mixed or `\n` endings are left as they are.
pub fn with_line_endings_of<'a>(original: &str, fixed: &'a str) -> std::borrow::Cow<'a, str> {
    let lf = original.bytes().filter(|&b| b == b'\n').count();
    let crlf = original.matches("\r\n").count();
    let bare = |t: &str| t.split_inclusive('\n').any(|l| l.ends_with('\n') && !l.ends_with("\r\n"));
    if lf == 0 || crlf != lf || !bare(fixed) {
        return std::borrow::Cow::Borrowed(fixed);
    }
    let mut out = String::with_capacity(fixed.len() + fixed.len() / 32);
    for line in fixed.split_inclusive('\n') {
        match line.strip_suffix('\n') {
            Some(body) if !body.ends_with('\r') => {
                out.push_str(body);
                out.push_str("\r\n");
            }
            _ => out.push_str(line),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// "1 fix", "2 fixes".
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The unified diff of every fixed file.
pub fn diff(fixes: &[FileFix]) -> String {
    let mut s = String::new();
    for f in fixes {
        let d = similar::TextDiff::from_lines(&f.original, &f.fixed.text);
        let (a, b) = if Path::new(&f.path).is_absolute() {
            (f.path.clone(), f.path.clone())
        } else {
            (format!("a/{}", f.path), format!("b/{}", f.path))
        };
        let u = d.unified_diff().context_radius(3).missing_newline_hint(true).header(&a, &b).to_string();
        s.push_str(&u);
        if !u.ends_with('\n') {
            s.push('\n');
        }
    }
    s
}

/// How many findings of one file `attach_fixes` shares out between threads, at least.
const FINDINGS_PER_CHUNK: usize = 512;

/// Fills each diagnostic's `fixes` (for JSON output): title, applicability and edits with 1-based lines
/// and character columns, safest first; suppressions are not listed. Each file is read, parsed and
/// indexed once, and each fix checked on the statements it edits: the cost is linear in the findings. A
/// fix shared by several findings of a file (the rewrite of a whole block, see [`fix::Shared`]) lists
/// its edits once, on the first of them; the others name that finding (`same_as`, its fingerprint).
pub fn attach_fixes(report: &mut Report, catalog: &Catalog, options: &Options) {
    use rayon::prelude::*;
    let computed: Vec<(usize, Vec<ReportedFix>)> = {
        let mut index: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, d) in report.diagnostics.iter().enumerate() {
            index.entry(d.path.as_str()).or_default().push(i);
        }
        // Files in parallel, as the check analysed them.
        let files: Vec<(&str, Vec<usize>)> = index.into_iter().collect();
        let report = &*report;
        files
            .into_par_iter()
            .flat_map_iter(|(path, ids)| {
                let mut computed = Vec::with_capacity(ids.len());
                let mut warnings = Vec::new();
                let Some((text, _)) = reread(report, path, None, &mut warnings) else { return computed };
                // The tree and endpoints the check's analysis found in this very text (`reread` compared
                // its hash), or else (a cached analysis; the tree of a file with chain findings only)
                // found again, once for the file's contexts.
                let kept = report.fix_context.get(path);
                let parsed;
                let tree = match kept.and_then(|k| k.tree.as_ref()) {
                    Some(tree) => tree,
                    None => {
                        let Some(tree) = crate::syntax::parse(&text, None) else { return computed };
                        parsed = tree;
                        &parsed
                    }
                };
                let endpoints = match kept {
                    Some(k) => k.endpoints.iter().map(|r| (r.start, r.end)).collect(),
                    None => fix::endpoints(&text, tree, catalog),
                };
                let idx = LineIndex::new(&text);
                let pos = |off: usize| {
                    let lc = idx.line_col(&text, off, ColumnUnit::Chars);
                    ReportedPosition { line: lc.line + 1, column: lc.col + 1 }
                };
                // A file with many findings is shared out between the threads too (a context each:
                // the fixes of one finding do not depend on another's).
                let chunk = if ids.len() < FINDINGS_PER_CHUNK {
                    ids.len().max(1)
                } else {
                    ids.len().div_ceil(rayon::current_num_threads())
                };
                // Nothing up front: each context finds the parents it asks for (a walk of every node of
                // the file cost more than the fixes' own descents, and its table of them missed the
                // processor's caches), and make-sync's call list comes from a scan of the text.
                let tables = fix::FileTables::lazy();
                // The imports and top-level statements read once, a copy for each thread's context.
                let parts = vec![fix::FileParts::of(&text, tree); ids.len().div_ceil(chunk)];
                let chunks: Vec<Vec<FindingFixes>> = ids
                    .par_chunks(chunk)
                    .zip(parts)
                    .map(|(ids, parts)| {
                        let ctx = FileContext::with_parts(
                            &text,
                            tree,
                            catalog,
                            options,
                            std::borrow::Cow::Borrowed(&endpoints),
                            parts,
                        )
                        .sharing()
                        .with_tables(&tables);
                        let mut computed = Vec::with_capacity(ids.len());
                        for &i in ids {
                            let d = &report.diagnostics[i];
                            let target =
                                if d.is_chain() { chain_target(d) } else { Target::from_finding(&d.finding, false) };
                            let fixes = ctx.automatic_fixes(&target);
                            let shared = fixes.shared;
                            let fixes = fixes
                                .fixes
                                .into_iter()
                                .map(|f| {
                                    let reported = ReportedFix {
                                        edits: f
                                            .edits
                                            .into_iter()
                                            .map(|e| ReportedEdit {
                                                start: pos(e.range.start),
                                                end: pos(e.range.end),
                                                content: e.text,
                                            })
                                            .collect(),
                                        title: f.title,
                                        kind: f.id,
                                        applicability: f.applicability,
                                        same_as: None,
                                    };
                                    (reported, shared.iter().find(|s| s.id == f.id).copied())
                                })
                                .collect();
                            computed.push((i, fixes));
                        }
                        computed
                    })
                    .collect();
                computed.extend(share(report, chunks.into_iter().flatten().collect()));
                computed
            })
            .collect()
    };
    for (i, fixes) in computed {
        report.diagnostics[i].fixes = fixes;
    }
    report.fix_context.clear();
}

/// A diagnostic's index and its fixes, each with the block it is shared by, if any.
type FindingFixes = (usize, Vec<(ReportedFix, Option<Shared>)>);

/// One file's fixes (by diagnostic, in report order), a shared fix listed in full on the first finding
/// it fixes and named by the others (`same_as`). Each context gave the edits to the first finding it was
/// asked about; the threads' contexts each had one.
fn share(report: &Report, mut fixes: Vec<FindingFixes>) -> Vec<(usize, Vec<ReportedFix>)> {
    use std::collections::HashMap;
    let mut full: HashMap<Shared, Vec<ReportedEdit>> = HashMap::new();
    for (_, list) in &mut fixes {
        for (f, shared) in list.iter_mut() {
            if let Some(s) = shared
                && !f.edits.is_empty()
            {
                let edits = std::mem::take(&mut f.edits);
                full.entry(*s).or_insert(edits);
            }
        }
    }
    let mut first: HashMap<Shared, usize> = HashMap::new();
    fixes
        .into_iter()
        .map(|(i, list)| {
            let list = list
                .into_iter()
                .map(|(mut f, shared)| {
                    let Some(s) = shared else { return f };
                    match first.get(&s) {
                        Some(&j) => f.same_as = Some(report.diagnostics[j].fingerprint.clone()),
                        None => {
                            first.insert(s, i);
                            f.edits = full.remove(&s).unwrap_or_default();
                        }
                    }
                    f
                })
                .collect();
            (i, list)
        })
        .collect()
}
