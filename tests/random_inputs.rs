//! Random inputs through the analysis core, the summary, the project linking and the fixers, on every
//! `cargo test` (stable Rust, no fuzzing dependency: a xorshift generator with a fixed seed, printed).
//! The inputs are random bytes (decoded lossily, as the server decodes what it cannot read as UTF-8) and
//! random mutations of the repository's own Python files: deleted, duplicated, swapped and truncated
//! ranges, bytes flipped, tokens and other files' lines inserted, line endings and indentation changed.
//!
//! Asserted for each input: nothing panics; every fix offered for a finding (direct or through a chain
//! of project functions) applies and its result has no more syntax errors than the input; so does the
//! text `--fix --unsafe-fixes` would write; so do the files `make-sync` edits across the workspace.
//!
//! `LOOPSAFE_RANDOM_SEED=<u64>` runs other cases, `LOOPSAFE_RANDOM_CASES=<n>` more of them. A failure
//! names the case's own seed; rerun it alone with `LOOPSAFE_RANDOM_CASE=<seed>`.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use loopsafe::analysis::{FileAnalysis, analyze_file};
use loopsafe::catalog::Catalog;
use loopsafe::fix::{self, FileContext, Options, Target, WorkspaceFile};
use loopsafe::project::{Project, ProjectFile, module_names};
use loopsafe::rules::Rule;
use loopsafe::settings::Settings;

const SEED: u64 = 0x00c0_ffee_f00d;
const CASES: u64 = 2000;

/// xorshift64*: small, fast, and the same sequence everywhere.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Tokens inserted by mutations: syntax that opens, closes and nests, blocking calls, awaits.
const TOKENS: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ":",
    "\n",
    "\r\n",
    "\r",
    "\t",
    "    ",
    "\\",
    "'",
    "\"\"\"",
    "#",
    "# noqa",
    "\0",
    "await ",
    "async ",
    "def f():",
    "async def g():\n    ",
    "class C:",
    "lambda: ",
    "yield ",
    "return ",
    "global x\n",
    "import requests\n",
    "from . import *\n",
    "from .mod import f\n",
    "requests.get(u)",
    "time.sleep(1)",
    "open('f').read()",
    "asyncio.to_thread(f)",
    "await await ",
    "self.s = requests.Session()\n",
    "with open(p) as fh:\n",
    "@app.get('/')\n",
    "😀",
    "日本",
    "\u{feff}",
    "\u{200b}",
];

fn python_files() -> Vec<(PathBuf, String)> {
    common::repo_python_files().into_iter().filter_map(|p| std::fs::read_to_string(&p).ok().map(|t| (p, t))).collect()
}

/// A character boundary at or before `at`.
fn floor(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn range(rng: &mut Rng, text: &str, max: usize) -> std::ops::Range<usize> {
    let start = floor(text, rng.below(text.len() + 1));
    let end = floor(text, start + rng.below(max + 1));
    start..end.max(start)
}

/// One to four mutations of `text`.
fn mutate(rng: &mut Rng, text: &str, files: &[(PathBuf, String)]) -> String {
    let mut t = text.to_string();
    for _ in 0..1 + rng.below(4) {
        match rng.below(10) {
            0 => {
                let r = range(rng, &t, 64);
                t.replace_range(r, "");
            }
            1 => {
                let r = range(rng, &t, 200);
                let copy = t[r.clone()].to_string();
                t.insert_str(r.end, &copy);
            }
            2 => {
                let at = floor(&t, rng.below(t.len() + 1));
                t.truncate(at);
            }
            3 | 4 => {
                let at = floor(&t, rng.below(t.len() + 1));
                let token = *rng.pick(TOKENS);
                t.insert_str(at, token);
            }
            5 => {
                // A byte flipped, decoded lossily.
                let mut bytes = t.into_bytes();
                if !bytes.is_empty() {
                    let i = rng.below(bytes.len());
                    bytes[i] ^= 1 << rng.below(8);
                }
                t = String::from_utf8_lossy(&bytes).into_owned();
            }
            6 => {
                // A line from another file.
                let (_, other) = rng.pick(files);
                let lines: Vec<&str> = other.lines().collect();
                if !lines.is_empty() {
                    let line = format!("{}\n", rng.pick(&lines));
                    let at = floor(&t, rng.below(t.len() + 1));
                    t.insert_str(at, &line);
                }
            }
            7 => {
                // Two ranges swapped.
                let a = range(rng, &t, 80);
                let b = range(rng, &t, 80);
                if a.end <= b.start {
                    let (sa, sb) = (t[a.clone()].to_string(), t[b.clone()].to_string());
                    t.replace_range(b, &sa);
                    t.replace_range(a, &sb);
                }
            }
            8 => {
                t = match rng.below(3) {
                    0 => t.replace('\n', "\r\n"),
                    1 => t.replace('\n', "\r"),
                    _ => t.replace("    ", "\t"),
                };
            }
            _ => {
                // Indentation added or removed on a stretch of lines.
                let r = range(rng, &t, 300);
                let part = if rng.below(2) == 0 {
                    t[r.clone()].replace('\n', "\n    ")
                } else {
                    t[r.clone()].replace("\n    ", "\n")
                };
                t.replace_range(r, &part);
            }
        }
    }
    t
}

/// Random bytes, mostly Python-ish ASCII, decoded lossily.
fn random_text(rng: &mut Rng) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz_ ():.,=\n\t'\"#[]{}@*\\0123456789\r";
    let len = rng.below(400);
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        match rng.below(8) {
            0 => out.push(rng.next() as u8),
            1 => out.extend_from_slice(rng.pick(TOKENS).as_bytes()),
            _ => out.push(*rng.pick(ALPHABET)),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn errors(text: &str) -> usize {
    loopsafe::syntax::parse(text, None).map_or(usize::MAX, |t| fix::error_count(&t))
}

/// Every fix for `target` in `text` applies and adds no syntax error.
fn check_fixes(ctx: &FileContext<'_>, before: usize, target: &Target, what: &str) -> Result<usize, String> {
    let fixes = ctx.fixes(target);
    for f in &fixes.fixes {
        let Some(new) = fix::apply(ctx.text, &f.edits) else {
            return Err(format!("{what}: the edits of fix {:?} ({}) overlap: {:?}", f.id, f.title, f.edits));
        };
        let after = errors(&new);
        if after > before {
            return Err(format!(
                "{what}: fix {:?} ({}) adds syntax errors ({before} → {after}):\n--- fixed:\n{new}",
                f.id, f.title
            ));
        }
    }
    Ok(fixes.fixes.len())
}

struct Stats {
    findings: usize,
    fixes: usize,
    fixed_files: usize,
    chains: usize,
}

/// One file: analysis, summary, every finding's fixes, and `fix_all` with unsafe fixes.
fn one_file(text: &str, catalog: &Catalog, settings: &Settings, stats: &mut Stats) -> Result<FileAnalysis, String> {
    let tree = loopsafe::syntax::parse(text, None).ok_or("no tree")?;
    let before = fix::error_count(&tree);
    let analysis = analyze_file(text, &tree, catalog, settings, true);
    let options = Options::new(settings, true);
    let ctx = FileContext::new(text, &tree, catalog, &options);
    // At most a dozen findings' fixes per file (mutated files repeat their findings).
    for f in analysis.findings.iter().take(12) {
        stats.findings += 1;
        stats.fixes += check_fixes(&ctx, before, &Target::from_finding(f, false), "finding")?;
    }
    // `fix_all` (up to ten rounds of analysis) on one file in three.
    if !text.len().is_multiple_of(3) {
        return Ok(analysis);
    }
    let fixed = fix::fix_all(text, Vec::new(), catalog, settings, &options, true);
    if fixed.text != text {
        stats.fixed_files += 1;
        let after = errors(&fixed.text);
        if after > before {
            return Err(format!("fix_all adds syntax errors ({before} → {after}):\n--- fixed:\n{}", fixed.text));
        }
    }
    Ok(analysis)
}

/// A project of mutated files (with their real paths): linking, chain findings and their fixes, and
/// `make-sync` across the workspace for coroutines that never await.
fn project(
    files: &[(PathBuf, String)],
    root: &Path,
    catalog: &Catalog,
    settings: &Settings,
    stats: &mut Stats,
) -> Result<(), String> {
    let mut pfiles = Vec::new();
    for (path, text) in files {
        // Each file's own fixes are checked by the single-file cases; here the chains'.
        let tree = loopsafe::syntax::parse(text, None).ok_or("no tree")?;
        let analysis = analyze_file(text, &tree, catalog, settings, true);
        pfiles.push(ProjectFile {
            path: path.clone(),
            display: path.display().to_string(),
            analysis: Arc::new(analysis),
        });
    }
    let project = Project::new(pfiles, Some(root));
    let links = project.link(settings);
    let options = Options::new(settings, true);
    // A few chains per project (a mutated project repeats most of the original's).
    let chains = project.findings(&links, None, settings);
    for i in 0..chains.len().min(4) {
        let c = &chains[(i * 7919) % chains.len()];
        stats.chains += 1;
        let (path, text) = &files[c.file];
        let Some(tree) = loopsafe::syntax::parse(text, None) else { continue };
        let ctx = FileContext::new(text, &tree, catalog, &options);
        let target = Target {
            rule: c.rule,
            callee: Some(c.callee.clone()),
            kinds: c.fixes.clone(),
            range: c.start.offset as usize..c.end.offset as usize,
            chain: true,
        };
        stats.fixes += check_fixes(&ctx, fix::error_count(&tree), &target, &format!("chain in {}", path.display()))?;
        let fixed = fix::fix_all(text, vec![target], catalog, settings, &options, true);
        if errors(&fixed.text) > fix::error_count(&tree) {
            return Err(format!("{}: fix_all with chains adds syntax errors:\n{}", path.display(), fixed.text));
        }
    }
    // make-sync everywhere, for each coroutine without await.
    let dirs: std::collections::HashSet<PathBuf> = files
        .iter()
        .filter(|(p, _)| p.file_name().is_some_and(|n| n == "__init__.py"))
        .filter_map(|(p, _)| p.parent().map(Path::to_path_buf))
        .collect();
    let paths: Vec<String> = files.iter().map(|(p, _)| p.display().to_string()).collect();
    let ws: Vec<WorkspaceFile<'_>> = files
        .iter()
        .zip(&paths)
        .map(|((p, text), path)| WorkspaceFile { path, text, modules: module_names(p, &dirs, Some(root)) })
        .collect();
    for (i, f) in project.files().iter().enumerate() {
        for finding in f.analysis.findings.iter().filter(|x| x.rule == Rule::AsyncWithoutAwait) {
            let Ok((_, edits)) = fix::make_sync_everywhere(&ws, i, finding.range.clone(), catalog) else { continue };
            for (file, mut edits) in edits {
                edits.sort_by_key(|e| (e.range.start, e.range.end));
                let text = ws[file].text;
                let Some(new) = fix::apply(text, &edits) else {
                    return Err(format!("make-sync edits of {} overlap: {edits:?}", ws[file].path));
                };
                if errors(&new) > errors(text) {
                    return Err(format!("make-sync adds syntax errors to {}:\n{new}", ws[file].path));
                }
            }
        }
    }
    Ok(())
}

fn env(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

/// Runs case `seed`: a random text, a mutated file, or a mutated project.
fn run_case(
    seed: u64,
    corpus: &[(PathBuf, String)],
    projects: &[(PathBuf, Vec<(PathBuf, String)>)],
    catalog: &Catalog,
    settings: &Settings,
    stats: &mut Stats,
) -> Result<(), String> {
    let mut rng = Rng::new(seed);
    match rng.below(10) {
        0..=3 => one_file(&random_text(&mut rng), catalog, settings, stats).map(drop),
        4..=8 => {
            let (path, text) = rng.pick(corpus);
            let text = mutate(&mut rng, text, corpus);
            one_file(&text, catalog, settings, stats)
                .map(drop)
                .map_err(|e| format!("{} mutated: {e}\n--- input:\n{text}", path.display()))
        }
        _ => {
            let (root, files) = rng.pick(projects);
            let mutated: Vec<(PathBuf, String)> = files
                .iter()
                .map(|(p, t)| (p.clone(), if rng.below(2) == 0 { mutate(&mut rng, t, corpus) } else { t.clone() }))
                .collect();
            project(&mutated, root, catalog, settings, stats)
        }
    }
}

#[test]
fn random_inputs_do_not_panic_and_fixes_keep_the_syntax() {
    let seed = env("LOOPSAFE_RANDOM_SEED").unwrap_or(SEED);
    let cases = env("LOOPSAFE_RANDOM_CASES").unwrap_or(CASES);
    let corpus = python_files();
    assert!(corpus.len() > 20, "the repository's Python files are the seed corpus");
    let root = common::repo_root().join("tests/projects");
    let projects: Vec<(PathBuf, Vec<(PathBuf, String)>)> = ["seed", "shop", "srclayout"]
        .iter()
        .map(|name| {
            let dir = root.join(name);
            let files = corpus.iter().filter(|(p, _)| p.starts_with(&dir)).cloned().collect();
            (dir, files)
        })
        .collect();
    let table: toml::Table = "select = [\"ALL\"]".parse().expect("toml");
    let settings = Settings::from_table(&table, "test").expect("settings");
    let catalog = Catalog::bundled();
    let mut stats = Stats { findings: 0, fixes: 0, fixed_files: 0, chains: 0 };
    let only = env("LOOPSAFE_RANDOM_CASE");
    eprintln!("random_inputs: seed {seed} (LOOPSAFE_RANDOM_SEED), {cases} cases, {} seed files", corpus.len());
    let mut master = Rng::new(seed);
    let mut failures = Vec::new();
    for _ in 0..cases {
        let case = master.next();
        if only.is_some_and(|o| o != case) {
            continue;
        }
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_case(case, &corpus, &projects, catalog, &settings, &mut stats)
        }));
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(format!("case {case}: {e}")),
            Err(p) => {
                let msg =
                    p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
                failures.push(format!("case {case}: panicked: {}", msg.unwrap_or_default()));
            }
        }
        if failures.len() >= 5 {
            break;
        }
    }
    eprintln!(
        "random_inputs: {} findings, {} fixes checked, {} files fixed by fix_all, {} chain findings",
        stats.findings, stats.fixes, stats.fixed_files, stats.chains
    );
    assert!(
        failures.is_empty(),
        "{} failing cases (rerun one with LOOPSAFE_RANDOM_CASE):\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
