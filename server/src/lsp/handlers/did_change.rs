//! `textDocument/didChange`: the edits applied to the document, then an edit inside a function, of one
//! module-level statement or in a comment analysed at once, anything else scheduled as a whole-file
//! analysis.

use std::sync::Arc;

use tower_lsp_server::ls_types::*;

use crate::analysis;
use crate::lsp::Backend;
use crate::lsp::document::Applied;

pub(in crate::lsp) async fn did_change(backend: &Backend, params: DidChangeTextDocumentParams) {
    let uri = params.text_document.uri.clone();
    let version = params.text_document.version;
    let enc = backend.state.caps().encoding;
    {
        let Some(mut doc) = backend.state.documents.get_mut(&uri) else {
            tracing::warn!("didChange for a document that is not open: {}", uri.as_str());
            return;
        };
        if version <= doc.version {
            tracing::warn!("didChange for {} has version {version}, not after {}; ignored", uri.as_str(), doc.version);
            return;
        }
        // Applying the changes is cheap (rope, string, tree edits; no parse).
        let applied = doc.apply(&params.content_changes, enc);
        doc.version = version;
        match applied {
            Applied::Edit(edit) => {
                // One edit: analysed with its function alone when it is inside one (sub-millisecond), or
                // as one module-level statement spliced into the facts.
                if let Some(a) = backend.state.analyse_edit(&mut doc, &uri, &edit) {
                    doc.analysed_now(a);
                    drop(doc);
                    backend.changed(uri);
                    return;
                }
            }
            Applied::Trivia(edits) => {
                // Typing inside a comment: the analysis only moves (no reparse, no re-analysis).
                let mut moved = (*doc.analysis).clone();
                for e in &edits {
                    analysis::shift::shift(&mut moved, e);
                    if let Some(facts) = doc.facts.as_mut() {
                        facts.moved(e.old_end, e.new_end);
                    }
                }
                doc.analysed_now(Arc::new(moved));
                drop(doc);
                backend.changed(uri);
                return;
            }
            Applied::Whole => {}
        }
    }
    // Anything else: the whole file, off the async thread; edits that arrive meanwhile coalesce.
    backend.schedule(&uri, false);
}
