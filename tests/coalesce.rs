//! Coalesced `didChange` analyses (issue 18): when a later `didChange` for a document is already queued,
//! the server applies an edit's text but leaves its analysis to that later one, which analyses all the
//! edits since the last analysis as one merged edit (`Document::pending`, `shift::merged`). A
//! `didChange` of several changes (multi-cursor) is merged the same way.
//!
//! - `bursts_analysed_as_one_edit_match_a_fresh_analysis` drives `Document` as the handler does (bursts
//!   of notifications, only the last of each analysed) and compares the analysis and the facts with a
//!   fresh analysis of the text after every burst;
//! - the LSP tests send bursts of `didChange` at once to the real server (in-process), then check that
//!   analyses were coalesced, and that hovers, pulls and the final diagnostics are those of the text.

mod common;
mod lsp_client;

use std::sync::Arc;

use loopsafe::analysis::{analyze_tree, reanalyze_edit};
use loopsafe::catalog::Catalog;
use loopsafe::lsp::document::{Applied, Document, Encoding};
use loopsafe::settings::Settings;
use lsp_client::{Client, codes, uri};
use serde_json::{Value, json};
use tower_lsp_server::ls_types::{Position, Range, TextDocumentContentChangeEvent};

const TEXT: &str = "import requests\nimport time\n\n\nclass Bot:\n    async def fetch(self, url):\n        data = None  # 日本😀\n        time.sleep(1)\n        return data\n\n    def helper(self):\n        return requests.get('u')\n\n\nasync def main():\n    x = 'é'\n    await Bot().fetch('x')\n\n\nasync def other():\n    pass\n";

/// The LSP position of byte `offset` of `text` (line breaks are `\n`).
fn position(text: &str, offset: usize, enc: Encoding) -> Position {
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let prefix = &text[line_start..offset];
    let character = match enc {
        Encoding::Utf8 => prefix.len(),
        Encoding::Utf16 => prefix.encode_utf16().count(),
        Encoding::Utf32 => prefix.chars().count(),
    };
    Position::new(text[..offset].matches('\n').count() as u32, character as u32)
}

/// A change replacing bytes `start..end` of `text` by `new`, applied to `text`.
fn edit(text: &mut String, start: usize, end: usize, new: &str, enc: Encoding) -> TextDocumentContentChangeEvent {
    let range = Range { start: position(text, start, enc), end: position(text, end, enc) };
    text.replace_range(start..end, new);
    TextDocumentContentChangeEvent { range: Some(range), range_length: None, text: new.into() }
}

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// What the `didChange` handler does with one notification, without the index and the client:
/// `analyse` is false when a later `didChange` is queued (the edit then waits, merged).
/// Returns whether the edits were analysed alone (not as a whole file).
fn handle(d: &mut Document, changes: &[TextDocumentContentChangeEvent], enc: Encoding, analyse: bool) -> bool {
    let (catalog, settings) = (Catalog::bundled(), Settings::default());
    let applied = d.apply(changes, enc);
    d.version += 1;
    match applied {
        Applied::Edit(_) if !analyse => return false,
        Applied::Edit(edit) => {
            assert_eq!(d.pending, Some(edit));
            if let Some(mut facts) = d.facts.take()
                && let Ok(a) = reanalyze_edit(&mut facts, &d.analysis, &d.text, &edit, catalog, &settings)
            {
                d.facts = Some(facts);
                d.analysed_now(Arc::new(a));
                assert_eq!(d.pending, None);
                return true;
            }
        }
        Applied::Trivia(edits) => {
            d.moved_by(&edits);
            return true;
        }
        Applied::Whole if !analyse => {
            assert!(d.facts.is_none() && d.pending.is_none());
            return false;
        }
        Applied::Whole => {}
    }
    d.facts = None;
    d.pending = None;
    d.reparse();
    let (facts, a) = analyze_tree(&d.text, d.tree.as_ref().unwrap(), catalog, &settings);
    d.facts = Some(facts);
    d.analysed_now(Arc::new(a));
    false
}

/// The byte offsets just after each line break inside the body of `def`/`async def` `name`.
fn body_lines(text: &str, name: &str) -> Vec<usize> {
    let at = text.find(&format!("def {name}(")).unwrap();
    let start = at + text[at..].find('\n').unwrap() + 1;
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let indent = text[line_start..].len() - text[line_start..].trim_start().len();
    let mut out = Vec::new();
    let mut p = start;
    while p < text.len() {
        let line_end = text[p..].find('\n').map_or(text.len(), |i| p + i);
        let line = &text[p..line_end];
        if line.trim().is_empty() {
            p = line_end + 1;
            continue;
        }
        if line.len() - line.trim_start().len() <= indent {
            break;
        }
        out.push(p);
        p = line_end + 1;
    }
    out
}

/// One burst: the notifications (each one or more changes on the text as it is then), made on `text`.
fn burst(rng: &mut Rng, text: &mut String, enc: Encoding) -> Vec<Vec<TextDocumentContentChangeEvent>> {
    let mut out = Vec::new();
    let statements = ["resp = requests.get(url, timeout=5)", "time.sleep(0.5)", "y = [i for i in range(3)]", "pass"];
    let functions = ["fetch", "helper", "main", "other"];
    match rng.below(6) {
        // A statement typed one character at a time on a new line of a function (broken on the way).
        0 | 1 => {
            let f = functions[rng.below(functions.len())];
            let lines = body_lines(text, f);
            let at = lines[rng.below(lines.len())];
            let indent: String = text[at..].chars().take_while(|c| *c == ' ').collect();
            out.push(vec![edit(text, at, at, &format!("{indent}\n"), enc)]);
            let s = statements[rng.below(statements.len())];
            for (i, ch) in s.char_indices() {
                let p = at + indent.len() + i;
                out.push(vec![edit(text, p, p, &ch.to_string(), enc)]);
            }
        }
        // A line of a function erased one character at a time from its end, then its line break.
        2 => {
            let f = functions[rng.below(functions.len())];
            let lines = body_lines(text, f);
            if lines.len() < 2 {
                return out;
            }
            let at = lines[rng.below(lines.len())];
            let end = at + text[at..].find('\n').unwrap();
            let content = at + text[at..end].len() - text[at..end].trim_start().len();
            let mut p = end;
            while p > content {
                let prev = text[..p].char_indices().last().unwrap().0;
                out.push(vec![edit(text, prev, p, "", enc)]);
                p = prev;
            }
            // The last statement of a body is not removed: `pass` keeps it a body.
            out.push(vec![edit(text, content, content, "pass", enc)]);
        }
        // Multi-cursor: the same word typed at two places of one function, in one notification each
        // keystroke, then erased the same way.
        3 => {
            let lines = body_lines(text, "fetch");
            let (a, b) = (lines[0], lines[lines.len() - 1]);
            let word = "z = 1";
            let ia = text[a..].chars().take_while(|c| *c == ' ').count();
            let pa = a + ia;
            let pb = b + text[b..].chars().take_while(|c| *c == ' ').count();
            let ind_a = " ".repeat(ia);
            // Later position first, as editors send them (each change on the text the one before left).
            let mut changes = vec![edit(text, pb, pb, &format!("{word}\n{ind_a}"), enc)];
            changes.push(edit(text, pa, pa, &format!("{word}\n{ind_a}"), enc));
            out.push(changes);
        }
        // Edits in two functions in a burst (the merged edit spans both).
        4 => {
            let p = body_lines(text, "other")[0] + 4;
            out.push(vec![edit(text, p, p, "x = 2\n    ", enc)]);
            let q = body_lines(text, "helper")[0] + 8;
            out.push(vec![edit(text, q, q, "q = 3\n        ", enc)]);
        }
        // Module-level: an import typed at the top, a character at a time.
        _ => {
            for (i, ch) in "import os\n".char_indices() {
                out.push(vec![edit(text, i, i, &ch.to_string(), enc)]);
            }
        }
    }
    out
}

#[test]
fn bursts_analysed_as_one_edit_match_a_fresh_analysis() {
    let (catalog, settings) = (Catalog::bundled(), Settings::default());
    let mut local = 0;
    let mut bursts = 0;
    for enc in [Encoding::Utf16, Encoding::Utf8] {
        for seed in 1..=12u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let mut text = TEXT.to_string();
            let mut d = analysed(&text, catalog, &settings);
            for round in 0..12 {
                let before = text.clone();
                let notifications = burst(&mut rng, &mut text, enc);
                let n = notifications.len();
                if n == 0 {
                    continue;
                }
                bursts += 1;
                let mut alone = false;
                for (i, changes) in notifications.iter().enumerate() {
                    alone = handle(&mut d, changes, enc, i + 1 == n);
                }
                local += usize::from(alone);
                let at = format!("{enc:?} seed {seed} round {round}\n--- before:\n{before}\n--- after:\n{text}");
                assert_eq!(d.text, text, "{at}");
                assert_eq!(d.rope.to_string(), text, "{at}");
                assert_eq!(d.analysed.as_ref().map(|(v, _)| *v), Some(d.version), "{at}");
                let fresh = loopsafe::syntax::parse(&text, None).unwrap();
                assert!(!fresh.root_node().has_error(), "{at}");
                let (facts, analysis) = analyze_tree(&text, &fresh, catalog, &settings);
                assert_eq!(*d.analysis, analysis, "{at}");
                assert_eq!(
                    d.facts.as_ref().map(common::normalized_facts),
                    Some(common::normalized_facts(&facts)),
                    "{at}"
                );
            }
        }
    }
    // Most bursts stay on the one-edit path, though each passed through broken states unanalysed.
    assert!(local * 2 > bursts, "{local} of {bursts} bursts analysed as one edit");
}

/// An open document of `text`, parsed and analysed as `didOpen` leaves it.
fn analysed(text: &str, catalog: &Catalog, settings: &Settings) -> Document {
    let mut d = Document::new(text.to_string(), 1);
    d.reparse();
    let (facts, a) = analyze_tree(&d.text, d.tree.as_ref().unwrap(), catalog, settings);
    d.facts = Some(facts);
    d.analysed_now(Arc::new(a));
    d
}

/// A multi-cursor `didChange` (two changes in one function) is one edit, not a whole-file analysis.
#[test]
fn a_multi_change_did_change_is_analysed_as_one_edit() {
    let (catalog, settings) = (Catalog::bundled(), Settings::default());
    let mut text = TEXT.to_string();
    let mut d = analysed(&text, catalog, &settings);
    let sleep = text.find("time.sleep(1)").unwrap();
    let data = text.find("data = None").unwrap();
    let changes = vec![
        edit(&mut text, sleep + 11, sleep + 12, "2", Encoding::Utf16),
        edit(&mut text, data + 7, data + 11, "1", Encoding::Utf16),
    ];
    assert!(matches!(d.apply(&changes, Encoding::Utf16), Applied::Edit(_)));
    assert_eq!(d.text, text);
    // Changes far apart (more than `MERGED_SPAN` between them) are left to a whole-file analysis.
    let mut big = format!("{TEXT}{}", "x = 1\n".repeat(2000));
    let mut d = analysed(&big, catalog, &settings);
    let end = big.len();
    let changes =
        vec![edit(&mut big, end, end, "y = 2\n", Encoding::Utf16), edit(&mut big, 0, 0, "#\n", Encoding::Utf16)];
    assert_eq!(d.apply(&changes, Encoding::Utf16), Applied::Whole);
    assert_eq!(d.text, big);
}

/// The findings of `text` as `codes` shows them (UTF-16 columns).
fn expected_codes(text: &str) -> Vec<String> {
    common::findings(text)
        .iter()
        .map(|f| {
            let p = position(text, f.range.start, Encoding::Utf16);
            format!("{}@{}:{}", f.rule.code(), p.line, p.character)
        })
        .collect()
}

/// Statements typed into two documents at once, a character per `didChange`, every notification sent
/// without waiting: the server coalesces analyses, and the diagnostics pushed last, a hover and a quick
/// fix right after the burst are those of the final text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_changes_is_analysed_once_push() {
    let dir = lsp_client::workspace(&[("a.py", TEXT), ("b.py", TEXT)]);
    let (mut c, _) = Client::start(json!({}), Some(dir.path())).await;
    let (a, b) = (uri(&dir.path().join("a.py")), uri(&dir.path().join("b.py")));
    c.open(&a, TEXT).await;
    c.open(&b, TEXT).await;
    c.diagnostics_until(&a, |d| codes(d) == expected_codes(TEXT)).await;
    let before = loopsafe::lsp::coalesced_edits();
    let (mut ta, mut tb) = (TEXT.to_string(), TEXT.to_string());
    let (mut va, mut vb) = (1, 1);
    let mut p = TEXT.rfind("    pass").unwrap() + 4;
    for ch in "time.sleep(3)\n    requests.get('v')\n    ".chars() {
        for (u, t, v) in [(&a, &mut ta, &mut va), (&b, &mut tb, &mut vb)] {
            let change = edit(t, p, p, &ch.to_string(), Encoding::Utf16);
            *v += 1;
            c.change(u, *v, json!([change])).await;
        }
        p += ch.len_utf8();
    }
    // Right behind the burst: a hover on the last call typed in `a`.
    let call = ta.rfind("requests.get('v')").unwrap();
    let hover = c
        .request(
            "textDocument/hover",
            json!({ "textDocument": { "uri": a.as_str() }, "position": position(&ta, call, Encoding::Utf16) }),
        )
        .await;
    assert!(hover.get("error").is_none(), "{hover}");
    // The last push of each document: the final text's findings, for its final version.
    let want = [(a.as_str().to_string(), expected_codes(&ta), va), (b.as_str().to_string(), expected_codes(&tb), vb)];
    assert!(want[0].1.len() > expected_codes(TEXT).len(), "{want:?}");
    let mut done = [false, false];
    while done != [true, true] {
        let m = match c.inbox.pop_front() {
            Some(m) => m,
            None => c.next().await,
        };
        if m["method"] != "textDocument/publishDiagnostics" {
            continue;
        }
        for (i, (u, codes_, version)) in want.iter().enumerate() {
            if m["params"]["uri"] == u.as_str() {
                done[i] = codes(m["params"]["diagnostics"].as_array().unwrap()) == *codes_
                    && m["params"]["version"] == json!(version);
            }
        }
    }
    // Once settled, a hover on the new call shows its finding.
    let hover = c
        .request(
            "textDocument/hover",
            json!({ "textDocument": { "uri": a.as_str() }, "position": position(&ta, call, Encoding::Utf16) }),
        )
        .await;
    assert!(hover["result"]["contents"]["value"].as_str().is_some_and(|v| v.contains("requests.get")), "{hover}");
    assert!(loopsafe::lsp::coalesced_edits() > before, "no analysis was coalesced");
}

/// A document pull's diagnostics, as `codes` shows them.
async fn pull(c: &mut Client, a: &tower_lsp_server::ls_types::Uri) -> Vec<String> {
    let r: Value = c.request("textDocument/diagnostic", json!({ "textDocument": { "uri": a.as_str() } })).await;
    assert!(r.get("error").is_none(), "{r}");
    codes(r["result"]["items"].as_array().unwrap())
}

/// The same burst in a pull session: a pull right behind it waits for (and gets) the final text's
/// diagnostics, and a multi-cursor `didChange` is analysed as one edit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_changes_is_analysed_once_pull() {
    let dir = lsp_client::workspace(&[("a.py", TEXT)]);
    let (mut c, _) = Client::start(json!({ "textDocument": { "diagnostic": {} } }), Some(dir.path())).await;
    let a = uri(&dir.path().join("a.py"));
    c.open(&a, TEXT).await;
    assert_eq!(pull(&mut c, &a).await, expected_codes(TEXT));
    let mut text = TEXT.to_string();
    let mut version = 1;
    let mut p = text.find("    pass").unwrap() + 4;
    for ch in "time.sleep(3)\n    ".chars() {
        let change = edit(&mut text, p, p, &ch.to_string(), Encoding::Utf16);
        p += ch.len_utf8();
        version += 1;
        c.change(&a, version, json!([change])).await;
    }
    assert_eq!(pull(&mut c, &a).await, expected_codes(&text));
    // Multi-cursor: two calls made blocking in one notification.
    let sleep = text.find("time.sleep(1)").unwrap();
    let get = text.find("requests.get('u')").unwrap();
    let changes = vec![
        edit(&mut text, get, get + 8, "requests.post", Encoding::Utf16),
        edit(&mut text, sleep + 11, sleep + 12, "9", Encoding::Utf16),
    ];
    version += 1;
    c.change(&a, version, json!(changes)).await;
    assert_eq!(pull(&mut c, &a).await, expected_codes(&text));
}
