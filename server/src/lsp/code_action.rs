//! `textDocument/codeAction`: quick fixes for loopsafe's diagnostics and `source.fixAll.loopsafe`.
//!
//! Every action is rebuilt from the diagnostic's `data` (rule, callee, fixes, call range, version, chain)
//! and the current document: no fix is cached anywhere. A diagnostic whose `version` is not the
//! document's current version yields no action (its ranges may be stale). The first action of a
//! diagnostic is its safest fix and is `isPreferred`; a fix that is not offered shows as a disabled
//! action with the reason, when the client supports that. The whole handler is synchronous: it clones
//! what it needs out of the document store and holds no guard while computing.

use std::collections::HashMap;

use tower_lsp_server::ls_types::*;

use super::State;
use super::document::{Encoding, offset, position};
use crate::catalog::FixKind;
use crate::fix::{self, Applicability, Edit, FileContext, Options, Target};
use crate::rules::Rule;

/// The kind of the fix-all action.
pub const FIX_ALL: &str = "source.fixAll.loopsafe";
/// The title of the fix-all action.
pub const FIX_ALL_TITLE: &str = "Fix all safe loopsafe findings";

/// Libraries whose presence means `anyio` is installed.
const ANYIO_PROVIDERS: &[&str] = &["anyio", "fastapi", "starlette", "httpx"];

/// The kinds the server advertises.
pub fn kinds() -> Vec<CodeActionKind> {
    vec![CodeActionKind::QUICKFIX, CodeActionKind::from(FIX_ALL)]
}

fn wants(only: &Option<Vec<CodeActionKind>>, kind: &str) -> bool {
    match only {
        None => kind != FIX_ALL,
        // `only: ["source"]` or `["source.fixAll"]` asks for everything below it.
        Some(list) => list.iter().any(|k| {
            let k = k.as_str();
            kind == k || kind.starts_with(k) && kind[k.len()..].starts_with('.')
        }),
    }
}

pub(super) fn actions(state: &State, params: CodeActionParams) -> Option<CodeActionResponse> {
    let uri = params.text_document.uri;
    let caps = state.caps();
    let config = state.config();
    let (text, rope, version, tree) = {
        let d = state.documents.get(&uri)?;
        (d.text.clone(), d.rope.clone(), d.version, d.tree.clone()?)
    };
    let anyio = {
        let roots = state.roots.read().expect("roots lock").clone();
        roots.iter().any(|r| crate::config::project_depends_on(r, ANYIO_PROVIDERS))
    };
    let options = Options::new(&config.settings, anyio);
    let ctx = FileContext::new(&text, &tree, &config.catalog, &options);
    let enc = caps.encoding;
    let mut out: CodeActionResponse = Vec::new();

    if wants(&params.context.only, CodeActionKind::QUICKFIX.as_str()) {
        for diag in &params.context.diagnostics {
            let Some(target) = target_of(diag, version, &rope, enc) else { continue };
            let fixes = ctx.fixes(&target);
            let mut preferred = true;
            for f in fixes.fixes {
                let is_preferred = preferred && f.id != fix::FixId::Noqa;
                preferred = false;
                out.push(CodeActionOrCommand::CodeAction(CodeAction {
                    title: f.title,
                    kind: Some(CodeActionKind::QUICKFIX),
                    diagnostics: Some(vec![diag.clone()]),
                    edit: Some(workspace_edit(caps.document_changes, &uri, version, &f.edits, &rope, enc)),
                    is_preferred: is_preferred.then_some(true),
                    data: Some(serde_json::json!({
                        "applicability": match f.applicability { Applicability::Safe => "safe", Applicability::Unsafe => "unsafe" },
                    })),
                    ..Default::default()
                }));
            }
            if caps.disabled_actions {
                for r in fixes.refused {
                    out.push(CodeActionOrCommand::CodeAction(CodeAction {
                        title: r.title,
                        kind: Some(CodeActionKind::QUICKFIX),
                        diagnostics: Some(vec![diag.clone()]),
                        disabled: Some(CodeActionDisabled { reason: r.reason }),
                        ..Default::default()
                    }));
                }
            }
        }
    }

    if wants(&params.context.only, FIX_ALL) {
        // Chain findings need the linked project: take them from what is published for the document.
        let chains: Vec<Target> = state
            .diagnostics(&uri)
            .map(|(_, diags)| {
                diags
                    .iter()
                    .filter(|d| d.data.as_ref().is_some_and(|x| x.get("chain").is_some()))
                    .filter_map(|d| target_of(d, version, &rope, enc))
                    .collect()
            })
            .unwrap_or_default();
        let fixed = fix::fix_all(&text, chains, &config.catalog, &config.settings, &options, false);
        if fixed.text != text {
            let edit = minimal_edit(&text, &fixed.text);
            out.push(CodeActionOrCommand::CodeAction(CodeAction {
                title: FIX_ALL_TITLE.into(),
                kind: Some(CodeActionKind::from(FIX_ALL)),
                edit: Some(workspace_edit(caps.document_changes, &uri, version, &[edit], &rope, enc)),
                ..Default::default()
            }));
        }
    }
    Some(out)
}

/// The fix target a loopsafe diagnostic describes, if its data is current.
fn target_of(diag: &Diagnostic, version: i32, rope: &ropey::Rope, enc: Encoding) -> Option<Target> {
    if diag.source.as_deref() != Some("loopsafe") {
        return None;
    }
    let data = diag.data.as_ref()?;
    if data.get("version").and_then(|v| v.as_i64()) != Some(i64::from(version)) {
        return None;
    }
    let rule = Rule::from_name_or_code(data.get("rule")?.as_str()?)?;
    let kinds: Vec<FixKind> =
        serde_json::from_value(data.get("fixes").cloned().unwrap_or_default()).unwrap_or_default();
    let range = match data.get("call").filter(|c| !c.is_null()) {
        Some(c) => serde_json::from_value::<Range>(c.clone()).ok()?,
        None => diag.range,
    };
    let start = offset(rope, range.start, enc);
    let end = offset(rope, range.end, enc).max(start);
    Some(Target {
        rule,
        callee: data.get("callee").and_then(|c| c.as_str()).map(str::to_string),
        kinds,
        range: start..end,
        chain: data.get("chain").is_some_and(|c| c.is_array()),
    })
}

fn workspace_edit(
    document_changes: bool,
    uri: &Uri,
    version: i32,
    edits: &[Edit],
    rope: &ropey::Rope,
    enc: Encoding,
) -> WorkspaceEdit {
    let text_edits: Vec<TextEdit> = edits
        .iter()
        .map(|e| TextEdit {
            range: Range { start: position(rope, e.range.start, enc), end: position(rope, e.range.end, enc) },
            new_text: e.text.clone(),
        })
        .collect();
    if document_changes {
        WorkspaceEdit {
            document_changes: Some(DocumentChanges::Edits(vec![TextDocumentEdit {
                text_document: OptionalVersionedTextDocumentIdentifier { uri: uri.clone(), version: Some(version) },
                edits: text_edits.into_iter().map(OneOf::Left).collect(),
            }])),
            ..Default::default()
        }
    } else {
        WorkspaceEdit { changes: Some(HashMap::from([(uri.clone(), text_edits)])), ..Default::default() }
    }
}

/// One edit turning `old` into `new`: the differing middle, on character boundaries.
fn minimal_edit(old: &str, new: &str) -> Edit {
    let mut start = old.bytes().zip(new.bytes()).take_while(|(a, b)| a == b).count();
    while !old.is_char_boundary(start) || !new.is_char_boundary(start) {
        start -= 1;
    }
    let max_suffix = old.len().min(new.len()) - start;
    let mut suffix = old.bytes().rev().zip(new.bytes().rev()).take(max_suffix).take_while(|(a, b)| a == b).count();
    while !old.is_char_boundary(old.len() - suffix) || !new.is_char_boundary(new.len() - suffix) {
        suffix -= 1;
    }
    Edit { range: start..old.len() - suffix, text: new[start..new.len() - suffix].to_string() }
}
