//! `textDocument/didOpen`: a small document is analysed at once, a large one off the async thread.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tower_lsp_server::ls_types::*;

use crate::lsp::document::Document;
use crate::lsp::{Backend, scheduler};

pub(in crate::lsp) async fn did_open(backend: &Backend, params: DidOpenTextDocumentParams) {
    let doc = params.text_document;
    let uri = doc.uri.clone();
    // Versions start again at a reopen: what was read of the closed document does not hold.
    backend.state.offloaders.remove(&uri);
    let mut document = Document::new(doc.text, doc.version);
    // A small document is analysed before it is stored: a request that follows at once sees its
    // findings. A large one is parsed and analysed off the async thread.
    let inline = document.text.len() <= scheduler::INLINE_OPEN_BYTES;
    if inline {
        document.reparse();
        match backend.state.analyse(&document, &uri) {
            Some((facts, a)) => {
                document.facts = Some(facts);
                document.analysed_now(Arc::new(a));
            }
            None => {
                document.analysed_now(Arc::default());
                document.failed = Some(document.version);
            }
        }
    }
    if let Some(old) = backend.state.documents.insert(uri.clone(), document)
        && let Some(job) = old.job
    {
        job.cancel.store(true, Ordering::Relaxed);
    }
    if inline {
        backend.changed(uri);
    } else {
        backend.schedule(&uri, false);
    }
}
