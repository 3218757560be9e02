//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

pub fn python_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
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
