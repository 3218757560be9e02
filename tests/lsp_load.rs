//! The language server under load, driven in-process with real JSON-RPC messages: it never freezes on
//! what the watcher reports, answers other documents while a large one is analysed, never publishes a
//! superseded version, and goes on after a cancelled request. Assertions are on order and content,
//! never on time (the bounds in `lsp_client::WAIT` mean a hang).

mod common;
mod lsp_client;

use lsp_client::{Client, codes, uri, workspace};
use serde_json::{Value, json};
use tower_lsp_server::ls_types::Uri;

const ROUTE: &str = "import time\n\n\nasync def handler():\n    time.sleep(1)\n";

fn hover_params(u: &Uri, line: u32, character: u32) -> Value {
    json!({ "textDocument": { "uri": u.as_str() }, "position": { "line": line, "character": character } })
}

/// The codes and places (UTF-16 columns) a fresh analysis of `text` finds, as `codes` shows diagnostics.
fn fresh(text: &str) -> Vec<String> {
    common::findings(text)
        .iter()
        .map(|f| {
            let line = common::line_of(text, f.range.start) - 1;
            let line_start = text[..f.range.start].rfind('\n').map_or(0, |i| i + 1);
            let col: usize = text[line_start..f.range.start].chars().map(char::len_utf16).sum();
            format!("{}@{line}:{col}", f.rule.code())
        })
        .collect()
}

/// Waits for the response to request `id` (or takes it from the inbox), keeping everything else there.
async fn response(c: &mut Client, id: i64) -> Value {
    let answered = |m: &Value| m.get("id") == Some(&json!(id)) && m.get("method").is_none();
    if let Some(i) = c.inbox.iter().position(answered) {
        return c.inbox.remove(i).expect("an inbox message");
    }
    loop {
        let msg = c.next().await;
        if msg.get("id") == Some(&json!(id)) && msg.get("method").is_none() {
            return msg;
        }
        c.inbox.push_back(msg);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_reported_by_the_watcher_does_not_freeze_the_server() {
    let dir = workspace(&[("app.py", ROUTE)]);
    let (mut c, _) = Client::start(json!({}), Some(dir.path())).await;
    let app = uri(&dir.path().join("app.py"));
    c.open(&app, ROUTE).await;
    c.diagnostics_until(&app, |d| codes(d) == ["LS102@4:4"]).await;
    // A FIFO and a directory named like Python files appear, and the watcher reports them.
    let fifo = dir.path().join("x.py");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(made.success());
    std::fs::create_dir(dir.path().join("pkg.py")).unwrap();
    let changes: Vec<Value> = ["x.py", "pkg.py", "gone.py"]
        .iter()
        .map(|n| json!({ "uri": uri(&dir.path().join(n)).as_str(), "type": 1 }))
        .collect();
    c.notify("workspace/didChangeWatchedFiles", json!({ "changes": changes })).await;
    // The server still answers, and still analyses: an edit after the event is published.
    let hover = c.request("textDocument/hover", hover_params(&app, 4, 6)).await;
    assert!(hover["result"]["contents"]["value"].as_str().unwrap().contains("LS102"), "{hover}");
    c.change(&app, 2, json!([{ "range": { "start": { "line": 4, "character": 4 }, "end": { "line": 4, "character": 14 } }, "text": "print" }])).await;
    c.diagnostics_until(&app, |d| d.is_empty()).await;
    // A file the watcher reports after the FIFO is still read.
    std::fs::write(dir.path().join("helpers.py"), "import time\n\n\ndef pause():\n    time.sleep(1)\n").unwrap();
    let api = "from helpers import pause\n\n\nasync def handler():\n    pause()\n";
    let api_uri = uri(&dir.path().join("api.py"));
    c.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [
            { "uri": uri(&fifo).as_str(), "type": 2 },
            { "uri": uri(&dir.path().join("helpers.py")).as_str(), "type": 1 },
        ] }),
    )
    .await;
    c.open(&api_uri, api).await;
    c.diagnostics_until(&api_uri, |d| codes(d) == ["LS102@4:4"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_document_is_served_while_a_large_one_is_analysed() {
    let dir = tempfile::tempdir().unwrap();
    let (mut c, _) = Client::start(json!({}), Some(dir.path())).await;
    let small = uri(&dir.path().join("small.py"));
    c.open(&small, ROUTE).await;
    c.diagnostics_until(&small, |d| codes(d) == ["LS102@4:4"]).await;

    // About 20 MB of module-level code with one finding at its end.
    let mut big_text = String::from("import time\n");
    let mut i = 0;
    while big_text.len() < 20_000_000 {
        big_text.push_str(&format!("value_{i} = compute({i}) + other.attribute_{i}\n"));
        i += 1;
    }
    let tail_line = big_text.lines().count();
    big_text.push_str("async def tail():\n    time.sleep(1)\n");
    let big = uri(&dir.path().join("big.py"));
    c.open(&big, &big_text).await;
    // While it is parsed and analysed: a hover on the small document, and an edit of it, are answered
    // and published before the large document's diagnostics.
    let hover = c.request("textDocument/hover", hover_params(&small, 4, 6)).await;
    assert!(hover["result"]["contents"]["value"].as_str().unwrap().contains("LS102"), "{hover}");
    c.change(&small, 2, json!([{ "range": { "start": { "line": 4, "character": 4 }, "end": { "line": 4, "character": 14 } }, "text": "print" }])).await;
    c.diagnostics_until(&small, |d| d.is_empty()).await;
    assert!(
        !c.inbox.iter().chain(std::iter::once(&hover)).any(|m| m["params"]["uri"] == big.as_str()),
        "the large document was published first"
    );
    // Then the large document's own diagnostics arrive.
    let diags = loop {
        let m = match c.inbox.pop_front() {
            Some(m) => m,
            None => {
                tokio::time::timeout(lsp_client::WAIT * 6, c.recv()).await.expect("the large document's diagnostics")
            }
        };
        if m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == big.as_str() {
            break m["params"]["diagnostics"].as_array().unwrap().clone();
        }
    };
    assert_eq!(codes(&diags), [format!("LS102@{}:4", tail_line + 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn superseded_versions_are_never_published() {
    let dir = tempfile::tempdir().unwrap();
    let (mut c, _) = Client::start(json!({}), Some(dir.path())).await;
    let u = uri(&dir.path().join("a.py"));
    // Large enough that each whole-file analysis takes a while; every edit below is at module level
    // (a new line at the top), which needs one.
    let body: String = (0..4000).map(|i| format!("async def f{i}():\n    time.sleep({i})\n")).collect();
    let mut text = format!("import time\n{body}");
    c.open(&u, &text).await;
    let edits = 60;
    for v in 2..2 + edits {
        let line = format!("x{v} = {v}\n");
        c.change(&u, v, json!([{ "range": { "start": { "line": 1, "character": 0 }, "end": { "line": 1, "character": 0 } }, "text": line }])).await;
        text.insert_str(text.find('\n').unwrap() + 1, &line);
    }
    let last = 1 + edits;
    // Every push is for a version at least as new as the one before; the last is the last version's,
    // and equals a fresh analysis of the final text.
    let mut versions = Vec::new();
    let diags = loop {
        let m = match c.inbox.pop_front() {
            Some(m) => m,
            None => c.next().await,
        };
        if m["method"] != "textDocument/publishDiagnostics" || m["params"]["uri"] != u.as_str() {
            continue;
        }
        let v = m["params"]["version"].as_i64().expect("a version") as i32;
        versions.push(v);
        if v == last {
            break m["params"]["diagnostics"].as_array().unwrap().clone();
        }
    };
    assert!(versions.windows(2).all(|w| w[0] <= w[1]), "versions went backwards: {versions:?}");
    assert_eq!(codes(&diags), fresh(&text));
    assert_eq!(diags.len(), 4000);
    // Each diagnostic's data names the version it describes.
    assert!(diags.iter().all(|d| d["data"]["version"] == last));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_request_answers_for_the_current_version() {
    let dir = tempfile::tempdir().unwrap();
    let (mut c, _) = Client::start(json!({ "textDocument": { "diagnostic": {} } }), Some(dir.path())).await;
    let u = uri(&dir.path().join("a.py"));
    let body: String = (0..2000).map(|i| format!("async def f{i}():\n    time.sleep({i})\n")).collect();
    let mut text = format!("import time\n{body}");
    c.open(&u, &text).await;
    // Edits that each need a whole-file analysis, then a pull at once: it describes the final text.
    for v in 2..12 {
        let line = format!("import os{v}\n");
        c.change(&u, v, json!([{ "range": { "start": { "line": 0, "character": 0 }, "end": { "line": 0, "character": 0 } }, "text": line }])).await;
        text.insert_str(0, &line);
    }
    // When the analysis is not done within the server's wait (a loaded machine), the answer is
    // ServerCancelled with `retriggerRequest: true` and the client asks again, as the specification
    // says and VS Code does. Never an answer for an older version.
    let mut report = Value::Null;
    for _ in 0..30 {
        report = c.request("textDocument/diagnostic", json!({ "textDocument": { "uri": u.as_str() } })).await;
        match report.get("error") {
            Some(e) if e["code"] == -32802 && e["data"]["retriggerRequest"] == true => continue,
            _ => break,
        }
    }
    let items = report["result"]["items"].as_array().unwrap_or_else(|| panic!("{report}"));
    assert_eq!(codes(items), fresh(&text));
    assert!(items.iter().all(|d| d["data"]["version"] == 11));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_fix_all_is_answered_and_the_server_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (mut c, _) = Client::start(json!({}), Some(dir.path())).await;
    let u = uri(&dir.path().join("a.py"));
    let body: String = (0..500).map(|i| format!("async def f{i}():\n    time.sleep({i})\n\n\n")).collect();
    let text = format!("import time\n\n\n{body}");
    c.open(&u, &text).await;
    let diags = c.diagnostics_until(&u, |d| d.len() == 500).await;
    let id = 9000;
    let params = json!({
        "textDocument": { "uri": u.as_str() },
        "range": { "start": { "line": 0, "character": 0 }, "end": { "line": 0, "character": 0 } },
        "context": { "diagnostics": diags, "only": ["source.fixAll"] },
    });
    c.send(json!({ "jsonrpc": "2.0", "id": id, "method": "textDocument/codeAction", "params": params })).await;
    c.notify("$/cancelRequest", json!({ "id": id })).await;
    // Either the cancellation arrived in time (RequestCancelled) or the result came first.
    let answer = response(&mut c, id).await;
    match answer.get("error") {
        Some(e) => assert_eq!(e["code"], -32800, "{answer}"),
        None => assert!(answer["result"].is_array(), "{answer}"),
    }
    // The server goes on (the cancelled work may still be running): a hover, an edit, and a fix-all of
    // another document that is not cancelled.
    eprintln!("cancelled fix-all answered: {}", answer.get("error").is_some());
    let hover = c.request("textDocument/hover", hover_params(&u, 4, 6)).await;
    assert!(hover["result"]["contents"]["value"].as_str().unwrap().contains("LS102"), "{hover}");
    c.change(&u, 2, json!([{ "range": { "start": { "line": 4, "character": 4 }, "end": { "line": 4, "character": 14 } }, "text": "print" }])).await;
    c.diagnostics_until(&u, |d| d.len() == 499).await;
    let small = uri(&dir.path().join("small.py"));
    c.open(&small, ROUTE).await;
    let diags = c.diagnostics_until(&small, |d| d.len() == 1).await;
    let params = json!({
        "textDocument": { "uri": small.as_str() },
        "range": { "start": { "line": 0, "character": 0 }, "end": { "line": 0, "character": 0 } },
        "context": { "diagnostics": diags, "only": ["source.fixAll"] },
    });
    let fixed = c.request("textDocument/codeAction", params).await;
    let actions = fixed["result"].as_array().unwrap_or_else(|| panic!("{fixed}"));
    assert_eq!(actions.len(), 1, "{fixed}");
    assert_eq!(actions[0]["kind"], "source.fixAll.loopsafe");
}

/// A cancelled `source.fixAll` stops its work: with one blocking thread, a fix-all of a small document
/// asked after twenty cancelled fix-alls of a 3,000-finding document runs once they have stopped. Were
/// they to run to their end (seconds each), it would wait far beyond `lsp_client::WAIT`.
#[test]
fn cancelled_fix_alls_free_the_blocking_thread() {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().max_blocking_threads(1).build().expect("a runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (mut c, _) = Client::start(json!({}), Some(dir.path())).await;
        let small = uri(&dir.path().join("small.py"));
        c.open(&small, ROUTE).await;
        c.diagnostics_until(&small, |d| d.len() == 1).await;
        let u = uri(&dir.path().join("a.py"));
        let findings = 3000;
        let body: String = (0..findings).map(|i| format!("async def f{i}():\n    time.sleep({i})\n\n\n")).collect();
        let text = format!("import time\n\n\n{body}");
        c.open(&u, &text).await;
        c.diagnostics_until(&u, |d| d.len() == findings).await;
        let fix_all = |u: &Uri| {
            json!({
                "textDocument": { "uri": u.as_str() },
                "range": { "start": { "line": 0, "character": 0 }, "end": { "line": 0, "character": 0 } },
                "context": { "diagnostics": [], "only": ["source.fixAll"] },
            })
        };
        let cancelled: Vec<i64> = (0..20).map(|i| 9000 + i).collect();
        for &id in &cancelled {
            c.send(json!({ "jsonrpc": "2.0", "id": id, "method": "textDocument/codeAction", "params": fix_all(&u) }))
                .await;
            c.notify("$/cancelRequest", json!({ "id": id })).await;
        }
        // Computed on the same (only) blocking thread, after the cancelled ones.
        let fixed = c.request("textDocument/codeAction", fix_all(&small)).await;
        let actions = fixed["result"].as_array().unwrap_or_else(|| panic!("{fixed}"));
        assert_eq!(actions.len(), 1, "{fixed}");
        assert_eq!(actions[0]["kind"], "source.fixAll.loopsafe");
        for id in cancelled {
            let answer = response(&mut c, id).await;
            assert_eq!(answer["error"]["code"], -32800, "{answer}");
        }
    });
}
