//! `textDocument/diagnostic`: a document pull, answered with the current version's diagnostics and
//! the changed reports of other open documents.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tower_lsp_server::jsonrpc::{self, Result};
use tower_lsp_server::ls_types::*;

use crate::lsp::document::Published;
use crate::lsp::{Backend, State};

/// How long a `textDocument/diagnostic` request waits for the analysis of the document's current
/// version before it is answered `ServerCancelled` (with `retriggerRequest`).
const PULL_WAIT: Duration = Duration::from_secs(2);
/// How long a `textDocument/diagnostic` request waits for the first index of the workspace (and the
/// diagnostics computed with it) before it is answered `ServerCancelled` with `retriggerRequest`.
const INDEX_WAIT: Duration = Duration::from_secs(10);

/// A pull report has no version: the client takes it for the document as it is when the answer
/// arrives. So the request waits (bounded) for the analysis of the document's current version, and
/// after `PULL_WAIT` is answered `ServerCancelled` with `retriggerRequest` (the client asks again),
/// never with the diagnostics of an older text. Before that, it waits (at most `INDEX_WAIT`, then
/// the same answer) for the first index of the workspace: a report without the chains through
/// files not indexed yet would stay in clients that apply no later report until they pull again
/// (Neovim answers a refresh with a workspace pull, whose reports it ignores for open documents).
///
/// The report carries, as `relatedDocuments`, the new reports of other open documents that changed
/// since their client last got them (an edit here changed the chains they report): Neovim, which
/// pulls only the document edited, applies them.
pub(in crate::lsp) async fn diagnostic(
    backend: &Backend,
    params: DocumentDiagnosticParams,
) -> Result<DocumentDiagnosticReportResult> {
    let uri = &params.text_document.uri;
    let cancelled = |message: &str| jsonrpc::Error {
        code: jsonrpc::ErrorCode::ServerError(-32802),
        message: message.to_string().into(),
        data: Some(serde_json::json!({ "retriggerRequest": true })),
    };
    if !backend.state.documents.contains_key(uri) {
        return Ok(pull_report(&params, Vec::new(), None));
    }
    // Edits left for a later `didChange` are analysed first (as that one would have).
    backend.catch_up(uri);
    if !backend.index_ready(INDEX_WAIT).await {
        return Err(cancelled("the workspace is still being indexed"));
    }
    // The related documents' reports come from the refresher's pass over them, which follows the pass
    // that stores this document's diagnostics: answered after it, a pull of an edited helper carries
    // the route's new report (else it came a pull late, and Neovim showed the old one until then).
    backend.refreshed(PULL_WAIT).await;
    let published = match backend.published(uri, true, PULL_WAIT).await {
        Some(p) => p,
        None if !backend.state.documents.contains_key(uri) => return Ok(pull_report(&params, Vec::new(), None)),
        None => return Err(cancelled("the document's analysis is still running")),
    };
    let items = published.diagnostics.clone();
    backend.state.sent.insert(uri.clone(), (Arc::downgrade(&published), result_id(&items)));
    let related = backend.state.related_reports(uri);
    Ok(pull_report(&params, items, (!related.is_empty()).then_some(related)))
}

impl State {
    /// The reports of the open documents other than `uri` whose client does not hold them yet (see
    /// `sent`): only reports of a document's current version (a pull report has no version), and only
    /// for documents the client pulled before (the others it pulls anyway). Cheap: a report whose
    /// published diagnostics are the ones last sent is skipped without hashing it.
    fn related_reports(&self, uri: &Uri) -> HashMap<Uri, DocumentDiagnosticReportKind> {
        let current: Vec<(Uri, Arc<Published>)> = self
            .documents
            .iter()
            .filter(|e| e.key() != uri)
            .filter_map(|e| {
                let p = e.value().published.clone()?;
                (p.version == e.value().version).then(|| (e.key().clone(), p))
            })
            .collect();
        let mut related = HashMap::new();
        for (other, p) in current {
            let Some(mut sent) = self.sent.get_mut(&other) else { continue };
            // The weak pointer keeps its allocation: no other `Published` can take its address.
            if std::ptr::eq(sent.0.as_ptr(), Arc::as_ptr(&p)) {
                continue;
            }
            let id = result_id(&p.diagnostics);
            let changed = sent.1 != id;
            *sent = (Arc::downgrade(&p), id.clone());
            drop(sent);
            if changed {
                related.insert(
                    other,
                    DocumentDiagnosticReportKind::Full(FullDocumentDiagnosticReport {
                        result_id: Some(id),
                        items: p.diagnostics.clone(),
                    }),
                );
            }
        }
        self.sent.retain(|u, _| self.documents.contains_key(u));
        related
    }
}

/// A document pull's answer: `unchanged` when the client holds the same report and no other document's
/// changed.
fn pull_report(
    params: &DocumentDiagnosticParams,
    items: Vec<Diagnostic>,
    related: Option<HashMap<Uri, DocumentDiagnosticReportKind>>,
) -> DocumentDiagnosticReportResult {
    let id = result_id(&items);
    // With related documents, a full report: Neovim reads them only from one.
    let report = if related.is_none() && params.previous_result_id.as_ref() == Some(&id) {
        DocumentDiagnosticReport::Unchanged(RelatedUnchangedDocumentDiagnosticReport {
            related_documents: related,
            unchanged_document_diagnostic_report: UnchangedDocumentDiagnosticReport { result_id: id },
        })
    } else {
        DocumentDiagnosticReport::Full(RelatedFullDocumentDiagnosticReport {
            related_documents: related,
            full_document_diagnostic_report: FullDocumentDiagnosticReport { result_id: Some(id), items },
        })
    };
    DocumentDiagnosticReportResult::Report(report)
}

/// A report's result id: a hash of its diagnostics, so equal reports have equal ids across requests.
pub(super) fn result_id(items: &[Diagnostic]) -> String {
    let bytes = serde_json::to_vec(items).unwrap_or_default();
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes))
}
