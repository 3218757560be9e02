//! `$/setTrace` and the `trace` of `initialize`: the client's trace setting raises the server's log level.

use std::sync::OnceLock;

use tower_lsp_server::ls_types::*;

use crate::lsp::Backend;

/// How the client's `trace` setting changes the server's logging, installed by the binary (the library
/// does not own the process's log subscriber). It gets the least level to log at (`"info"` for
/// `messages`, `"debug"` for `verbose`), or `None` to go back to the `--log-level` the server started with.
type LogControl = Box<dyn Fn(Option<&'static str>) + Send + Sync>;
static LOG_CONTROL: OnceLock<LogControl> = OnceLock::new();

/// Lets the client's `trace` setting (`initialize` and `$/setTrace`) raise the log level.
pub fn set_log_control(f: impl Fn(Option<&'static str>) + Send + Sync + 'static) {
    let _ = LOG_CONTROL.set(Box::new(f));
}

pub(super) fn apply_trace(value: TraceValue) {
    let level = match value {
        TraceValue::Off => None,
        TraceValue::Messages => Some("info"),
        TraceValue::Verbose => Some("debug"),
    };
    if let Some(control) = LOG_CONTROL.get() {
        control(level);
    }
    tracing::info!("trace set to {value:?}");
}

impl Backend {
    pub(in crate::lsp) async fn set_trace(&self, params: SetTraceParams) {
        apply_trace(params.value);
    }
}
