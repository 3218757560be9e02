//! `workspace/didChangeConfiguration`: the client's settings, laid over the project's.

use tower_lsp_server::ls_types::*;

use crate::lsp::Backend;
use crate::lsp::settings::client_table;

pub(in crate::lsp) async fn did_change_configuration(backend: &Backend, params: DidChangeConfigurationParams) {
    // The same keys as [tool.loopsafe], under "loopsafe" or at the top level. Clients send null or
    // an empty object when they have nothing to say (Neovim does at start): that changes nothing.
    // An empty "loopsafe" section (`{}`, or `[]` from a Lua table) clears the client's settings.
    let value = match params.settings.get("loopsafe") {
        Some(v) => v.clone(),
        None if params.settings.as_object().is_some_and(|o| o.is_empty()) => return,
        None => params.settings,
    };
    if value.is_null() {
        return;
    }
    match client_table(value, "settings:") {
        Ok(table) => {
            *backend.state.client_table.write().expect("client settings lock") = table;
            backend.reconfigure();
        }
        Err(e) => {
            backend
                .client
                .show_message(MessageType::ERROR, format!("loopsafe: {e}; the previous settings stay in force"))
                .await;
        }
    }
}
