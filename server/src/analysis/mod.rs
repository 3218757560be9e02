//! The analysis core: text + tree + catalog + settings in, findings out.
//!
//! Pure by contract: no I/O, no async, no global state beyond the compiled query. Positions are byte
//! offsets into the text; the CLI and the language server convert them at their edges. Broken code is
//! normal input: tree-sitter ERROR nodes are skipped over, and every walk is bounded so that deeply
//! nested input cannot exhaust the stack.

mod checks;
pub mod facts;
pub mod noqa;
pub mod resolve;
pub mod shift;
pub mod summary;

use std::ops::Range;

use serde::{Deserialize, Serialize};
use tree_sitter::Tree;

use crate::catalog::{Catalog, FixKind};
use crate::rules::{Rule, Tier};
use crate::settings::Settings;

pub use noqa::{is_suppressed, is_suppressed_at, matches as noqa_matches};
pub use summary::FileSummary;

/// One step of the way from a coroutine to a blocking call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    /// The file of this hop; `None` for the file being analysed.
    pub path: Option<String>,
    pub range: Range<usize>,
    /// What is called at this hop (`requests.get`, `services.fetch_user`).
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: Rule,
    pub tier: Tier,
    /// What the finding points at: the callee expression of a call, or a function's name.
    pub range: Range<usize>,
    /// The whole call expression, for fixes.
    pub call_range: Option<Range<usize>>,
    pub message: String,
    /// The qualified name of the blocking API.
    pub callee: Option<String>,
    /// What to use instead.
    pub instead: Option<String>,
    /// Which fixes apply (from the catalog).
    pub fix_kinds: Vec<FixKind>,
    /// From the coroutine's call to the blocking call; one hop for a direct call.
    pub chain: Vec<Hop>,
    /// The coroutine (or sync route) the finding is in.
    pub function: Option<String>,
    /// The FastAPI/Starlette route that reaches it, as `GET /items/{id}`, when visible.
    pub route: Option<String>,
}

/// Everything the analysis learns from one file: its own findings and its summary for the
/// cross-module analysis.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileAnalysis {
    pub findings: Vec<Finding>,
    pub summary: FileSummary,
}

/// Analyses one parsed file. `text` must be the text `tree` was parsed from.
pub fn analyze(text: &str, tree: &Tree, catalog: &Catalog, settings: &Settings) -> Vec<Finding> {
    analyze_file(text, tree, catalog, settings, false).findings
}

/// Analyses one parsed file, and summarizes it for the cross-module analysis when `summarize` is set.
/// The summary does not depend on `select`/`ignore`/`severity`: the linker applies those.
pub fn analyze_file(text: &str, tree: &Tree, catalog: &Catalog, settings: &Settings, summarize: bool) -> FileAnalysis {
    let facts = facts::Facts::extract(text, tree);
    let resolver = resolve::Resolver::new(&facts, catalog);
    let endpoints = checks::endpoints(&resolver);
    let runs_in = checks::execution_scopes(&resolver);
    let mut findings = checks::run(&resolver, settings, &endpoints, &runs_in);
    findings.retain(|f| settings.enabled(f.rule) && !noqa::is_suppressed(text, f));
    for f in &mut findings {
        f.tier = settings.tier(f.rule, f.tier);
    }
    findings.sort_by(|a, b| a.range.start.cmp(&b.range.start).then(a.rule.cmp(&b.rule)));
    findings.dedup_by(|a, b| a.range == b.range && a.rule == b.rule);
    let summary = if summarize {
        summary::summarize(
            &resolver,
            text,
            &endpoints,
            &runs_in,
            &|rule, range| noqa::is_suppressed_at(text, rule, &range),
            &|range| noqa::directive_at(text, &range),
        )
    } else {
        FileSummary::default()
    };
    FileAnalysis { findings, summary }
}

/// Parses and analyses source text: the convenience entry point for tests and the CLI.
pub fn analyze_source(text: &str, catalog: &Catalog, settings: &Settings) -> Vec<Finding> {
    match crate::syntax::parse(text, None) {
        Some(tree) => analyze(text, &tree, catalog, settings),
        None => Vec::new(),
    }
}

/// Parses, analyses and summarizes source text.
pub fn analyze_source_file(text: &str, catalog: &Catalog, settings: &Settings, summarize: bool) -> FileAnalysis {
    match crate::syntax::parse(text, None) {
        Some(tree) => analyze_file(text, &tree, catalog, settings, summarize),
        None => FileAnalysis::default(),
    }
}
