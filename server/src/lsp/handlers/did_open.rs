//! `textDocument/didOpen`: the document is stored and analysed off the async thread (a job).

use std::sync::atomic::Ordering;

use tower_lsp_server::ls_types::*;

use crate::lsp::Backend;
use crate::lsp::document::Document;

pub(in crate::lsp) async fn did_open(backend: &Backend, params: DidOpenTextDocumentParams) {
    let doc = params.text_document;
    let uri = doc.uri.clone();
    // Versions start again at a reopen: what was read of the closed document does not hold.
    backend.state.offloaders.remove(&uri);
    let document = Document::new(doc.text, doc.version);
    // Parsed and analysed off the async thread, whatever its size (a job, as after an edit the
    // function alone cannot take): the parse and analysis of a reopened document, a few million
    // instructions, would otherwise delay every message queued behind it. A hover that follows at once
    // waits (briefly) for the first diagnostics; a didChange that follows coalesces into the job.
    if let Some(old) = backend.state.documents.insert(uri.clone(), document)
        && let Some(job) = old.job
    {
        job.cancel.store(true, Ordering::Relaxed);
    }
    backend.schedule(&uri, false);
}
