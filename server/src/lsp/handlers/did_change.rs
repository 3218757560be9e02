//! `textDocument/didChange`: the edits applied to the document, then an edit inside a function, of one
//! module-level statement or in a comment analysed at once, anything else scheduled as a whole-file
//! analysis. When a later `didChange` for the same document is already queued (framed by the
//! transport's guard, not handled yet: `input::Framed`), the analysis is left to it: the edits wait
//! merged (`Document::pending`), and the later one analyses them as one edit (or schedules the whole
//! file once). Requests that read a document's analysis bring it up to date first (`Backend::catch_up`).

use tower_lsp_server::ls_types::*;

use crate::lsp::document::Applied;
use crate::lsp::{Backend, timing};

pub(in crate::lsp) async fn did_change(backend: &Backend, params: DidChangeTextDocumentParams) {
    let uri = params.text_document.uri.clone();
    let version = params.text_document.version;
    let enc = backend.state.caps().encoding;
    // Asked once per `didChange`, whatever becomes of it (see `Framed::later`).
    let later = backend.state.framed.later(uri.as_str(), i64::from(version));
    {
        let Some(mut doc) = backend.state.documents.get_mut(&uri) else {
            tracing::warn!("didChange for a document that is not open: {}", uri.as_str());
            return;
        };
        if version <= doc.version {
            tracing::warn!("didChange for {} has version {version}, not after {}; ignored", uri.as_str(), doc.version);
            // It may have been the later one an earlier change left its analysis to.
            drop(doc);
            if !later {
                backend.catch_up(&uri);
            }
            return;
        }
        // Applying the changes is cheap (rope, string, tree edits; no parse).
        let applied = doc.apply(&params.content_changes, enc);
        doc.version = version;
        match applied {
            Applied::Edit(_) if later => {
                // The next `didChange` analyses this edit with its own (`Document::pending`).
                timing::edit("coalesced");
                return;
            }
            Applied::Edit(edit) => {
                // One edit (or several merged): analysed with its function alone when it is inside one
                // (sub-millisecond), or as one module-level statement spliced into the facts.
                if let Some(a) = backend.state.analyse_edit(&mut doc, &uri, &edit) {
                    doc.analysed_now(a);
                    drop(doc);
                    backend.changed(uri);
                    timing::edit("analysed");
                    return;
                }
            }
            Applied::Trivia(edits) => {
                // Typing inside a comment: the analysis only moves (no reparse, no re-analysis).
                doc.moved_by(&edits);
                drop(doc);
                timing::edit("trivia");
                backend.changed(uri);
                return;
            }
            Applied::Whole if later && doc.job.is_none() => {
                // The next `didChange` schedules the whole file (its `apply` finds no facts).
                timing::edit("coalesced");
                return;
            }
            Applied::Whole => {}
        }
    }
    // Anything else: the whole file, off the async thread; edits that arrive meanwhile coalesce.
    timing::edit("whole");
    backend.schedule(&uri, false);
}

impl Backend {
    /// Brings a document's analysis up to its current text when edits were left unanalysed for a
    /// later `didChange` (see the module's documentation): the pending edit is analysed now, as one,
    /// or the whole file is scheduled. For requests that read the analysis (hovers, code actions,
    /// pulls), before they do; cheap when there is nothing to do.
    pub(in crate::lsp) fn catch_up(&self, uri: &Uri) {
        {
            let Some(mut doc) = self.state.documents.get_mut(uri) else { return };
            if !doc.lagging() {
                return;
            }
            if let Some(edit) = doc.pending
                && let Some(a) = self.state.analyse_edit(&mut doc, uri, &edit)
            {
                doc.analysed_now(a);
                drop(doc);
                timing::edit("caught-up");
                self.changed(uri.clone());
                return;
            }
        }
        timing::edit("caught-up-whole");
        self.schedule(uri, false);
    }

    /// `catch_up` for every open document (a workspace pull reads them all).
    pub(in crate::lsp) fn catch_up_all(&self) {
        let lagging: Vec<Uri> =
            self.state.documents.iter().filter(|d| d.value().lagging()).map(|d| d.key().clone()).collect();
        for uri in &lagging {
            self.catch_up(uri);
        }
    }
}
