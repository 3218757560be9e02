//! `loopsafe server`: the language server. The only module that knows LSP types.
//!
//! Concurrency rules (tower-lsp runs up to four handlers at once, notifications included):
//! - every document mutation (`didOpen`, `didChange`, `didClose`) happens before the handler's first
//!   `.await`, so edits apply in the order they arrive;
//! - no dashmap guard is held across an `.await` (values are cloned out first);
//! - no handler awaits a request to the client: refreshes are spawned with a timeout;
//! - nothing slow runs on the async thread: whole-file analyses, code actions, linking, reading files
//!   and sending diagnostics happen on blocking threads or in spawned tasks (`scheduler`), so that a
//!   handler returns at once and hovers are answered while a large document is analysed.
//!
//! Where things are: `state` (the server's state and the `Backend` handlers get), `handlers` (one file
//! per LSP method), `convert` (findings to LSP diagnostics), `index` (the workspace index and the linked
//! project), `settings` (the settings in force), `scheduler` (analyses off the async thread, the
//! refresher that publishes diagnostics), `code_action` (fixes rebuilt from diagnostics), `document`
//! (an open document), and the transport (`input`, `framing`, `stdio`).

mod code_action;
mod convert;
pub mod document;
mod fix_files;
pub mod framing;
mod handlers;
mod index;
mod input;
pub mod log;
mod runtime;
mod scheduler;
mod settings;
mod state;
mod stdio;
mod timing;
mod watch;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{LanguageServer, LspService};

use convert::{apply_baseline, chain_hash, chain_to_lsp, finding_to_lsp, plain};
use document::Document;
use state::{
    CLIENT_REQUEST_TIMEOUT, Caps, Config, INDEX_BUILT, INDEX_NOT_STARTED, INDEX_READY, INDEX_RUNNING, Linked, State,
};

pub use document::Encoding as PositionEncoding;
pub use handlers::set_trace::set_log_control;
pub use input::Ended;
pub use state::Backend;

/// How many `didChange` notifications in this process left their analysis to a later one for the same
/// document (see `handlers::did_change`), for tests.
pub fn coalesced_edits() -> u64 {
    timing::coalesced()
}

/// Serves LSP on stdin/stdout until `exit` or the end of input.
pub async fn serve_stdio() -> Ended {
    let (input, output) = stdio::open();
    serve(input, output).await
}

/// Serves LSP over any pair of streams (stdio, or a duplex in tests) until `exit` or the end of input.
/// Any byte sequence is survived: see `input` and `framing`.
pub async fn serve<R, W>(input: R, output: W) -> Ended
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
    W: tokio::io::AsyncWrite + Unpin,
{
    // `$/setTrace` is a notification tower-lsp-server would otherwise drop as an unknown `$/` method.
    let framed = std::sync::Arc::new(input::Framed::default());
    let shared = framed.clone();
    let (service, socket) = LspService::build(move |client| Backend::new(client, shared))
        .custom_method("$/setTrace", Backend::set_trace)
        .finish();
    input::run(service, socket, input, output, framed).await
}

/// Each method is its handler in `handlers/<method>.rs`.
impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        handlers::initialize::initialize(self, params).await
    }

    async fn initialized(&self, params: InitializedParams) {
        handlers::initialize::initialized(self, params).await
    }

    async fn shutdown(&self) -> Result<()> {
        handlers::shutdown::shutdown(self).await
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        handlers::did_open::did_open(self, params).await
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        handlers::did_change::did_change(self, params).await
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        handlers::did_close::did_close(self, params).await
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        handlers::did_save::did_save(self, params).await
    }

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
        handlers::did_change_watched_files::did_change_watched_files(self, params).await
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        handlers::did_change_configuration::did_change_configuration(self, params).await
    }

    async fn diagnostic(&self, params: DocumentDiagnosticParams) -> Result<DocumentDiagnosticReportResult> {
        handlers::diagnostic::diagnostic(self, params).await
    }

    async fn workspace_diagnostic(&self, params: WorkspaceDiagnosticParams) -> Result<WorkspaceDiagnosticReportResult> {
        handlers::workspace_diagnostic::workspace_diagnostic(self, params).await
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        handlers::code_action::code_action(self, params).await
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        handlers::hover::hover(self, params).await
    }
}
