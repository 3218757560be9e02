//! `textDocument/codeAction`: quick fixes for loopsafe's diagnostics and `source.fixAll.loopsafe`.
//!
//! Every action is rebuilt from the diagnostic's `data` (rule, callee, fixes, call range, version, chain)
//! and the current document: no fix is cached anywhere. A diagnostic whose `version` is not the
//! document's current version yields no action (its ranges may be stale). The first action of a
//! diagnostic is its safest fix and is `isPreferred`; a fix that is not offered shows as a disabled
//! action with the reason, when the client supports that. The handler takes a snapshot of the document
//! (its rope and tree, cheap to clone) and computes the actions on a blocking thread, checking between
//! steps whether the request was cancelled; it holds no guard while computing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

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
    vec![CodeActionKind::QUICKFIX, CodeActionKind::REFACTOR_EXTRACT, CodeActionKind::from(FIX_ALL)]
}

/// A document as a code action request found it.
pub(super) struct Snapshot {
    rope: ropey::Rope,
    version: i32,
    tree: Option<tree_sitter::Tree>,
    stale: bool,
}

impl Snapshot {
    pub(super) fn of(d: &super::Document) -> Snapshot {
        Snapshot {
            rope: d.rope.clone(),
            version: d.version,
            tree: d.tree.clone().filter(|_| !d.blanked),
            stale: d.stale,
        }
    }

    pub(super) fn version(&self) -> i32 {
        self.version
    }
}

/// Whether a request's range is a selection, not a cursor: an empty range (VS Code, Neovim) or one
/// character on one line (Helix's cursor is a one-character selection) is a cursor.
pub(super) fn is_selection(range: &Range) -> bool {
    range.start.line != range.end.line || range.end.character > range.start.character + 1
}

/// Whether any of loopsafe's diagnostics describes `version` (only those get quick fixes).
pub(super) fn any_current(diagnostics: &[Diagnostic], version: i32) -> bool {
    diagnostics.iter().any(|d| {
        d.source.as_deref() == Some("loopsafe")
            && d.data.as_ref().and_then(|x| x.get("version")).and_then(|v| v.as_i64()) == Some(i64::from(version))
    })
}

pub(super) fn wants(only: &Option<Vec<CodeActionKind>>, kind: &str) -> bool {
    match only {
        None => kind != FIX_ALL,
        // `only: ["source"]` or `["source.fixAll"]` asks for everything below it.
        Some(list) => list.iter().any(|k| {
            let k = k.as_str();
            kind == k || kind.starts_with(k) && kind[k.len()..].starts_with('.')
        }),
    }
}

/// The actions for a request, on a blocking thread. `chains` are the document's published diagnostics
/// (for fix-all: chain findings need the linked project); `cancel` is set when the request is cancelled,
/// and the work then stops at its next step.
pub(super) fn actions(
    state: &State,
    snapshot: Snapshot,
    chains: Vec<Diagnostic>,
    params: CodeActionParams,
    cancel: &AtomicBool,
) -> Option<CodeActionResponse> {
    let cancelled = || cancel.load(Ordering::Relaxed);
    let uri = params.text_document.uri;
    let caps = state.caps();
    let config = state.config();
    let Snapshot { rope, version, tree, stale } = snapshot;
    let text = rope.to_string();
    let (tree, blanked) = match tree {
        Some(t) if !stale => (t, false),
        t => match crate::analysis::parse_document(&text, t.as_ref()) {
            (Some(t), blanked) => (t, blanked),
            (None, _) => return None,
        },
    };
    if cancelled() {
        return None;
    }
    let anyio = *state.anyio.lock().expect("anyio lock").get_or_insert_with(|| {
        let roots = state.roots.read().expect("roots lock").clone();
        roots.iter().any(|r| crate::config::project_depends_on(r, ANYIO_PROVIDERS))
    });
    let http_module = state
        .http_module
        .lock()
        .expect("http module lock")
        .get_or_insert_with(|| {
            let roots = state.roots.read().expect("roots lock").clone();
            roots.iter().find_map(|r| crate::autofix::http_module(r))
        })
        .clone();
    let options = Options::new(&config.settings, anyio).with_http_module(http_module);
    // The file's routes (a query of the whole file) are kept with its parse for this text: the fixes across
    // the workspace read the same (`Loaded::read`), and so do later requests on this version.
    let path = uri.to_file_path().map(|p| p.into_owned());
    let parsed = path
        .as_deref()
        .filter(|_| !blanked && !tree.root_node().has_error())
        .map(|p| state.fix_files.parsed_one(&config.catalog, p, &text));
    let ctx = match &parsed {
        Some(p) => {
            p.seed(&tree);
            let endpoints = std::borrow::Cow::Borrowed(p.endpoints(&text, &tree, &config.catalog));
            FileContext::with_endpoints(&text, &tree, &config.catalog, &options, endpoints)
        }
        None => FileContext::new(&text, &tree, &config.catalog, &options),
    };
    let enc = caps.encoding;
    let mut out: CodeActionResponse = Vec::new();

    if wants(&params.context.only, CodeActionKind::QUICKFIX.as_str()) {
        for diag in &params.context.diagnostics {
            if cancelled() {
                return None;
            }
            let Some(target) = target_of(diag, version, &rope, enc) else { continue };
            let fixes = ctx.fixes(&target);
            let first = out.len();
            // A chain made async: every call site in the workspace, not only the file's.
            let offered = |id| fixes.fixes.iter().any(|f| f.id == id) || fixes.refused.iter().any(|r| r.id == id);
            let mut across = (target.chain && offered(fix::FixId::MakeAsync))
                .then(|| workspace_make_async(state, &uri, &text, &target, &options, caps))
                .flatten();
            let mut refused = fixes.refused;
            let mut preferred = true;
            for f in fixes.fixes {
                let is_preferred = preferred && f.id != fix::FixId::Noqa;
                preferred = false;
                if f.id == fix::FixId::MakeAsync && across.is_some() {
                    match across.take() {
                        Some(Ok(action)) => out.push(CodeActionOrCommand::CodeAction(CodeAction {
                            diagnostics: Some(vec![diag.clone()]),
                            is_preferred: is_preferred.then_some(true),
                            ..action
                        })),
                        Some(Err(reason)) => {
                            refused.push(fix::Refusal { id: f.id, title: f.title, reason });
                        }
                        None => {}
                    }
                    continue;
                }
                out.push(CodeActionOrCommand::CodeAction(CodeAction {
                    title: super::plain(&f.title),
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
            if let Some(i) = refused.iter().position(|r| r.id == fix::FixId::MakeAsync) {
                match across {
                    Some(Ok(action)) => {
                        refused.remove(i);
                        out.push(CodeActionOrCommand::CodeAction(CodeAction {
                            diagnostics: Some(vec![diag.clone()]),
                            ..action
                        }));
                    }
                    Some(Err(reason)) => refused[i].reason = reason,
                    None => {}
                }
            }
            if target.rule == Rule::AsyncWithoutAwait
                && let Some(i) = refused.iter().position(|r| r.id == fix::FixId::MakeSync)
            {
                // A coroutine no framework runs: make it sync and drop `await` at its call sites.
                match workspace_make_sync(state, &uri, &text, target.range.clone(), &config.catalog, caps) {
                    Ok(action) => {
                        refused.remove(i);
                        // Before the suppression, and preferred (it is the only real fix).
                        out.insert(
                            first,
                            CodeActionOrCommand::CodeAction(CodeAction {
                                diagnostics: Some(vec![diag.clone()]),
                                is_preferred: Some(true),
                                ..action
                            }),
                        );
                    }
                    Err(reason) => refused[i].reason = reason,
                }
            }
            if caps.disabled_actions {
                for r in refused {
                    out.push(CodeActionOrCommand::CodeAction(CodeAction {
                        title: super::plain(&r.title),
                        kind: Some(CodeActionKind::QUICKFIX),
                        diagnostics: Some(vec![diag.clone()]),
                        disabled: Some(CodeActionDisabled { reason: super::plain(&r.reason) }),
                        ..Default::default()
                    }));
                }
            }
        }
    }

    // A selection of statements to a thread: a refactoring, offered on any selection of statements in a
    // coroutine as rust-analyzer offers "Extract into function"; a quick fix (for those findings) when the
    // request's diagnostics have their calls in it. Not for a request on exactly a diagnostic's range
    // (the client asking for that finding's fixes, not a selection).
    let (start, end) = (offset(&rope, params.range.start, enc), offset(&rope, params.range.end, enc));
    let on_a_diagnostic = params.context.diagnostics.iter().any(|d| d.range == params.range);
    let selection = (is_selection(&params.range) && start < end && !on_a_diagnostic)
        .then(|| ctx.offload_selection(start..end))
        .flatten();
    let mut extracted: Option<Vec<Edit>> = None;
    if let Some((span, fixes)) = selection {
        let inside: Vec<Diagnostic> = params
            .context
            .diagnostics
            .iter()
            .filter(|d| {
                target_of(d, version, &rope, enc)
                    .is_some_and(|t| span.start <= t.range.start && t.range.end <= span.end)
            })
            .cloned()
            .collect();
        let kind = if !inside.is_empty() && wants(&params.context.only, CodeActionKind::QUICKFIX.as_str()) {
            Some(CodeActionKind::QUICKFIX)
        } else {
            wants(&params.context.only, CodeActionKind::REFACTOR_EXTRACT.as_str())
                .then_some(CodeActionKind::REFACTOR_EXTRACT)
        };
        let diagnostics = (!inside.is_empty()).then_some(inside);
        if let Some(kind) = kind {
            for f in fixes.fixes {
                out.push(CodeActionOrCommand::CodeAction(CodeAction {
                    title: super::plain(&f.title),
                    kind: Some(kind.clone()),
                    diagnostics: diagnostics.clone(),
                    edit: Some(workspace_edit(caps.document_changes, &uri, version, &f.edits, &rope, enc)),
                    data: Some(serde_json::json!({ "applicability": "unsafe" })),
                    ..Default::default()
                }));
                extracted = Some(f.edits);
            }
            if caps.disabled_actions {
                for r in fixes.refused {
                    out.push(CodeActionOrCommand::CodeAction(CodeAction {
                        title: super::plain(&r.title),
                        kind: Some(kind.clone()),
                        diagnostics: diagnostics.clone(),
                        disabled: Some(CodeActionDisabled { reason: super::plain(&r.reason) }),
                        ..Default::default()
                    }));
                }
            }
        }
    }

    if wants(&params.context.only, CodeActionKind::REFACTOR_EXTRACT.as_str()) {
        // The whole `with` block to a thread, as a refactoring: for the `with` statement under the cursor
        // and for those the diagnostics' calls enter or go through (once each; not again when the
        // selection's action already makes the same edit).
        let cursor = offset(&rope, params.range.start, enc);
        let mut found = vec![ctx.offload_block_at(cursor)];
        for diag in &params.context.diagnostics {
            if let Some(target) = target_of(diag, version, &rope, enc) {
                found.push(ctx.offload_block_for(&target));
            }
        }
        let mut seen: Vec<Vec<Edit>> = extracted.into_iter().collect();
        for fixes in found {
            if cancelled() {
                return None;
            }
            for f in fixes.fixes {
                if seen.contains(&f.edits) {
                    continue;
                }
                out.push(CodeActionOrCommand::CodeAction(CodeAction {
                    title: super::plain(&f.title),
                    kind: Some(CodeActionKind::REFACTOR_EXTRACT),
                    edit: Some(workspace_edit(caps.document_changes, &uri, version, &f.edits, &rope, enc)),
                    data: Some(serde_json::json!({ "applicability": "unsafe" })),
                    ..Default::default()
                }));
                seen.push(f.edits);
            }
            if caps.disabled_actions {
                for r in fixes.refused {
                    let title = super::plain(&r.title);
                    let dup = out.iter().any(|a| matches!(a, CodeActionOrCommand::CodeAction(a) if a.title == title && a.kind == Some(CodeActionKind::REFACTOR_EXTRACT)));
                    if !dup {
                        out.push(CodeActionOrCommand::CodeAction(CodeAction {
                            title,
                            kind: Some(CodeActionKind::REFACTOR_EXTRACT),
                            disabled: Some(CodeActionDisabled { reason: super::plain(&r.reason) }),
                            ..Default::default()
                        }));
                    }
                }
            }
        }
    }

    if wants(&params.context.only, FIX_ALL) {
        // Chain findings need the linked project: take them from what is published for the document.
        let chains: Vec<Target> = chains
            .iter()
            .filter(|d| d.data.as_ref().is_some_and(|x| x.get("chain").is_some()))
            .filter_map(|d| target_of(d, version, &rope, enc))
            .collect();
        if cancelled() {
            return None;
        }
        // Stops between findings when the request is cancelled (many findings take a while).
        // The document's `per-file-ignores` hold for its fixes too.
        let settings = match uri.to_file_path() {
            Some(p) => config.settings.for_file(&p),
            None => std::borrow::Cow::Borrowed(&config.settings),
        };
        let fixed = fix::fix_all_until(&text, chains, &config.catalog, &settings, &options, false, &cancelled);
        if cancelled() {
            return None;
        }
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

/// Every Python file of the workspace as the fix engine reads it: open documents from their buffer
/// (`uri` from `text`), others from disk; the list of files and their parses as `fix_files` keeps them.
struct Loaded {
    files: Vec<(std::path::PathBuf, Uri, String, Option<i32>)>,
    shown: Vec<String>,
    modules: Vec<Vec<String>>,
    parsed: Vec<std::sync::Arc<fix::Parsed>>,
    home: usize,
}

impl Loaded {
    fn read(state: &State, uri: &Uri, text: &str) -> Result<Loaded, String> {
        let path = uri.to_file_path().map(|p| p.into_owned()).ok_or("the document is not a file")?;
        let roots = state.roots.read().expect("roots lock").clone();
        // Every Python file of the workspace, as a walk finds it now (kept while it cannot have changed:
        // `fix_files`): the background index may not be complete, and a caller missed would be broken by
        // the rewrite.
        let config = state.config();
        let listing = state.fix_files.listing(&roots, &config)?;
        let (paths, modules) = if listing.paths.binary_search(&path).is_ok() {
            (std::borrow::Cow::Borrowed(&listing.paths), std::borrow::Cow::Borrowed(&listing.modules))
        } else {
            let mut paths = listing.paths.clone();
            paths.push(path.clone());
            paths.sort();
            let modules = super::fix_files::module_names(&paths, roots.first().map(std::path::PathBuf::as_path));
            (std::borrow::Cow::Owned(paths), std::borrow::Cow::Owned(modules))
        };
        // A file that cannot be read is left out, with its path, so that every file keeps its own
        // module names.
        let mut files = Vec::new();
        let mut kept_modules = Vec::new();
        for (p, m) in paths.iter().zip(modules.iter()) {
            let Some(u) = Uri::from_file_path(p) else { continue };
            let (t, v) = if *p == path {
                (text.to_string(), state.documents.get(&u).map(|d| d.version))
            } else if let Some(d) = state.documents.get(&u) {
                (d.text.clone(), Some(d.version))
            } else {
                match super::scheduler::read_regular(p) {
                    Ok(text) => (text, None),
                    Err(_) => continue,
                }
            };
            files.push((p.clone(), u, t, v));
            kept_modules.push(m.clone());
        }
        let home = files.iter().position(|(_, u, _, _)| u == uri).ok_or("the document is not in the workspace")?;
        let shown = files.iter().map(|(p, ..)| p.display().to_string()).collect();
        let texts: Vec<(&std::path::Path, &str)> = files.iter().map(|(p, _, t, _)| (p.as_path(), t.as_str())).collect();
        let parsed = state.fix_files.parsed(&config.catalog, &texts);
        Ok(Loaded { files, shown, modules: kept_modules, parsed, home })
    }

    fn parsed(&self) -> Vec<&fix::Parsed> {
        self.parsed.iter().map(|p| &**p).collect()
    }

    fn workspace_files(&self) -> Vec<fix::WorkspaceFile<'_>> {
        self.files
            .iter()
            .zip(&self.shown)
            .zip(&self.modules)
            .map(|(((_, _, t, _), shown), modules)| fix::WorkspaceFile {
                path: shown,
                text: t,
                modules: modules.clone(),
            })
            .collect()
    }

    /// A quick fix applying `edits` (per file index) together.
    fn action(&self, title: &str, edits: fix::FileEdits, caps: super::Caps) -> CodeAction {
        let enc = caps.encoding;
        let mut document_changes = Vec::new();
        let mut changes = HashMap::new();
        for (i, file_edits) in edits {
            let (_, u, t, v) = &self.files[i];
            let rope = ropey::Rope::from_str(t);
            let text_edits: Vec<TextEdit> = file_edits
                .iter()
                .map(|e| TextEdit {
                    range: Range { start: position(&rope, e.range.start, enc), end: position(&rope, e.range.end, enc) },
                    new_text: e.text.clone(),
                })
                .collect();
            if caps.document_changes {
                document_changes.push(TextDocumentEdit {
                    text_document: OptionalVersionedTextDocumentIdentifier { uri: u.clone(), version: *v },
                    edits: text_edits.into_iter().map(OneOf::Left).collect(),
                });
            } else {
                changes.insert(u.clone(), text_edits);
            }
        }
        let edit = if caps.document_changes {
            WorkspaceEdit { document_changes: Some(DocumentChanges::Edits(document_changes)), ..Default::default() }
        } else {
            WorkspaceEdit { changes: Some(changes), ..Default::default() }
        };
        CodeAction {
            title: super::plain(title),
            kind: Some(CodeActionKind::QUICKFIX),
            edit: Some(edit),
            data: Some(serde_json::json!({ "applicability": "unsafe" })),
            ..Default::default()
        }
    }
}

/// The workspace-wide make-sync action for the coroutine named at `range` in `uri`.
fn workspace_make_sync(
    state: &State,
    uri: &Uri,
    text: &str,
    range: std::ops::Range<usize>,
    catalog: &crate::catalog::Catalog,
    caps: super::Caps,
) -> Result<CodeAction, String> {
    let loaded = Loaded::read(state, uri, text)?;
    let (title, edits) = fix::make_sync_with(&loaded.workspace_files(), &loaded.parsed(), loaded.home, range, catalog)?;
    Ok(loaded.action(&title, edits, caps))
}

/// The workspace-wide make-async action for the chain call `target` in `uri`: `None` where the document
/// is not a file of the workspace (the fix of the file alone stands).
fn workspace_make_async(
    state: &State,
    uri: &Uri,
    text: &str,
    target: &Target,
    options: &Options,
    caps: super::Caps,
) -> Option<Result<CodeAction, String>> {
    let loaded = Loaded::read(state, uri, text).ok()?;
    let config = state.config();
    let (files, parsed) = (loaded.workspace_files(), loaded.parsed());
    Some(fix::make_async_with(&files, &parsed, loaded.home, target, &config.catalog, options).map(|made| {
        let mut title = made.title;
        // `httpx` (or `aiosqlite`) brought in where the project does not declare it: the title says so.
        if let Some(package) = made.package {
            let roots = state.roots.read().expect("roots lock").clone();
            if !roots.iter().any(|r| crate::config::project_depends_on(r, &[package.as_str()])) {
                title.push_str(&format!(" ({package} is not a declared dependency)"));
            }
        }
        loaded.action(&title, made.edits, caps)
    }))
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
        chain: data.get("chain").and_then(|c| c.as_bool()) == Some(true),
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
