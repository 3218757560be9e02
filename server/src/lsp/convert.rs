//! Conversions to LSP types: findings and chain findings to `Diagnostic` (byte offsets and summary
//! locations to LSP positions, tiers to severities, hops to related information, the `data` code
//! actions are rebuilt from), and the baseline's lowering of held findings to hints.

use std::collections::HashMap;
use std::path::Path;

use tower_lsp_server::ls_types::*;

use super::document::{Encoding, position};
use crate::analysis::Finding;
use crate::project::{ChainFinding, ProjectFile};
use crate::rules::{Tier, doc_url};

/// The identity hash of a chain finding of file `path` (see `baseline::Known::hash`).
pub(super) fn chain_hash(known: &crate::baseline::Known, path: &Path, c: &ChainFinding) -> String {
    known.hash(path, c.rule, Some(&c.function), Some(&c.callee), c.hops.iter().map(|h| h.name.as_str()))
}

/// Lowers to hint severity the findings the baseline holds, or drops them (`hide`). `items`: a file's
/// diagnostics in source order, each with its identity hash.
pub(super) fn apply_baseline<X>(items: &mut Vec<(Diagnostic, X, String)>, known: &crate::baseline::Known, hide: bool) {
    let held = known.holds(items.iter().map(|(_, _, h)| h.clone()));
    let mut held = held.into_iter();
    items.retain_mut(|(d, _, _)| {
        if !held.next().unwrap_or(false) {
            return true;
        }
        d.severity = Some(DiagnosticSeverity::HINT);
        !hide
    });
}

fn severity(t: Tier) -> DiagnosticSeverity {
    match t {
        Tier::Critical => DiagnosticSeverity::ERROR,
        Tier::Warning => DiagnosticSeverity::WARNING,
        Tier::Info => DiagnosticSeverity::INFORMATION,
        Tier::Hint => DiagnosticSeverity::HINT,
    }
}

/// The tier a diagnostic's severity stands for (the inverse of `severity`), in the words of every output:
/// `critical` for Error. A baseline's lowered finding reads as `hint`, as it is shown.
pub(super) fn tier_word(severity: Option<DiagnosticSeverity>) -> &'static str {
    let tier = match severity {
        Some(DiagnosticSeverity::ERROR) => Tier::Critical,
        Some(DiagnosticSeverity::WARNING) => Tier::Warning,
        Some(DiagnosticSeverity::INFORMATION) => Tier::Info,
        _ => Tier::Hint,
    };
    tier.as_str()
}

/// A rule's documentation link, parsed once per rule rather than on every diagnostic of every publish
/// (each keystroke converts all of a file's diagnostics).
fn code_description(rule: crate::rules::Rule) -> Option<CodeDescription> {
    static LINKS: std::sync::OnceLock<HashMap<crate::rules::Rule, Option<CodeDescription>>> =
        std::sync::OnceLock::new();
    let links = LINKS.get_or_init(|| {
        crate::rules::Rule::all()
            .map(|rule| (rule, doc_url(rule).parse::<Uri>().ok().map(|href| CodeDescription { href })))
            .collect()
    });
    match links.get(&rule) {
        Some(link) => link.clone(),
        None => doc_url(rule).parse::<Uri>().ok().map(|href| CodeDescription { href }),
    }
}

/// The LSP range of bytes `r`.
fn lsp_range(rope: &ropey::Rope, r: &std::ops::Range<usize>, enc: Encoding) -> Range {
    Range { start: position(rope, r.start, enc), end: position(rope, r.end, enc) }
}

/// A finding of document `uri` as a diagnostic; the operations folded into it (`Finding::related`)
/// are its related information.
pub(super) fn finding_to_lsp(f: &Finding, rope: &ropey::Rope, enc: Encoding, version: i32, uri: &Uri) -> Diagnostic {
    let range = lsp_range(rope, &f.range, enc);
    let call = f.call_range.as_ref().map(|r| lsp_range(rope, r, enc));
    let data = fix_data(f.rule, f.callee.as_deref(), &f.fix_kinds, call.filter(|c| *c != range), false, version);
    let related = (!f.related.is_empty()).then(|| {
        f.related
            .iter()
            .map(|r| DiagnosticRelatedInformation {
                location: Location { uri: uri.clone(), range: lsp_range(rope, &r.range, enc) },
                message: plain(&r.message),
            })
            .collect()
    });
    diagnostic(f.rule, f.tier, range, &f.message, related, data)
}

/// The one shape of every loopsafe diagnostic: its code, link, severity and plain-text message.
pub(super) fn diagnostic(
    rule: crate::rules::Rule,
    tier: Tier,
    range: Range,
    message: &str,
    related_information: Option<Vec<DiagnosticRelatedInformation>>,
    data: serde_json::Value,
) -> Diagnostic {
    Diagnostic {
        range,
        severity: Some(severity(tier)),
        code: Some(NumberOrString::String(rule.code().into())),
        code_description: code_description(rule),
        source: Some("loopsafe".into()),
        message: plain(message),
        related_information,
        tags: None,
        data: Some(data),
    }
}

/// A diagnostic's `data`: what its code actions are rebuilt from (`lsp::code_action`), and no more (it
/// is sent with every diagnostic on every edit). `call` is the whole call when it is not the
/// diagnostic's range; `chain` marks a finding reached through project functions.
pub(super) fn fix_data(
    rule: crate::rules::Rule,
    callee: Option<&str>,
    fixes: &[crate::catalog::FixKind],
    call: Option<Range>,
    chain: bool,
    version: i32,
) -> serde_json::Value {
    // Built as a map directly (the same JSON as `json!` and indexing by key, which serialized the whole
    // value and looked each key up again).
    let mut data = serde_json::Map::new();
    data.insert("rule".into(), rule.name().into());
    let fixes = fixes.iter().map(|f| serde_json::to_value(f).unwrap_or_default()).collect();
    data.insert("fixes".into(), serde_json::Value::Array(fixes));
    data.insert("version".into(), version.into());
    if let Some(callee) = callee {
        data.insert("callee".into(), callee.into());
    }
    if let Some(call) = call {
        let pos = |p: Position| serde_json::json!({ "line": p.line, "character": p.character });
        data.insert("call".into(), serde_json::json!({ "start": pos(call.start), "end": pos(call.end) }));
    }
    if chain {
        data.insert("chain".into(), true.into());
    }
    serde_json::Value::Object(data)
}

fn loc_position(l: &crate::analysis::summary::Loc, enc: Encoding) -> Position {
    let character = match enc {
        Encoding::Utf8 => l.col_utf8,
        Encoding::Utf16 => l.col_utf16,
        Encoding::Utf32 => l.col,
    };
    Position { line: l.line, character }
}

/// A chain finding as a diagnostic. `uris` remembers the files' URIs across calls (hops of different
/// chains are mostly in the same few files).
pub(super) fn chain_to_lsp(
    c: &ChainFinding,
    files: &[ProjectFile],
    enc: Encoding,
    version: i32,
    uris: &mut HashMap<usize, Option<Uri>>,
) -> Diagnostic {
    let range = Range { start: loc_position(&c.start, enc), end: loc_position(&c.end, enc) };
    let related: Vec<DiagnosticRelatedInformation> = c
        .hops
        .iter()
        .chain(&c.also)
        .filter_map(|h| {
            let uri = uris.entry(h.file).or_insert_with(|| Uri::from_file_path(&files[h.file].path)).clone()?;
            let p = loc_position(&h.loc, enc);
            Some(DiagnosticRelatedInformation {
                location: Location { uri, range: Range { start: p, end: p } },
                message: h.name.clone(),
            })
        })
        .collect();
    let data = fix_data(c.rule, Some(&c.callee), &c.fixes, None, true, version);
    diagnostic(c.rule, c.tier, range, &c.message, Some(related), data)
}

/// Text for places that show it as is (the Problems panel, virtual text, code action titles): the
/// Markdown code spans of messages without their backticks.
pub(crate) fn plain(s: &str) -> String {
    s.replace('`', "")
}
