//! One file per LSP method the server handles, named after it (`didChange` is in `did_change.rs`).
//! Each holds the handler `impl LanguageServer for Backend` delegates to (in `lsp/mod.rs`), and the
//! helpers only that method uses.

pub(super) mod code_action;
pub(super) mod diagnostic;
pub(super) mod did_change;
pub(super) mod did_change_configuration;
pub(super) mod did_change_watched_files;
pub(super) mod did_close;
pub(super) mod did_open;
pub(super) mod did_save;
pub(super) mod hover;
pub(super) mod initialize;
pub(super) mod set_trace;
pub(super) mod shutdown;
pub(super) mod workspace_diagnostic;
