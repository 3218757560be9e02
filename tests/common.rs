//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use loopsafe::analysis::facts::Facts;
use loopsafe::analysis::{Finding, analyze_source};
use loopsafe::catalog::Catalog;
use loopsafe::settings::Settings;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("server/ has a parent").to_path_buf()
}

/// Settings from `# config: <TOML>` comment lines at the top of a file.
pub fn inline_settings(text: &str) -> Result<Settings, String> {
    let mut toml_src = String::new();
    for line in text.lines() {
        let l = line.trim();
        if let Some(cfg) = l.strip_prefix("# config:") {
            toml_src.push_str(cfg.trim());
            toml_src.push('\n');
        } else if !(l.is_empty() || l.starts_with('#')) {
            break;
        }
    }
    let table: toml::Table = toml_src.parse().map_err(|e| format!("bad `# config:` TOML: {e}"))?;
    Settings::from_table(&table, "# config:")
}

/// Analyses a snippet with its inline settings and the bundled catalog.
pub fn findings(text: &str) -> Vec<Finding> {
    let settings = inline_settings(text).expect("valid inline config");
    let catalog = Catalog::bundled().extended(&settings.extend_blocking_calls);
    analyze_source(text, &catalog, &settings)
}

/// The 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

/// The Python files under `dir`, sorted (a virtualenv, `.venv`, is not entered).
pub fn python_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != ".venv") {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "py") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Runs the built binary in `dir`, without colours.
pub fn loopsafe(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loopsafe"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("the binary runs")
}

/// Runs the binary in `dir` with `input` on stdin.
pub fn loopsafe_stdin(dir: &Path, args: &[&str], input: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_loopsafe"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes a file under `dir`, creating its folders.
pub fn write(dir: &Path, rel: &str, text: impl AsRef<[u8]>) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// Every Python file of the tests and examples, sorted.
pub fn repo_python_files() -> Vec<PathBuf> {
    let root = repo_root();
    let mut out: Vec<PathBuf> = ["tests/fixtures", "tests/fixes", "tests/projects", "examples"]
        .iter()
        .flat_map(|d| python_files(&root.join(d)))
        .collect();
    out.sort();
    out
}

/// Facts as text, binding ids replaced by the bindings themselves (their numbering differs after a
/// splice), to compare the facts of a spliced function with a fresh extraction.
pub fn normalized_facts(f: &Facts) -> String {
    use std::fmt::Write;
    let binding = |b: &loopsafe::analysis::facts::Binding| {
        format!("{} {:?}{}", b.pos, b.kind, if b.file { " __file__" } else { "" })
    };
    let mut out = String::new();
    for (i, s) in f.scopes.iter().enumerate() {
        let _ = writeln!(
            out,
            "scope {i} {:?} {:?} body {:?} parent {:?} name {:?} async {} await {} yield {} stub {} leaks {} global {} first {:?} returns {:?} bases {:?} decorators {:?} star {:?} imports {:?}",
            s.kind,
            s.range,
            s.body,
            s.parent,
            s.name,
            s.is_async,
            s.has_await,
            s.has_yield,
            s.is_stub,
            s.leaks,
            s.has_global,
            s.first_param,
            s.returns,
            s.bases,
            s.decorators,
            s.star_imports,
            s.imports
        );
        for (what, map) in [("binds", &s.bindings), ("self", &s.self_attrs)] {
            let mut names: Vec<_> = map.keys().collect();
            names.sort();
            for n in names {
                let list: Vec<String> = map[n].iter().map(|&id| binding(&f.bindings[id])).collect();
                let _ = writeln!(out, "  {what} {n}: {list:?}");
            }
        }
    }
    for c in &f.calls {
        let _ = writeln!(out, "call {c:?}");
    }
    for a in &f.attributes {
        let _ = writeln!(out, "attr {a:?}");
    }
    for e in &f.enters {
        let _ = writeln!(out, "enter {e:?}");
    }
    out
}

/// What `check --fix --unsafe-fixes PATHS` would write in the project at `root` (default settings),
/// through the library, with the warnings it gave: the caller writes it (`autofix::write`) or not.
pub fn unsafe_fixes(root: &Path, paths: &[PathBuf]) -> (Vec<loopsafe::autofix::FileFix>, Vec<String>) {
    use loopsafe::{autofix, catalog::Catalog, check};
    let settings = Settings::default();
    let opts = check::CheckOptions { paths, settings: &settings, root: Some(root), follow: true, cache_dir: None };
    let catalog = Catalog::bundled();
    let report = check::check(&opts, catalog).unwrap();
    let options = autofix::options(&settings, paths);
    let mut warnings = Vec::new();
    let run = autofix::FixRun {
        skipped: &|_| false,
        catalog,
        settings: &settings,
        options: &options,
        allow_unsafe: true,
        workspace: Some(&opts),
        overlay: None,
    };
    let fixes = autofix::compute_except(&report, &run, &mut warnings);
    (fixes, warnings)
}
