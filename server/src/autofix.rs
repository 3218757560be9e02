//! `loopsafe check --fix / --unsafe-fixes / --diff`, and the fixes listed in JSON output: the I/O edge
//! around the pure fix engine (`fix`). Files are re-read and compared with the content hash the check
//! saw; a file that changed on disk in between is left alone with a warning.

use std::collections::BTreeMap;
use std::path::Path;

use crate::check::{Diagnostic, Report, Source, read_source};
use crate::fix::{self, FileContext, Options, ReportedEdit, ReportedFix, ReportedPosition, Target};
use crate::line_index::{ColumnUnit, LineIndex};
use crate::settings::Settings;
use crate::{cache, catalog::Catalog};

/// Libraries whose presence means `anyio` is installed (FastAPI, Starlette and httpx depend on it).
const ANYIO_PROVIDERS: &[&str] = &["anyio", "fastapi", "starlette", "httpx"];

/// The fix options for a run over `paths`.
pub fn options(settings: &Settings, paths: &[std::path::PathBuf]) -> Options {
    let start = paths.first().map_or(Path::new("."), |p| p.as_path());
    Options::new(settings, crate::config::project_depends_on(start, ANYIO_PROVIDERS))
}

/// A file's fixed text.
pub struct FileFix {
    pub path: String,
    pub original: String,
    pub fixed: fix::FixedText,
    hash: u128,
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
fn reread(report: &Report, path: &str, warnings: &mut Vec<String>) -> Option<(String, u128)> {
    let Source::Text { text } = read_source(Path::new(path)) else { return None };
    let hash = cache::content_hash(&text);
    if report.hashes.get(path).is_some_and(|h| *h != hash) {
        warnings.push(format!("{path}: changed on disk while loopsafe was running; not fixed"));
        return None;
    }
    Some((text, hash))
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
    let mut out = Vec::new();
    for (path, diags) in by_file(report) {
        let Some((text, hash)) = reread(report, path, warnings) else { continue };
        let chains: Vec<Target> = diags.iter().filter(|d| d.is_chain()).map(|d| chain_target(d)).collect();
        let fixed = fix::fix_all(&text, chains, catalog, settings, options, allow_unsafe);
        if fixed.text != text {
            out.push(FileFix { path: path.to_string(), original: text, fixed, hash });
        }
    }
    out
}

/// Writes fixed files, unless a file changed on disk since it was read. Returns (files, fixes) written.
pub fn write(fixes: &[FileFix], warnings: &mut Vec<String>) -> (usize, usize) {
    let (mut files, mut count) = (0, 0);
    for f in fixes {
        let now = match read_source(Path::new(&f.path)) {
            Source::Text { text } => cache::content_hash(&text),
            Source::Skipped(_) => 0,
        };
        if now != f.hash {
            warnings.push(format!("{}: changed on disk while loopsafe was running; not fixed", f.path));
            continue;
        }
        match std::fs::write(&f.path, &f.fixed.text) {
            Ok(()) => {
                files += 1;
                count += f.fixed.applied;
            }
            Err(e) => warnings.push(format!("{}: cannot write the fixes: {e}", f.path)),
        }
    }
    (files, count)
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

/// Fills each diagnostic's `fixes` (for JSON output): title, applicability and edits with 1-based lines
/// and character columns, safest first; suppressions are not listed. Each file is read, parsed and
/// indexed once, and each fix checked on the statements it edits: the cost is linear in the findings.
pub fn attach_fixes(report: &mut Report, catalog: &Catalog, options: &Options) {
    let mut warnings = Vec::new();
    let mut computed: Vec<(usize, Vec<ReportedFix>)> = Vec::new();
    {
        let mut index: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, d) in report.diagnostics.iter().enumerate() {
            index.entry(d.path.as_str()).or_default().push(i);
        }
        for (path, ids) in index {
            let Some((text, _)) = reread(report, path, &mut warnings) else { continue };
            let Some(tree) = crate::syntax::parse(&text, None) else { continue };
            let ctx = FileContext::new(&text, &tree, catalog, options);
            let idx = LineIndex::new(&text);
            let pos = |off: usize| {
                let lc = idx.line_col(&text, off, ColumnUnit::Chars);
                ReportedPosition { line: lc.line + 1, column: lc.col + 1 }
            };
            for i in ids {
                let d = &report.diagnostics[i];
                let target = if d.is_chain() { chain_target(d) } else { Target::from_finding(&d.finding, false) };
                let fixes = ctx
                    .automatic_fixes(&target)
                    .fixes
                    .into_iter()
                    .map(|f| ReportedFix {
                        edits: f
                            .edits
                            .into_iter()
                            .map(|e| ReportedEdit { start: pos(e.range.start), end: pos(e.range.end), content: e.text })
                            .collect(),
                        title: f.title,
                        kind: f.id,
                        applicability: f.applicability,
                    })
                    .collect();
                computed.push((i, fixes));
            }
        }
    }
    for (i, fixes) in computed {
        report.diagnostics[i].fixes = fixes;
    }
}
