//! `textDocument/codeAction`: answered at once where there is nothing of ours, otherwise rebuilt off the
//! async thread by `lsp::code_action`.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

use crate::lsp::scheduler::{self, CancelOnDrop};
use crate::lsp::{Backend, code_action};

/// How long `source.fixAll` waits for the current version's chain findings.
const FIX_ALL_WAIT: Duration = Duration::from_secs(10);

pub(in crate::lsp) async fn code_action(
    backend: &Backend,
    params: CodeActionParams,
) -> Result<Option<CodeActionResponse>> {
    let uri = params.text_document.uri.clone();
    // Editors ask on every move of the cursor, mostly where there is nothing of ours: answered at once.
    let ours = params.context.diagnostics.iter().any(|d| d.source.as_deref() == Some("loopsafe"));
    // A selection (not a bare cursor) may be moved to a thread: a refactoring, with or without findings.
    let selection = code_action::is_selection(&params.range)
        && code_action::wants(&params.context.only, CodeActionKind::REFACTOR_EXTRACT.as_str());
    if !ours && !selection && !code_action::wants(&params.context.only, code_action::FIX_ALL) {
        return Ok(backend.state.documents.contains_key(&uri).then(Vec::new));
    }
    // Edits left for a later `didChange` are analysed first (as that one would have).
    backend.catch_up(&uri);
    // Fix-all takes chain findings from the published diagnostics: those of the current version.
    let chains = if code_action::wants(&params.context.only, code_action::FIX_ALL) {
        backend.published(&uri, true, FIX_ALL_WAIT).await.map(|p| p.diagnostics.clone()).unwrap_or_default()
    } else {
        Vec::new()
    };
    let fix_all = code_action::wants(&params.context.only, code_action::FIX_ALL);
    let Some(snapshot) = backend.state.documents.get(&uri).map(|d| code_action::Snapshot::of(&d)) else {
        return Ok(None);
    };
    // Quick fixes only for diagnostics of the current version: none (and no selection), nothing to compute.
    if !fix_all && !selection && !code_action::any_current(&params.context.diagnostics, snapshot.version()) {
        return Ok(Some(Vec::new()));
    }
    // Rebuilt off the async thread; `$/cancelRequest` drops this future, which stops that work.
    // Quick fixes on threads of their own, fix-all (which may take long) in the blocking pool.
    let cancel = CancelOnDrop(Arc::new(AtomicBool::new(false)));
    let (state, flag) = (backend.state.clone(), cancel.0.clone());
    let work = move || code_action::actions(&state, snapshot, chains, params, &flag);
    let actions = if fix_all {
        scheduler::background(work).await.unwrap_or_else(|e| {
            tracing::error!("code actions failed: {e}");
            None
        })
    } else {
        scheduler::interactive(work).await.flatten()
    };
    drop(cancel);
    Ok(actions)
}
