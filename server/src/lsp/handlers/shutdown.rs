//! `shutdown`: nothing to release (`exit` ends the input loop, see `input`).

use tower_lsp_server::jsonrpc::Result;

use crate::lsp::Backend;

pub(in crate::lsp) async fn shutdown(_backend: &Backend) -> Result<()> {
    Ok(())
}
