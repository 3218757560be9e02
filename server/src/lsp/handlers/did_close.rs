//! `textDocument/didClose`: the document is dropped, its file indexed from disk again.

use std::sync::atomic::Ordering;

use tower_lsp_server::ls_types::*;

use crate::lsp::Backend;

pub(in crate::lsp) async fn did_close(backend: &Backend, params: DidCloseTextDocumentParams) {
    let uri = params.text_document.uri;
    backend.state.offloaders.remove(&uri);
    if let Some((_, doc)) = backend.state.documents.remove(&uri)
        && let Some(job) = doc.job
    {
        job.cancel.store(true, Ordering::Relaxed);
    }
    // The closed file keeps only its analysis, from what is on disk (read by the refresher).
    let path = uri.to_file_path().map(|p| p.into_owned());
    backend.queue(|w| {
        w.closed.insert(uri);
        w.disk.extend(path);
    });
}
