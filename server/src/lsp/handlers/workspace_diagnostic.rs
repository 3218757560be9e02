//! `workspace/diagnostic`: a workspace pull, with the reports of every open document and every closed
//! file with findings.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

use super::diagnostic::result_id;
use crate::analysis::FileAnalysis;
use crate::lsp::convert::diagnostic;
use crate::lsp::{Backend, State, apply_baseline, chain_hash, chain_to_lsp, finding_to_lsp, scheduler};

pub(in crate::lsp) async fn workspace_diagnostic(
    backend: &Backend,
    params: WorkspaceDiagnosticParams,
) -> Result<WorkspaceDiagnosticReportResult> {
    let previous: HashMap<String, String> =
        params.previous_result_ids.into_iter().map(|p| (p.uri.as_str().to_string(), p.value)).collect();
    // Edits left for a later `didChange` are analysed first (as that one would have).
    backend.catch_up_all();
    // Reading closed files from disk: off the async threads.
    let state = backend.state.clone();
    let items = tokio::task::spawn_blocking(move || state.workspace_reports(&previous)).await.unwrap_or_default();
    Ok(WorkspaceDiagnosticReportResult::Report(WorkspaceDiagnosticReport { items }))
}

impl State {
    /// Reports for `workspace/diagnostic`: every open document, and every closed file with findings
    /// (its text is read from disk to place them).
    ///
    /// `previous` maps a URI to the result id the client holds: a report that has not changed since is
    /// sent as `unchanged`, and a file the client holds diagnostics for that has none now gets an empty
    /// report. Clients ask again every few seconds, so the findings of a closed file are converted to
    /// LSP positions (which needs its text, from disk) once per analysis, then kept.
    fn workspace_reports(&self, previous: &HashMap<String, String>) -> Vec<WorkspaceDocumentDiagnosticReport> {
        let caps = self.caps();
        let config = self.config();
        let mut items = Vec::new();
        let mut report = |uri: Uri, version: Option<i64>, diags: Vec<Diagnostic>| {
            let id = result_id(&diags);
            if previous.get(uri.as_str()) == Some(&id) {
                items.push(WorkspaceDocumentDiagnosticReport::Unchanged(WorkspaceUnchangedDocumentDiagnosticReport {
                    uri,
                    version,
                    unchanged_document_diagnostic_report: UnchangedDocumentDiagnosticReport { result_id: id },
                }));
            } else if !diags.is_empty() || previous.contains_key(uri.as_str()) {
                items.push(full_report(uri, version, Some(id), diags));
            }
        };
        // Open documents: their latest analysis, with the version it describes.
        let open: Vec<Uri> = self.documents.iter().map(|e| e.key().clone()).collect();
        for uri in &open {
            if let Some(p) = self.latest_published(uri) {
                report(uri.clone(), Some(p.version as i64), p.diagnostics.clone());
            }
        }
        let closed: Vec<(PathBuf, Arc<FileAnalysis>)> = self
            .index
            .iter()
            .filter(|e| Uri::from_file_path(e.key()).is_none_or(|u| !self.documents.contains_key(&u)))
            .map(|e| (e.key().clone(), e.value().clone()))
            .collect();
        self.closed_findings.retain(|path, _| self.index.contains_key(path));
        self.with_linked(|linked| {
            let project = &linked.project;
            for (path, analysis) in closed {
                let off = config.settings.ignored_in(&path);
                let mut chains = match project.file_index(&path) {
                    Some(file) => project.findings(&linked.links, Some(file), &config.settings),
                    None => Vec::new(),
                };
                chains.retain(|c| !off.iter().any(|s| s.matches(c.rule)));
                let Some(uri) = Uri::from_file_path(&path) else { continue };
                if analysis.findings.is_empty() && chains.is_empty() {
                    report(uri, None, Vec::new());
                    continue;
                }
                let cached =
                    self.closed_findings.get(&path).filter(|c| Arc::ptr_eq(&c.0, &analysis)).map(|c| c.1.clone());
                let mut hashes: Vec<String> = match &config.baseline {
                    Some(known) => analysis
                        .findings
                        .iter()
                        .filter(|f| !off.iter().any(|s| s.matches(f.rule)))
                        .map(|f| {
                            let hops = f.chain.iter().map(|h| h.name.as_str());
                            known.hash(&path, f.rule, f.function.as_deref(), f.callee.as_deref(), hops)
                        })
                        .collect(),
                    None => Vec::new(),
                };
                let mut diags = match cached {
                    Some(d) => d,
                    None => {
                        let Ok(text) = scheduler::read_regular(&path) else { continue };
                        let rope = ropey::Rope::from_str(&text);
                        let d: Vec<Diagnostic> = analysis
                            .findings
                            .iter()
                            .filter(|f| !off.iter().any(|s| s.matches(f.rule)))
                            .map(|f| finding_to_lsp(f, &rope, caps.encoding, 0, &uri))
                            .collect();
                        self.closed_findings.insert(path.clone(), (analysis.clone(), d.clone()));
                        d
                    }
                };
                // Blocking calls in coroutines only command-line commands await are hints: the cache
                // holds the analysis' own conversion, which the project's reachability may change.
                if let Some(file) = project.file_index(&path) {
                    let helpers = project.command_helpers(&linked.links, file);
                    let own = analysis.findings.iter().filter(|f| !off.iter().any(|s| s.matches(f.rule)));
                    for (d, f) in diags.iter_mut().zip(own) {
                        if let Some(f) = (!helpers.is_empty()).then(|| crate::project::demoted(&helpers, f)).flatten() {
                            *d = diagnostic(
                                f.rule,
                                f.tier,
                                d.range,
                                &f.message,
                                None,
                                d.data.take().unwrap_or_default(),
                            );
                        }
                    }
                }
                let mut uris = HashMap::new();
                diags.extend(chains.iter().map(|c| chain_to_lsp(c, project.files(), caps.encoding, 0, &mut uris)));
                let diags = match &config.baseline {
                    Some(known) => {
                        hashes.extend(chains.iter().map(|c| chain_hash(known, &path, c)));
                        let mut items: Vec<(Diagnostic, (), String)> =
                            diags.into_iter().zip(hashes).map(|(d, h)| (d, (), h)).collect();
                        items.sort_by_key(|(d, _, _)| (d.range.start, d.range.end));
                        apply_baseline(&mut items, known, config.settings.hide_baselined);
                        items.into_iter().map(|(d, _, _)| d).collect()
                    }
                    None => {
                        diags.sort_by_key(|d| (d.range.start, d.range.end));
                        diags
                    }
                };
                report(uri, None, diags);
            }
        });
        items
    }
}

fn full_report(
    uri: Uri,
    version: Option<i64>,
    result_id: Option<String>,
    items: Vec<Diagnostic>,
) -> WorkspaceDocumentDiagnosticReport {
    WorkspaceDocumentDiagnosticReport::Full(WorkspaceFullDocumentDiagnosticReport {
        uri,
        version,
        full_document_diagnostic_report: FullDocumentDiagnosticReport { result_id, items },
    })
}
