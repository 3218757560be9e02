//! `textDocument/didSave`: nothing to do (logged).

use tower_lsp_server::ls_types::*;

use crate::lsp::Backend;

/// Nothing to do: an open document is analysed from its buffer, which the file on disk now equals
/// (no re-read), and the watcher's event for that file is ignored while it is open. `save` is not
/// advertised (the server needs no saves), but clients may send it anyway.
pub(in crate::lsp) async fn did_save(_backend: &Backend, params: DidSaveTextDocumentParams) {
    tracing::trace!("saved: {}", params.text_document.uri.as_str());
}
