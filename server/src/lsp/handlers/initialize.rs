//! `initialize` (capabilities, workspace folders, settings) and `initialized` (the background index
//! of the workspace, the server's watch, the client's file watching).

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

use super::set_trace::apply_trace;
use crate::lsp::document::Encoding;
use crate::lsp::settings::client_table;
use crate::lsp::{Backend, CLIENT_REQUEST_TIMEOUT, Caps, INDEX_BUILT, INDEX_RUNNING, code_action, log};
use crate::settings::Settings;

pub(in crate::lsp) async fn initialize(backend: &Backend, params: InitializeParams) -> Result<InitializeResult> {
    let general = params.capabilities.general.as_ref();
    let offered = general.and_then(|g| g.position_encodings.clone()).unwrap_or_default();
    let encoding = if offered.contains(&PositionEncodingKind::UTF8) {
        Encoding::Utf8
    } else if offered.contains(&PositionEncodingKind::UTF32) && !offered.contains(&PositionEncodingKind::UTF16) {
        Encoding::Utf32
    } else {
        Encoding::Utf16
    };
    let text_caps = params.capabilities.text_document.as_ref();
    let pull = text_caps.and_then(|t| t.diagnostic.as_ref()).is_some();
    let workspace_caps = params.capabilities.workspace.as_ref();
    // Helix (25.07) handles `workspace/diagnostic/refresh` but declares it as
    // `workspace.diagnostic.refreshSupport` (the specification says `diagnostics`), which the typed
    // capabilities drop: without the refresh, a finding that changed because a closed module changed
    // on disk would never reach it.
    let helix = params.client_info.as_ref().is_some_and(|c| c.name == "helix");
    let refresh =
        helix || workspace_caps.and_then(|w| w.diagnostics.as_ref()).and_then(|d| d.refresh_support).unwrap_or(false);
    let progress = params.capabilities.window.as_ref().and_then(|w| w.work_done_progress).unwrap_or(false);
    let document_changes =
        workspace_caps.and_then(|w| w.workspace_edit.as_ref()).and_then(|e| e.document_changes).unwrap_or(false);
    let disabled_actions =
        text_caps.and_then(|t| t.code_action.as_ref()).and_then(|c| c.disabled_support).unwrap_or(false);
    let diagnostics_in_hover = params
        .capabilities
        .experimental
        .as_ref()
        .and_then(|e| e.pointer("/loopsafe/diagnosticsInHover"))
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    // Neovim answers `workspace/diagnostic/refresh` with a workspace pull when the server offers one,
    // and never applies its reports to the buffers it pulls one by one: a finding that changed because
    // another file changed on disk would stay stale in the open buffer. Without workspace pulls, it
    // answers a refresh by pulling each open buffer again.
    let neovim = params.client_info.as_ref().is_some_and(|c| c.name == "Neovim");
    let workspace_diagnostics = !neovim;
    let client_watches = workspace_caps
        .and_then(|w| w.did_change_watched_files.as_ref())
        .and_then(|d| d.dynamic_registration)
        .unwrap_or(false);
    let _ = backend.state.caps.set(Caps {
        encoding,
        pull,
        refresh,
        progress,
        document_changes,
        disabled_actions,
        diagnostics_in_hover,
        client_watches,
    });
    if let Some(trace) = params.trace {
        apply_trace(trace);
    }

    let mut roots: Vec<PathBuf> = params
        .workspace_folders
        .unwrap_or_default()
        .iter()
        .filter_map(|f| f.uri.to_file_path().map(|p| p.into_owned()))
        .collect();
    #[allow(deprecated)]
    if roots.is_empty()
        && let Some(p) = params.root_uri.as_ref().and_then(|u| u.to_file_path())
    {
        roots.push(p.into_owned());
    }
    let roots: Vec<PathBuf> = roots.into_iter().map(|r| std::fs::canonicalize(&r).unwrap_or(r)).collect();

    // Settings: initializationOptions (the keys of [tool.loopsafe]) over the root's pyproject.toml.
    *backend.state.roots.write().expect("roots lock") = roots;
    match client_table(params.initialization_options.unwrap_or_default(), "initializationOptions:") {
        Ok(t) => *backend.state.client_table.write().expect("client settings lock") = t,
        Err(e) => backend.client.show_message(MessageType::ERROR, format!("loopsafe: {e}")).await,
    }
    // Reading pyproject.toml: on a blocking thread (it could be anything, even a FIFO).
    let state = backend.state.clone();
    let read = tokio::task::spawn_blocking(move || state.read_settings()).await;
    let loaded = match read.unwrap_or_else(|e| Err(e.to_string())) {
        Ok(s) => s,
        Err(e) => {
            backend.client.show_message(MessageType::ERROR, format!("loopsafe: {e}")).await;
            (Settings::default(), None, None)
        }
    };
    backend.put_config(loaded);

    let position_encoding = Some(match encoding {
        Encoding::Utf8 => PositionEncodingKind::UTF8,
        Encoding::Utf16 => PositionEncodingKind::UTF16,
        Encoding::Utf32 => PositionEncodingKind::UTF32,
    });
    Ok(InitializeResult {
        capabilities: ServerCapabilities {
            position_encoding,
            text_document_sync: Some(TextDocumentSyncCapability::Options(TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::INCREMENTAL),
                ..Default::default()
            })),
            hover_provider: Some(HoverProviderCapability::Simple(true)),
            code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
                code_action_kinds: Some(code_action::kinds()),
                work_done_progress_options: Default::default(),
                resolve_provider: Some(false),
            })),
            diagnostic_provider: pull.then(|| {
                DiagnosticServerCapabilities::Options(DiagnosticOptions {
                    identifier: Some("loopsafe".into()),
                    inter_file_dependencies: true,
                    workspace_diagnostics,
                    work_done_progress_options: Default::default(),
                })
            }),
            ..Default::default()
        },
        server_info: Some(ServerInfo { name: "loopsafe".into(), version: Some(env!("CARGO_PKG_VERSION").into()) }),
        offset_encoding: None,
    })
}

pub(in crate::lsp) async fn initialized(backend: &Backend, _: InitializedParams) {
    // From now on logs go to the client (tower-lsp drops messages sent before `initialized`).
    log::connect(backend.client.clone());
    backend.state.index_state.store(INDEX_RUNNING, Ordering::SeqCst);
    let state = backend.state.clone();
    let client = backend.client.clone();
    // Index in the background: handlers keep serving meanwhile. Progress is reported when the
    // client shows it; creating the token is a request to the client, so it too is in the task.
    tokio::spawn(async move {
        // The server's own watch starts before the index reads the files, so that no change made
        // meanwhile is missed (the newer read wins: `index_stamps`). It runs whatever the client
        // declares: Helix declares dynamic registration of `didChangeWatchedFiles` but reports only
        // the files it writes itself, not those another program changes.
        Backend { client: client.clone(), state: state.clone() }.watch_workspace().await;
        let started = std::time::Instant::now();
        let mut progress = None;
        if state.caps().progress {
            let token = ProgressToken::String("loopsafe/index".into());
            let created =
                tokio::time::timeout(CLIENT_REQUEST_TIMEOUT, client.create_work_done_progress(token.clone())).await;
            if matches!(created, Ok(Ok(()))) {
                let roots = state.roots.read().expect("roots lock").len();
                progress = Some(
                    client
                        .progress(token, "loopsafe")
                        .with_message(format!("indexing {roots} workspace folder(s)"))
                        .begin()
                        .await,
                );
            }
        }
        let worker = state.clone();
        let n = crate::lsp::scheduler::background(move || worker.index_workspace()).await.unwrap_or(0);
        let summary = format!("indexed {n} files in {:.2}s", started.elapsed().as_secs_f64());
        tracing::info!("{summary}");
        // Pulls wait until the refresh queued below has recomputed the open documents.
        state.index_state.store(INDEX_BUILT, Ordering::SeqCst);
        Backend { client: client.clone(), state: state.clone() }.refresh_all();
        if let Some(p) = progress {
            p.finish_with_message(summary).await;
        }
        // Changes on disk (another editor, git checkout) update the index: watched by the server
        // itself (above) and, where the client can watch files for the server, reported by it too
        // (a file read twice changes nothing the second time).
        if state.caps().client_watches {
            let watch = Registration {
                id: "loopsafe-watch".into(),
                method: "workspace/didChangeWatchedFiles".into(),
                register_options: serde_json::to_value(DidChangeWatchedFilesRegistrationOptions {
                    watchers: ["**/*.py", "**/pyproject.toml", "**/requirements*.txt", "**/*baseline*.json"]
                        .into_iter()
                        .map(|g| FileSystemWatcher { glob_pattern: GlobPattern::String(g.into()), kind: None })
                        .collect(),
                })
                .ok(),
            };
            let registering = client.clone();
            tokio::spawn(async move {
                let _ =
                    tokio::time::timeout(CLIENT_REQUEST_TIMEOUT, registering.register_capability(vec![watch])).await;
            });
        }
    });
}
