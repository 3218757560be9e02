//! The fixes as data: every `tests/fixes/NAME.py` is fixed with the fix its `# fix:` header names and
//! must become `tests/fixes/NAME.fixed.py` exactly; every after-file must compile (`python3 -m
//! py_compile`); fixing again changes nothing. And over every analysis fixture (`tests/fixtures/**`):
//! applying all safe and unsafe fixes until nothing changes never adds a syntax error, and a second
//! pass finds nothing more to fix. See tests/fixes/README.md.

mod common;

use std::path::{Path, PathBuf};

use loopsafe::catalog::Catalog;
use loopsafe::fix::{self, Fix, FixId, Options};

fn fix_id(name: &str) -> Option<FixId> {
    Some(match name {
        "offload" => FixId::Offload,
        "make-sync" => FixId::MakeSync,
        "httpx" => FixId::Httpx,
        "async-sleep" => FixId::AsyncSleep,
        "async-file" => FixId::AsyncFile,
        "offload-block" => FixId::OffloadBlock,
        "make-async" => FixId::MakeAsync,
        "noqa" => FixId::Noqa,
        _ => return None,
    })
}

/// The `# <key>: value` header line of a fixture.
fn header<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().take_while(|l| l.starts_with('#')).find_map(|l| l.strip_prefix(&format!("# {key}:")).map(str::trim))
}

fn fixtures() -> Vec<PathBuf> {
    let dir = common::repo_root().join("tests/fixes");
    common::python_files(&dir)
        .into_iter()
        .filter(|p| !p.to_string_lossy().ends_with(".fixed.py") && !p.starts_with(dir.join("projects")))
        .collect()
}

/// Every file under `dir`, relative to it, sorted.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// `check --fix --unsafe-fixes` on the project at `dir`, through the library: the fixes applied.
fn fix_project(dir: &Path) -> usize {
    let (fixes, mut warnings) = common::unsafe_fixes(dir, &[dir.to_path_buf()]);
    let written = loopsafe::autofix::write(&fixes, &mut warnings);
    assert!(written.errors.is_empty() && warnings.is_empty(), "{:?} {warnings:?}", written.errors);
    written.fixes
}

/// Multi-module projects: `tests/fixes/projects/NAME/before/` fixed as `check --fix --unsafe-fixes`
/// fixes it (a chain made async across its modules, or refused and offloaded) must become
/// `NAME/after/` file by file, and a second run applies nothing.
#[test]
fn every_project_becomes_its_after_tree() {
    let update = std::env::var_os("LOOPSAFE_UPDATE_FIXES").is_some();
    let root = common::repo_root().join("tests/fixes/projects");
    let mut projects: Vec<PathBuf> = std::fs::read_dir(&root).unwrap().flatten().map(|e| e.path()).collect();
    projects.sort();
    assert!(projects.len() >= 2, "the project fixtures are missing");
    let mut failures = Vec::new();
    for project in projects {
        let before = project.join("before");
        let work = tempfile::tempdir().unwrap();
        for rel in tree(&before) {
            let to = work.path().join(&rel);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(before.join(&rel), &to).unwrap();
        }
        fix_project(work.path());
        let after = project.join("after");
        for rel in tree(work.path()) {
            let got = std::fs::read_to_string(work.path().join(&rel)).unwrap();
            if update {
                std::fs::create_dir_all(after.join(&rel).parent().unwrap()).unwrap();
                std::fs::write(after.join(&rel), &got).unwrap();
                continue;
            }
            let expected = std::fs::read_to_string(after.join(&rel)).unwrap_or_default();
            if got != expected {
                failures.push(format!(
                    "{}: differs from the after tree:\n{}",
                    project.join("after").join(&rel).display(),
                    similar::TextDiff::from_lines(&expected, &got).unified_diff().header("expected", "actual")
                ));
            }
        }
        if !update && tree(work.path()) != tree(&after) {
            failures.push(format!("{}: the after tree has other files", project.display()));
        }
        let again = fix_project(work.path());
        if again != 0 {
            failures.push(format!("{}: a second run applied {again} fixes", project.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn after_file(p: &Path) -> PathBuf {
    p.with_extension("fixed.py")
}

fn apply(text: &str) -> fix::FixedText {
    let settings = common::inline_settings(text).expect("valid `# config:`");
    let catalog = Catalog::bundled().extended(&settings.extend_blocking_calls);
    let options = Options::new(&settings, header(text, "anyio") == Some("available"))
        .with_http_module(header(text, "http-module").map(str::to_string));
    let wanted = header(text, "fix").expect("a `# fix:` header");
    let chains =
        if header(text, "follow") == Some("yes") { chain_targets(text, &settings, &catalog) } else { Vec::new() };
    match wanted {
        "all" => fix::fix_all(text, chains, &catalog, &settings, &options, false),
        "all-unsafe" => fix::fix_all(text, chains, &catalog, &settings, &options, true),
        "extract" => extract(text, &catalog, &options),
        name => {
            let id = fix_id(name).unwrap_or_else(|| panic!("unknown fix `{name}`"));
            fix::fix_all_with(text, chains, &catalog, &settings, &options, &|f: &Fix| f.id == id)
        }
    }
}

/// `# fix: extract`: each selection, the lines between a `# >>> extract` line and the next `# <<< extract`
/// line, moved to a thread as the editor's refactor.extract action on that selection moves it.
fn extract(text: &str, catalog: &Catalog, options: &Options) -> fix::FixedText {
    let mut out = fix::FixedText { text: text.to_string(), ..Default::default() };
    for k in 0.. {
        // The k-th selection of the text as fixed so far (each fix moves the ones after it).
        let mut at = 0;
        let mut marks = Vec::new();
        for line in out.text.split_inclusive('\n') {
            match line.trim() {
                "# >>> extract" => marks.push((at + line.len(), true)),
                "# <<< extract" => marks.push((at, false)),
                _ => {}
            }
            at += line.len();
        }
        let pairs: Vec<(usize, usize)> =
            marks.windows(2).filter(|w| w[0].1 && !w[1].1).map(|w| (w[0].0, w[1].0)).collect();
        let Some(&(start, end)) = pairs.get(k) else { break };
        let tree = loopsafe::syntax::parse(&out.text, None).unwrap();
        let ctx = fix::FileContext::new(&out.text, &tree, catalog, options);
        let fixes = ctx.offload_selection(start..end).map(|(_, f)| f.fixes).unwrap_or_default();
        if let Some(f) = fixes.first() {
            let fixed = fix::apply(&out.text, &f.edits).unwrap();
            out.titles.push(f.title.clone());
            out.applied += 1;
            out.text = fixed;
        }
    }
    out
}

/// `# follow: yes`: the chain findings `loopsafe check` reports for the file as a project of its own
/// (a call to a sync helper of the file that blocks further down), fixed with the file's own findings.
fn chain_targets(text: &str, settings: &loopsafe::settings::Settings, catalog: &Catalog) -> Vec<fix::Target> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pyproject.toml"), "[project]\nname = \"fixture\"\n").unwrap();
    let path = dir.path().join("app.py");
    std::fs::write(&path, text).unwrap();
    let paths = vec![path];
    let opts = loopsafe::check::CheckOptions {
        paths: &paths,
        settings,
        root: Some(dir.path()),
        follow: true,
        cache_dir: None,
    };
    let report = loopsafe::check::check(&opts, catalog).unwrap();
    report.diagnostics.iter().filter(|d| d.is_chain()).map(|d| fix::Target::from_finding(&d.finding, true)).collect()
}

#[test]
fn every_fixture_becomes_its_after_file() {
    let update = std::env::var_os("LOOPSAFE_UPDATE_FIXES").is_some();
    let mut failures = Vec::new();
    let all = fixtures();
    assert!(all.len() >= 15, "the fix fixtures are missing");
    for p in &all {
        let text = std::fs::read_to_string(p).unwrap();
        let fixed = apply(&text);
        let after = after_file(p);
        if update {
            std::fs::write(&after, &fixed.text).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&after)
            .unwrap_or_else(|_| panic!("{} is missing (LOOPSAFE_UPDATE_FIXES=1 writes it)", after.display()));
        if fixed.text != expected {
            failures.push(format!(
                "{}: the fixed text differs from {}:\n{}",
                p.display(),
                after.display(),
                similar::TextDiff::from_lines(&expected, &fixed.text).unified_diff().header("expected", "actual")
            ));
        }
        // Fixing the fixed text again changes nothing.
        let again = apply(&fixed.text);
        if again.applied != 0 {
            failures.push(format!("{}: a second pass applied {:?}", p.display(), again.titles));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_after_file_compiles() {
    let mut files: Vec<PathBuf> = fixtures().iter().map(|p| after_file(p)).collect();
    let projects = common::repo_root().join("tests/fixes/projects");
    files.extend(
        common::python_files(&projects).into_iter().filter(|p| p.components().any(|c| c.as_os_str() == "after")),
    );
    let Ok(status) = std::process::Command::new("python3")
        .arg("-c")
        // What `python3 -m py_compile` checks, without writing a .pyc into the source tree.
        .arg("import sys\nfor p in sys.argv[1:]:\n    compile(open(p, encoding='utf-8').read(), p, 'exec')")
        .args(&files)
        .status()
    else {
        eprintln!("python3 is not installed: the after-files are not compiled here (.ci/run compiles them)");
        return;
    };
    assert!(status.success(), "an after-file does not compile");
}

#[test]
fn fixes_converge_on_every_analysis_fixture() {
    let catalog = Catalog::bundled();
    let mut failures = Vec::new();
    let dir = common::repo_root().join("tests/fixtures");
    let files = common::python_files(&dir);
    assert!(!files.is_empty());
    let mut applied = 0;
    for p in files {
        let text = std::fs::read_to_string(&p).unwrap();
        let mut settings = common::inline_settings(&text).unwrap_or_default();
        settings.select.push(loopsafe::settings::Selector::parse("ALL").unwrap());
        let catalog = catalog.extended(&settings.extend_blocking_calls);
        let options = Options::new(&settings, true);
        let before = loopsafe::syntax::parse(&text, None).map_or(0, |t| fix::error_count(&t));
        let first = fix::fix_all(&text, Vec::new(), &catalog, &settings, &options, true);
        applied += first.applied;
        if fix::introduces_syntax_error(before, &first.text) {
            failures.push(format!("{}: the fixes introduced a syntax error", p.display()));
        }
        let second = fix::fix_all(&first.text, Vec::new(), &catalog, &settings, &options, true);
        if second.applied != 0 {
            failures.push(format!("{}: a second pass still applied {:?}", p.display(), second.titles));
        }
    }
    assert!(applied > 50, "only {applied} fixes applied over the fixtures");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
