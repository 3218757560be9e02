//! The language server driven in-process with real JSON-RPC messages over `tokio::io::duplex`.

mod common;
mod lsp_client;

use lsp_client::{Client, codes, uri, workspace};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tower_lsp_server::ls_types::Uri;

/// The setup of the two-file tests: a workspace of `first` and `second` (name, text), a push client
/// started on it, and `first` opened. Returns the workspace (dropped with the test), the client and the
/// two files' URIs.
async fn open_first_of(first: (&str, &str), second: (&str, &str)) -> (tempfile::TempDir, Client, Uri, Uri) {
    let dir = workspace(&[first, second]);
    let (mut c, _) = Client::start(json!({}), Some(dir.path())).await;
    let (a, b) = (uri(&dir.path().join(first.0)), uri(&dir.path().join(second.0)));
    c.open(&a, first.1).await;
    (dir, c, a, b)
}

const ROUTE: &str = "import time\n\n\nasync def handler():\n    time.sleep(1)\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initialize_negotiates_encoding_and_diagnostic_mode() {
    let (_, init) = Client::start(json!({ "general": { "positionEncodings": ["utf-8", "utf-16"] } }), None).await;
    let caps = &init["result"]["capabilities"];
    assert_eq!(caps["positionEncoding"], "utf-8");
    assert_eq!(caps["textDocumentSync"]["change"], 2, "incremental sync");
    assert_eq!(caps["hoverProvider"], true);
    assert!(caps.get("diagnosticProvider").is_none_or(Value::is_null), "a push client gets no pull provider");
    assert_eq!(init["result"]["serverInfo"]["name"], "loopsafe");

    let (_, init) = Client::start(json!({ "textDocument": { "diagnostic": {} } }), None).await;
    let caps = &init["result"]["capabilities"];
    assert_eq!(caps["positionEncoding"], "utf-16", "VS Code offers only UTF-16");
    assert_eq!(caps["diagnosticProvider"]["interFileDependencies"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_edit_hover_close_push_client() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.py"), ROUTE).unwrap();
    let (mut c, _) = Client::start(json!({}), Some(dir.path())).await;
    let u = uri(&dir.path().join("app.py"));
    c.open(&u, ROUTE).await;
    let diags = c.diagnostics_until(&u, |d| !d.is_empty()).await;
    assert_eq!(codes(&diags), ["LS102@4:4"]);
    let d = &diags[0];
    assert_eq!(d["source"], "loopsafe");
    assert_eq!(d["severity"], 1);
    assert!(d["codeDescription"]["href"].as_str().unwrap().ends_with("blocking-sleep.md"));
    assert_eq!(d["data"]["callee"], "time.sleep");
    assert_eq!(d["data"]["call"]["end"], json!({ "line": 4, "character": 17 }));

    // Emoji and CJK before the call (UTF-16 columns): `x = '😀日本'; ` is 12 units, 😀 counting two.
    c.change(&u, 2, json!([{ "range": { "start": { "line": 4, "character": 4 }, "end": { "line": 4, "character": 4 } }, "text": "x = '😀日本'; " }])).await;
    let diags = c.diagnostics_until(&u, |d| codes(d) == ["LS102@4:16"]).await;
    assert_eq!(diags[0]["range"]["end"]["character"], 26);
    // Replace `time.sleep` (columns 16..26) by `print`: the finding goes away.
    c.change(&u, 3, json!([{ "range": { "start": { "line": 4, "character": 16 }, "end": { "line": 4, "character": 26 } }, "text": "print" }])).await;
    c.diagnostics_until(&u, |d| d.is_empty()).await;
    c.change(&u, 4, json!([{ "range": { "start": { "line": 4, "character": 16 }, "end": { "line": 4, "character": 21 } }, "text": "time.sleep" }])).await;
    c.diagnostics_until(&u, |d| codes(d) == ["LS102@4:16"]).await;

    let hover = c
        .request(
            "textDocument/hover",
            json!({ "textDocument": { "uri": u.as_str() }, "position": { "line": 4, "character": 20 } }),
        )
        .await;
    let text = hover["result"]["contents"]["value"].as_str().unwrap();
    assert!(text.contains("LS102") && text.contains("time.sleep") && text.contains("Instead:"), "{text}");
    // The tier in the words of every output (the Error severity is `critical`).
    assert!(text.contains("**LS102 blocking-sleep** (critical): "), "{text}");
    let none = c
        .request(
            "textDocument/hover",
            json!({ "textDocument": { "uri": u.as_str() }, "position": { "line": 0, "character": 0 } }),
        )
        .await;
    assert!(none["result"].is_null());

    // A version that goes backwards is ignored; an edit to a document that is not open is harmless.
    c.change(&u, 2, json!([{ "text": "" }])).await;
    let other = uri(&dir.path().join("nope.py"));
    c.change(&other, 9, json!([{ "text": "x" }])).await;
    let hover = c
        .request(
            "textDocument/hover",
            json!({ "textDocument": { "uri": u.as_str() }, "position": { "line": 4, "character": 20 } }),
        )
        .await;
    assert!(!hover["result"].is_null(), "the document was not emptied");

    c.notify("textDocument/didClose", json!({ "textDocument": { "uri": u.as_str() } })).await;
    c.diagnostics_until(&u, |d| d.is_empty()).await;
    let shutdown = c.request("shutdown", Value::Null).await;
    assert!(shutdown["result"].is_null() && shutdown.get("error").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn utf8_client_columns() {
    let dir = tempfile::tempdir().unwrap();
    let (mut c, _) = Client::start(json!({ "general": { "positionEncodings": ["utf-8"] } }), Some(dir.path())).await;
    let u = uri(&dir.path().join("a.py"));
    c.open(&u, "import time\nasync def f():\n    s = '日本😀'; time.sleep(1)\n").await;
    // 4 spaces + `s = '` (5) + 3+3+4 bytes + `'; ` (3) = 22 bytes.
    let diags = c.diagnostics_until(&u, |d| !d.is_empty()).await;
    assert_eq!(codes(&diags), ["LS102@2:22"]);
    // Delete `本` (bytes 12..15 of the line): the call moves 3 bytes left.
    c.change(&u, 2, json!([{ "range": { "start": { "line": 2, "character": 12 }, "end": { "line": 2, "character": 15 } }, "text": "" }])).await;
    c.diagnostics_until(&u, |d| codes(d) == ["LS102@2:19"]).await;
}

/// Operations on a file opened in the same coroutine are the `open` finding's related information, not
/// diagnostics of their own; typing inside the function (the one-function path) keeps them so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_of_a_file_opened_here_are_related_information() {
    let dir = tempfile::tempdir().unwrap();
    let (mut c, _) = Client::start(json!({}), Some(dir.path())).await;
    let u = uri(&dir.path().join("a.py"));
    let text = "async def f(p):\n    with open(p) as fh:\n        data = fh.read()\n        fh.write(data)\n";
    c.open(&u, text).await;
    let diags = c.diagnostics_until(&u, |d| !d.is_empty()).await;
    assert_eq!(codes(&diags), ["LS104@1:9"]);
    let related = diags[0]["relatedInformation"].as_array().unwrap();
    assert_eq!(related.len(), 2);
    assert_eq!(related[0]["location"]["uri"], u.as_str());
    assert_eq!(
        related[0]["location"]["range"],
        json!({ "start": { "line": 2, "character": 15 }, "end": { "line": 2, "character": 22 } })
    );
    assert_eq!(
        related[0]["message"],
        "io.TextIOWrapper.read reads or writes a file synchronously, on what open returned"
    );
    assert_eq!(related[1]["location"]["range"]["start"], json!({ "line": 3, "character": 8 }));
    // A line typed above the reads moves them with the finding.
    c.change(&u, 2, json!([{ "range": { "start": { "line": 2, "character": 0 }, "end": { "line": 2, "character": 0 } }, "text": "        x = 1\n" }])).await;
    let diags = c
        .diagnostics_until(&u, |d| {
            d.len() == 1 && d[0]["relatedInformation"][0]["location"]["range"]["start"]["line"] == 3
        })
        .await;
    assert_eq!(codes(&diags), ["LS104@1:9"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_helper_in_another_file_starts_and_stops_blocking() {
    let helpers = "import time\n\n\ndef pause():\n    time.sleep(1)\n";
    let api = "from helpers import pause\n\n\nasync def handler():\n    pause()\n";
    let (_dir, mut c, api_uri, helpers_uri) = open_first_of(("api.py", api), ("helpers.py", helpers)).await;
    // Once the workspace is indexed, the route's call to the helper is a finding with its chain.
    let diags = c.diagnostics_until(&api_uri, |d| !d.is_empty()).await;
    assert_eq!(codes(&diags), ["LS102@4:4"]);
    let related = diags[0]["relatedInformation"].as_array().unwrap();
    assert_eq!(related.len(), 2);
    assert_eq!(related[1]["location"]["uri"], helpers_uri.as_str());
    assert_eq!(related[1]["location"]["range"]["start"], json!({ "line": 4, "character": 4 }));

    // Edit the helper (unsaved): it stops blocking, and the route's diagnostic disappears.
    c.open(&helpers_uri, helpers).await;
    c.change(&helpers_uri, 2, json!([{ "range": { "start": { "line": 4, "character": 4 }, "end": { "line": 4, "character": 17 } }, "text": "pass" }])).await;
    c.diagnostics_until(&api_uri, |d| d.is_empty()).await;
    // And back.
    c.change(&helpers_uri, 3, json!([{ "range": { "start": { "line": 4, "character": 4 }, "end": { "line": 4, "character": 8 } }, "text": "time.sleep(1)" }])).await;
    c.diagnostics_until(&api_uri, |d| codes(d) == ["LS102@4:4"]).await;
}

/// A constant imported from another module carries its type: the route's `CACHE.read_text()` is a
/// finding while `CACHE` is a `pathlib.Path`, and no longer once an unsaved edit makes it a string.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_constant_changes_type_in_another_file() {
    let paths = "from pathlib import Path\n\nDATA = Path(\"/srv\")\nCACHE = DATA / \"cache\"\n";
    let api = "from paths import CACHE\n\n\nasync def handler():\n    CACHE.read_text()\n";
    let (_dir, mut c, api_uri, paths_uri) = open_first_of(("api.py", api), ("paths.py", paths)).await;
    c.diagnostics_until(&api_uri, |d| codes(d) == ["LS104@4:4"]).await;

    c.open(&paths_uri, paths).await;
    c.change(&paths_uri, 2, json!([{ "range": { "start": { "line": 3, "character": 8 }, "end": { "line": 3, "character": 22 } }, "text": "\"cache\"" }])).await;
    c.diagnostics_until(&api_uri, |d| d.is_empty()).await;
    c.change(&paths_uri, 3, json!([{ "range": { "start": { "line": 3, "character": 8 }, "end": { "line": 3, "character": 15 } }, "text": "DATA / \"cache\"" }])).await;
    c.diagnostics_until(&api_uri, |d| codes(d) == ["LS104@4:4"]).await;
}

/// Neovim pulls a document right after opening it and applies no later report for it until it pulls it
/// again (a refresh makes it pull the workspace, whose reports it ignores for open documents). So the
/// first pull carries the chain through a file not indexed yet, and a pull of the edited helper carries
/// the route's new report as a related document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_wait_for_the_index_and_carry_other_documents_reports() {
    let helpers = "import time\n\n\ndef pause():\n    time.sleep(1)\n";
    let api = "from helpers import pause\n\n\nasync def handler():\n    pause()\n";
    let dir = workspace(&[("helpers.py", helpers), ("api.py", api)]);
    let caps =
        json!({ "textDocument": { "diagnostic": {} }, "workspace": { "diagnostics": { "refreshSupport": true } } });
    let (mut c, _) = Client::start(caps, Some(dir.path())).await;
    let api_uri = uri(&dir.path().join("api.py"));
    let helpers_uri = uri(&dir.path().join("helpers.py"));
    let pull = |u: &tower_lsp_server::ls_types::Uri| json!({ "textDocument": { "uri": u.as_str() } });
    // Opened and pulled at once, before the index could be built: the chain is in the first report.
    c.open(&api_uri, api).await;
    let report = c.request("textDocument/diagnostic", pull(&api_uri)).await;
    assert_eq!(codes(report["result"]["items"].as_array().unwrap()), ["LS102@4:4"], "{report}");
    // The helper opened and pulled, then edited: its pull carries the route's report, now empty.
    c.open(&helpers_uri, helpers).await;
    let report = c.request("textDocument/diagnostic", pull(&helpers_uri)).await;
    assert_eq!(report["result"]["items"], json!([]));
    c.change(&helpers_uri, 2, json!([{ "range": { "start": { "line": 4, "character": 4 }, "end": { "line": 4, "character": 17 } }, "text": "pass" }])).await;
    let id = report["result"]["resultId"].clone();
    let report = c
        .request(
            "textDocument/diagnostic",
            json!({ "textDocument": { "uri": helpers_uri.as_str() }, "previousResultId": id }),
        )
        .await;
    // Full (Neovim reads related documents only from a full report), though the helper's is unchanged.
    assert_eq!(report["result"]["kind"], "full", "{report}");
    let related = &report["result"]["relatedDocuments"][api_uri.as_str()];
    assert_eq!(related["kind"], "full", "{report}");
    assert_eq!(related["items"], json!([]), "{report}");
    // Sent once: the next pull has nothing related.
    let report = c.request("textDocument/diagnostic", pull(&helpers_uri)).await;
    assert!(report["result"].get("relatedDocuments").is_none_or(|r| r.is_null()), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_client_gets_diagnostics_on_request_only() {
    let dir = tempfile::tempdir().unwrap();
    let (mut c, _) = Client::start(json!({ "textDocument": { "diagnostic": {} } }), Some(dir.path())).await;
    let u = uri(&dir.path().join("a.py"));
    c.open(&u, ROUTE).await;
    let report = c.request("textDocument/diagnostic", json!({ "textDocument": { "uri": u.as_str() } })).await;
    assert_eq!(report["result"]["kind"], "full");
    assert_eq!(codes(report["result"]["items"].as_array().unwrap()), ["LS102@4:4"]);
    // Never both: no publishDiagnostics was sent.
    assert!(c.inbox.iter().all(|m| m["method"] != "textDocument/publishDiagnostics"), "{:?}", c.inbox);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_edits_without_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let (mut c, _) = Client::start(json!({}), Some(dir.path())).await;
    let u = uri(&dir.path().join("a.py"));
    let mut text = String::from("import time\n\n\nasync def f():\n    pass\n    ");
    c.open(&u, &text).await;
    // Type `time.sleep(1)  #` one character at a time at the end, then more text, 1000 edits in all.
    let typed: String = "time.sleep(1)\n    x = 1  # 日本😀\n    ".repeat(40).chars().take(1000).collect();
    let mut line = 5u32;
    let mut col = 4u32;
    let mut version = 1;
    for ch in typed.chars() {
        version += 1;
        let s = ch.to_string();
        c.change(&u, version, json!([{ "range": { "start": { "line": line, "character": col }, "end": { "line": line, "character": col } }, "text": s }])).await;
        text.push(ch);
        if ch == '\n' {
            line += 1;
            col = 0;
        } else {
            col += ch.len_utf16() as u32;
        }
    }
    // The final diagnostics are those of the final text: same rules, same places.
    let expected: Vec<String> = common::findings(&text)
        .iter()
        .map(|f| {
            let line = common::line_of(&text, f.range.start) - 1;
            let line_start = text[..f.range.start].rfind('\n').map_or(0, |i| i + 1);
            let col: usize = text[line_start..f.range.start].chars().map(char::len_utf16).sum();
            format!("{}@{line}:{col}", f.rule.code())
        })
        .collect();
    let diags = c.diagnostics_until(&u, |d| codes(d) == expected).await;
    assert!(expected.len() > 10, "{expected:?}");
    // Everything is consistent with the final text.
    let report = c
        .request(
            "textDocument/hover",
            json!({ "textDocument": { "uri": u.as_str() }, "position": diags[0]["range"]["start"] }),
        )
        .await;
    assert!(!report["result"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initialize_capabilities_snapshot() {
    let (_, init) = Client::start(json!({ "general": { "positionEncodings": ["utf-16"] } }), None).await;
    let mut result = init["result"].clone();
    result["serverInfo"]["version"] = json!("<version>");
    insta::assert_snapshot!(serde_json::to_string_pretty(&result).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_watched_files_and_function_hover() {
    let helpers = "import time\n\n\ndef pause():\n    time.sleep(1)\n";
    let api = "import time\nfrom helpers import pause\n\n\nasync def handler():\n    pause()\n    time.sleep(2)\n";
    let dir = workspace(&[("helpers.py", helpers), ("api.py", api)]);
    let (mut c, _) = Client::start(json!({ "window": { "workDoneProgress": true } }), Some(dir.path())).await;
    let api_uri = uri(&dir.path().join("api.py"));
    let helpers_uri = uri(&dir.path().join("helpers.py"));
    // Indexing reports its progress, with a token the server asks the client to create.
    let end = loop {
        let m = c.next().await;
        if m["method"] == "$/progress" && m["params"]["value"]["kind"] == "end" {
            break m;
        }
    };
    assert!(end["params"]["value"]["message"].as_str().unwrap().starts_with("indexed 2 files"), "{end}");
    assert!(c.inbox.iter().any(|m| m["method"] == "window/workDoneProgress/create"));
    c.open(&api_uri, api).await;
    c.diagnostics_until(&api_uri, |d| codes(d) == ["LS102@5:4", "LS102@6:4"]).await;

    // Hover on the helper's name: which blocking call it reaches.
    c.open(&helpers_uri, helpers).await;
    let hover = c
        .request(
            "textDocument/hover",
            json!({ "textDocument": { "uri": helpers_uri.as_str() }, "position": { "line": 3, "character": 5 } }),
        )
        .await;
    let text = hover["result"]["contents"]["value"].as_str().unwrap_or_default();
    assert!(text.contains("blocks the event loop") && text.contains("time.sleep"), "{hover}");
    c.notify("textDocument/didClose", json!({ "textDocument": { "uri": helpers_uri.as_str() } })).await;

    // A bad configuration is reported and the last good one stays.
    c.notify("workspace/didChangeConfiguration", json!({ "settings": { "loopsafe": { "select": "blocking-http" } } }))
        .await;
    let shown = loop {
        let m = c.next().await;
        if m["method"] == "window/showMessage" {
            break m;
        }
    };
    assert!(shown["params"]["message"].as_str().unwrap().contains("`select`: expected a list of strings"), "{shown}");
    // A good one applies at once.
    c.notify(
        "workspace/didChangeConfiguration",
        json!({ "settings": { "loopsafe": { "ignore": ["blocking-sleep"] } } }),
    )
    .await;
    c.diagnostics_until(&api_uri, |d| d.is_empty()).await;
    c.notify("workspace/didChangeConfiguration", json!({ "settings": { "loopsafe": { "ignore": [] } } })).await;
    c.diagnostics_until(&api_uri, |d| d.len() == 2).await;

    // The helper changes on disk (it is not open): the route's chain finding goes away.
    std::fs::write(dir.path().join("helpers.py"), "def pause():\n    pass\n").unwrap();
    c.notify("workspace/didChangeWatchedFiles", json!({ "changes": [{ "uri": helpers_uri.as_str(), "type": 2 }] }))
        .await;
    c.diagnostics_until(&api_uri, |d| codes(d) == ["LS102@6:4"]).await;
}

/// A client that does not watch files for the server (Neovim on Linux without `inotifywait`), or that
/// reports only its own writes (Helix): the server watches the workspace itself, so a helper module
/// changed on disk by another program updates the open route's chain without any message from the
/// client. A client that declares it watches gets the registration too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_changes_are_seen_without_a_client_watcher() {
    let helpers = "import time\n\n\ndef pause():\n    time.sleep(1)\n";
    let api = "from helpers import pause\n\n\nasync def handler():\n    pause()\n";
    let dir = workspace(&[("helpers.py", helpers), ("api.py", api)]);
    let (mut c, _) = Client::start(json!({}), Some(dir.path())).await;
    let api_uri = uri(&dir.path().join("api.py"));
    c.open(&api_uri, api).await;
    c.diagnostics_until(&api_uri, |d| codes(d) == ["LS102@4:4"]).await;
    // Written as editors and `git checkout` do: a new file renamed over the old one.
    let tmp = dir.path().join(".helpers.py.tmp");
    std::fs::write(&tmp, "def pause():\n    pass\n").unwrap();
    std::fs::rename(&tmp, dir.path().join("helpers.py")).unwrap();
    c.diagnostics_until(&api_uri, |d| d.is_empty()).await;
    // Written in place, back to blocking.
    std::fs::write(dir.path().join("helpers.py"), helpers).unwrap();
    c.diagnostics_until(&api_uri, |d| codes(d) == ["LS102@4:4"]).await;
    assert!(!c.inbox.iter().any(|m| m["method"] == "client/registerCapability"), "no registration asked for");

    let dir = workspace(&[("helpers.py", helpers), ("api.py", api)]);
    let caps = json!({ "workspace": { "didChangeWatchedFiles": { "dynamicRegistration": true } } });
    let (mut c, _) = Client::start(caps, Some(dir.path())).await;
    let api_uri = uri(&dir.path().join("api.py"));
    c.open(&api_uri, api).await;
    c.diagnostics_until(&api_uri, |d| codes(d) == ["LS102@4:4"]).await;
    // The registration follows the first index (answered by `next` on the way, kept in the inbox).
    let mut registration = None;
    for _ in 0..100 {
        registration = c.inbox.iter().find(|m| m["method"] == "client/registerCapability").cloned();
        if registration.is_some() {
            break;
        }
        // A request's round trip reads (and answers) what the server sent before its response.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let at = json!({ "textDocument": { "uri": api_uri.as_str() }, "position": { "line": 0, "character": 0 } });
        c.request("textDocument/hover", at).await;
    }
    let registration = registration.expect("the server registers its file watchers with the client");
    let watchers = &registration["params"]["registrations"][0]["registerOptions"]["watchers"];
    assert_eq!(watchers[0]["globPattern"], "**/*.py", "{registration}");
}

/// Neovim answers a refresh with a workspace pull when the server offers one and never applies its
/// reports to the buffers it pulls one by one; without it, it pulls each open buffer again. So a finding
/// that changed because a closed module changed on disk reaches its buffer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neovim_is_not_offered_workspace_pulls() {
    let pull = json!({ "textDocument": { "diagnostic": { "dynamicRegistration": false } } });
    let (_, init) = Client::start_as(json!({ "name": "Neovim", "version": "0.12.4" }), pull.clone(), None).await;
    assert_eq!(init["result"]["capabilities"]["diagnosticProvider"]["workspaceDiagnostics"], false, "{init}");
    let (_, init) = Client::start_as(json!({ "name": "Visual Studio Code" }), pull, None).await;
    assert_eq!(init["result"]["capabilities"]["diagnosticProvider"]["workspaceDiagnostics"], true, "{init}");
}

/// Helix handles `workspace/diagnostic/refresh` but declares it under a key the specification does not
/// have (`workspace.diagnostic`): it gets the refresh anyway, so a closed module changed on disk
/// reaches the open route's report (Helix pulls it again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helix_gets_refreshes_after_changes_on_disk() {
    let helpers = "import time\n\n\ndef pause():\n    time.sleep(1)\n";
    let api = "from helpers import pause\n\n\nasync def handler():\n    pause()\n";
    let dir = workspace(&[("helpers.py", helpers), ("api.py", api)]);
    let caps =
        json!({ "textDocument": { "diagnostic": {} }, "workspace": { "diagnostic": { "refreshSupport": true } } });
    let (mut c, _) = Client::start_as(json!({ "name": "helix", "version": "25.07.1" }), caps, Some(dir.path())).await;
    let api_uri = uri(&dir.path().join("api.py"));
    c.open(&api_uri, api).await;
    let pull = json!({ "textDocument": { "uri": api_uri.as_str() } });
    let mut report = Value::Null;
    for _ in 0..100 {
        report = c.request("textDocument/diagnostic", pull.clone()).await;
        if report["result"]["items"].as_array().is_some_and(|i| i.len() == 1) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(report["result"]["items"].as_array().map(Vec::len), Some(1), "{report}");
    let refreshes = |c: &Client| c.inbox.iter().filter(|m| m["method"] == "workspace/diagnostic/refresh").count();
    let before = refreshes(&c);
    std::fs::write(dir.path().join("helpers.py"), "def pause():\n    pass\n").unwrap();
    let mut emptied = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let report = c.request("textDocument/diagnostic", pull.clone()).await;
        if refreshes(&c) > before && report["result"]["items"].as_array().is_some_and(|i| i.is_empty()) {
            emptied = true;
            break;
        }
    }
    assert!(emptied, "no refresh, or the route still has its finding, after helpers.py changed on disk");
}

/// A pull client (VS Code) is never left showing the diagnostics of the old settings. A pull sent
/// just after `workspace/didChangeConfiguration` waits for the analysis under the new ones; one answered
/// before the server had read them (it reads them off its async thread) is followed by a
/// `workspace/diagnostic/refresh` once they are in force, since the client made no edit that would
/// make it pull again. The settings are toggled many times so that pulls land in every phase.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_clients_follow_a_settings_change() {
    let api = "import time\n\nimport requests\n\n\nasync def handler():\n    time.sleep(1)\n    requests.get(\"u\", timeout=5)\n";
    let dir = workspace(&[("api.py", api)]);
    let caps =
        json!({ "textDocument": { "diagnostic": {} }, "workspace": { "diagnostics": { "refreshSupport": true } } });
    let (mut c, _) = Client::start_as(json!({ "name": "Visual Studio Code" }), caps, Some(dir.path())).await;
    let api_uri = uri(&dir.path().join("api.py"));
    c.open(&api_uri, api).await;
    let refreshes = |c: &Client| c.inbox.iter().filter(|m| m["method"] == "workspace/diagnostic/refresh").count();
    // The result id the client holds and how many diagnostics it shows.
    let mut held: (Value, usize) = (Value::Null, 0);
    let pull = async |c: &mut Client, held: &mut (Value, usize)| {
        let params = json!({ "textDocument": { "uri": api_uri.as_str() }, "previousResultId": held.0 });
        let report = c.request("textDocument/diagnostic", params).await;
        let result = &report["result"];
        if result["kind"] == "full" {
            *held = (result["resultId"].clone(), result["items"].as_array().map_or(0, Vec::len));
        } else {
            assert_eq!(result["kind"], "unchanged", "{report}");
        }
    };
    for _ in 0..100 {
        pull(&mut c, &mut held).await;
        if held.1 == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(held.1, 2, "both findings before any setting");
    for round in 0..12 {
        let (ignore, expected) = if round % 2 == 0 { (json!(["blocking-sleep"]), 1) } else { (json!([]), 2) };
        c.notify("workspace/didChangeConfiguration", json!({ "settings": { "loopsafe": { "ignore": ignore } } })).await;
        let mut seen = refreshes(&c);
        pull(&mut c, &mut held).await;
        // Shown the old settings' diagnostics: a refresh must follow, and a pull after it the new ones.
        let mut tries = 0;
        while held.1 != expected {
            tries += 1;
            assert!(tries <= 10, "round {round}: still {} diagnostics after {tries} refreshes", held.1);
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
            while refreshes(&c) == seen {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                // `recv`, not `next`: `next` answers the refresh and goes on waiting for anything else.
                let Ok(m) = tokio::time::timeout(left, c.recv()).await else {
                    panic!(
                        "round {round}: the client shows {} diagnostics, {expected} expected, and no refresh came",
                        held.1
                    )
                };
                if m.get("method").is_some() && m.get("id").is_some() {
                    c.send(json!({ "jsonrpc": "2.0", "id": m["id"], "result": null })).await;
                }
                c.inbox.push_back(m);
            }
            seen = refreshes(&c);
            pull(&mut c, &mut held).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_and_unknown_methods_do_not_kill_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let (mut c, _) = Client::start(json!({}), Some(dir.path())).await;
    // Not JSON at all.
    let garbage = "{ this is not json";
    let frame = format!("Content-Length: {}\r\n\r\n{garbage}", garbage.len());
    c.write.write_all(frame.as_bytes()).await.unwrap();
    // An unknown request gets MethodNotFound; an unknown notification is ignored.
    let unknown = c.request("loopsafe/unknown", json!({})).await;
    assert_eq!(unknown["error"]["code"], -32601, "{unknown}");
    c.notify("$/unknownNotification", json!({})).await;
    // Cancelling a request that does not exist is harmless.
    c.notify("$/cancelRequest", json!({ "id": 999 })).await;
    // A hover at a position past the end of a document, and on a document that is not open.
    let u = uri(&dir.path().join("a.py"));
    c.open(&u, ROUTE).await;
    c.diagnostics_until(&u, |d| !d.is_empty()).await;
    let far = c
        .request(
            "textDocument/hover",
            json!({ "textDocument": { "uri": u.as_str() }, "position": { "line": 999, "character": 999 } }),
        )
        .await;
    assert!(far.get("error").is_none(), "{far}");
    let other = uri(&dir.path().join("closed.py"));
    let none = c
        .request(
            "textDocument/hover",
            json!({ "textDocument": { "uri": other.as_str() }, "position": { "line": 0, "character": 0 } }),
        )
        .await;
    assert!(none["result"].is_null());
    // The server still works.
    c.change(&u, 2, json!([{ "range": { "start": { "line": 4, "character": 4 }, "end": { "line": 4, "character": 14 } }, "text": "print" }])).await;
    c.diagnostics_until(&u, |d| d.is_empty()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspace_diagnostics_cover_closed_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pyproject.toml"), "[project]\nname = \"w\"\n").unwrap();
    std::fs::write(dir.path().join("helpers.py"), "import time\n\n\ndef pause():\n    time.sleep(1)\n").unwrap();
    std::fs::write(dir.path().join("api.py"), "from helpers import pause\n\n\nasync def handler():\n    pause()\n")
        .unwrap();
    std::fs::write(dir.path().join("clean.py"), "x = 1\n").unwrap();
    let (mut c, init) = Client::start(
        json!({ "textDocument": { "diagnostic": {} }, "window": { "workDoneProgress": true } }),
        Some(dir.path()),
    )
    .await;
    assert_eq!(init["result"]["capabilities"]["diagnosticProvider"]["workspaceDiagnostics"], true);
    loop {
        let m = c.next().await;
        if m["method"] == "$/progress" && m["params"]["value"]["kind"] == "end" {
            break;
        }
    }
    let report = c.request("workspace/diagnostic", json!({ "previousResultIds": [] })).await;
    let items = report["result"]["items"].as_array().unwrap();
    let api = uri(&dir.path().join("api.py"));
    assert_eq!(items.len(), 1, "only files with findings: {items:?}");
    assert_eq!(items[0]["uri"], api.as_str());
    assert!(items[0]["version"].is_null());
    assert_eq!(codes(items[0]["items"].as_array().unwrap()), ["LS102@4:4"]);

    // Asked again with the result id it holds: unchanged, not resent.
    let id = items[0]["resultId"].as_str().expect("a result id").to_string();
    let again =
        c.request("workspace/diagnostic", json!({ "previousResultIds": [{ "uri": api.as_str(), "value": id }] })).await;
    let items = again["result"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["kind"], "unchanged");
    assert_eq!(items[0]["resultId"], id.as_str());

    // The helper stops blocking on disk: the client gets an empty report for the file it held.
    std::fs::write(dir.path().join("helpers.py"), "def pause():\n    pass\n").unwrap();
    let helpers = uri(&dir.path().join("helpers.py"));
    c.notify("workspace/didChangeWatchedFiles", json!({ "changes": [{ "uri": helpers.as_str(), "type": 2 }] })).await;
    let cleared = loop {
        let r = c
            .request("workspace/diagnostic", json!({ "previousResultIds": [{ "uri": api.as_str(), "value": id }] }))
            .await;
        if r["result"]["items"][0]["kind"] == "full" {
            break r;
        }
    };
    let items = cleared["result"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["uri"], api.as_str());
    assert!(items[0]["items"].as_array().unwrap().is_empty(), "{items:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_settings_lay_over_the_project_key_by_key() {
    let pyproject = "[tool.loopsafe]\nignore = [\"blocking-sleep\"]\n";
    let api = "import time, requests\n\n\nasync def handler():\n    requests.get('u')\n    time.sleep(2)\n";
    let dir = workspace(&[("pyproject.toml", pyproject), ("api.py", api)]);
    let (mut c, _) = Client::start(json!({}), Some(dir.path())).await;
    let api_uri = uri(&dir.path().join("api.py"));
    c.open(&api_uri, api).await;
    c.diagnostics_until(&api_uri, |d| codes(d) == ["LS101@4:4"]).await;
    // A client key that the project does not set leaves the project's `ignore` in force.
    let select = json!({ "settings": { "loopsafe": { "select": ["blocking-http", "blocking-sleep"] } } });
    c.notify("workspace/didChangeConfiguration", select).await;
    c.diagnostics_until(&api_uri, |d| codes(d) == ["LS101@4:4"]).await;
    // The same key overrides it.
    c.notify("workspace/didChangeConfiguration", json!({ "settings": { "loopsafe": { "ignore": [] } } })).await;
    c.diagnostics_until(&api_uri, |d| codes(d) == ["LS101@4:4", "LS102@5:4"]).await;
    // Nothing to say (null, or an empty top level, as Neovim sends at start) changes nothing.
    c.notify("workspace/didChangeConfiguration", json!({ "settings": null })).await;
    c.notify("workspace/didChangeConfiguration", json!({ "settings": {} })).await;
    // An empty section (an empty Lua table arrives as `[]`) clears the client's keys: the project decides.
    c.notify("workspace/didChangeConfiguration", json!({ "settings": { "loopsafe": [] } })).await;
    c.diagnostics_until(&api_uri, |d| codes(d) == ["LS101@4:4"]).await;
    assert!(!c.inbox.iter().any(|m| m["method"] == "window/showMessage"), "no error was shown");
}

const PROMPTS: &str = "from rich.prompt import Prompt\n\n\nasync def choose():\n    return Prompt.ask(\"pool\")\n";
const COMMANDS: &str = "import typer\nfrom fastapi import FastAPI\n\nfrom prompts import choose\n\napp = typer.Typer()\napi = FastAPI()\n\n\n@app.command()\nasync def deploy():\n    await choose()\n\n\n@api.get(\"/\")\nasync def route():\n    pass\n";

/// The severities of diagnostics, in order (1 error … 4 hint).
fn severities(diags: &[Value]) -> Vec<i64> {
    diags.iter().map(|d| d["severity"].as_i64().unwrap()).collect()
}

/// A coroutine of another file that only a command awaits: its blocking call is a hint. When a route
/// starts awaiting it too (an unsaved edit of the commands' file), it is published again at its own tier
/// (critical), and a hint again when the route stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coroutine_only_commands_await_is_a_hint_until_a_route_awaits_it() {
    let (_dir, mut c, prompts, commands) = open_first_of(("prompts.py", PROMPTS), ("commands.py", COMMANDS)).await;
    // Once the workspace is indexed, the project shows who awaits `choose`.
    let diags = c.diagnostics_until(&prompts, |d| severities(d) == [4]).await;
    assert_eq!(codes(&diags), ["LS105@4:11"]);
    let message = diags[0]["message"].as_str().unwrap();
    assert!(message.contains("awaited only by command-line commands"), "{message}");
    c.open(&commands, COMMANDS).await;
    // The route's body (line 16 from column 4) replaced.
    let edit = |to: u32, text: &str| json!([{ "range": { "start": { "line": 16, "character": 4 }, "end": { "line": 16, "character": to } }, "text": text }]);
    c.change(&commands, 2, edit(8, "await choose()")).await;
    c.diagnostics_until(&prompts, |d| severities(d) == [1]).await;
    c.change(&commands, 3, edit(18, "pass")).await;
    c.diagnostics_until(&prompts, |d| severities(d) == [4]).await;
}

/// The same for a closed file in a workspace pull: its report carries the hint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspace_pulls_show_a_closed_command_helper_as_a_hint() {
    let dir = workspace(&[("prompts.py", PROMPTS), ("commands.py", COMMANDS)]);
    let (mut c, _) = Client::start(
        json!({ "textDocument": { "diagnostic": {} }, "window": { "workDoneProgress": true } }),
        Some(dir.path()),
    )
    .await;
    loop {
        let m = c.next().await;
        if m["method"] == "$/progress" && m["params"]["value"]["kind"] == "end" {
            break;
        }
    }
    let report = c.request("workspace/diagnostic", json!({ "previousResultIds": [] })).await;
    let items = report["result"]["items"].as_array().unwrap();
    let prompts = uri(&dir.path().join("prompts.py"));
    let item = items.iter().find(|i| i["uri"] == prompts.as_str()).expect("prompts.py has a report");
    let diags = item["items"].as_array().unwrap();
    assert_eq!(codes(diags), ["LS105@4:11"]);
    assert_eq!(severities(diags), [4], "{diags:?}");
}

/// A lazily created client that two coroutines reach is one diagnostic, at the first call, whose related
/// information lists the other call after the chain's hops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_time_work_two_coroutines_reach_is_one_diagnostic_listing_the_other() {
    let clients = "import boto3\n\n_s3 = None\n\n\ndef get_s3():\n    global _s3\n    if _s3 is None:\n        _s3 = boto3.client(\"s3\")\n    return _s3\n";
    let api = "from clients import get_s3\n\n\nasync def first():\n    return get_s3()\n\n\nasync def second():\n    return get_s3()\n";
    let (_dir, mut c, api_uri, _) = open_first_of(("api.py", api), ("clients.py", clients)).await;
    let diags = c.diagnostics_until(&api_uri, |d| !d.is_empty()).await;
    assert_eq!(codes(&diags), ["LS109@4:11"], "{diags:#?}");
    let related = diags[0]["relatedInformation"].as_array().unwrap();
    let last = related.last().unwrap();
    assert_eq!(last["message"], "also reached from `api.second`");
    assert_eq!(last["location"]["uri"], api_uri.as_str());
    assert_eq!(last["location"]["range"]["start"], json!({ "line": 8, "character": 11 }));
}

/// Issue 13: the edited document's diagnostics are pushed first. An edit that keeps the helper's
/// summary shape (`time.sleep(1)` to `time.sleep(2)`) is pushed from its own analysis, and the route,
/// whose chain is unchanged, is not pushed again; an edit that changes it (the helper stops blocking)
/// is pushed before the route whose chain went through it, which follows once the project is
/// relinked. No push goes back in version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edited_document_is_pushed_before_the_documents_it_changes() {
    let helpers = "import time\n\n\ndef pause():\n    time.sleep(1)\n";
    let api = "from helpers import pause\n\n\nasync def handler():\n    pause()\n";
    let (_dir, mut c, api_uri, helpers_uri) = open_first_of(("api.py", api), ("helpers.py", helpers)).await;
    c.diagnostics_until(&api_uri, |d| codes(d) == ["LS102@4:4"]).await;
    c.open(&helpers_uri, helpers).await;
    c.diagnostics_until(&helpers_uri, |_| true).await;
    // Pushes as (uri, version, codes), in order, until `done` holds for them.
    async fn pushes_until(
        c: &mut Client,
        done: impl Fn(&[(String, i64, Vec<String>)]) -> bool,
    ) -> Vec<(String, i64, Vec<String>)> {
        let mut seen = Vec::new();
        while !done(&seen) {
            let m = match c.inbox.pop_front() {
                Some(m) => m,
                None => {
                    tokio::time::timeout(std::time::Duration::from_secs(30), c.next()).await.expect("pushes in time")
                }
            };
            if m["method"] == "textDocument/publishDiagnostics" {
                let p = &m["params"];
                let version = p["version"].as_i64().unwrap_or(-1);
                seen.push((
                    p["uri"].as_str().unwrap().to_string(),
                    version,
                    codes(p["diagnostics"].as_array().unwrap()),
                ));
            }
        }
        seen
    }
    let at = |line: u32, from: u32, to: u32| json!({ "start": { "line": line, "character": from }, "end": { "line": line, "character": to } });
    c.change(&helpers_uri, 2, json!([{ "range": at(4, 15, 16), "text": "2" }])).await;
    let seen = pushes_until(&mut c, |s| s.iter().any(|(u, v, _)| u == helpers_uri.as_str() && *v == 2)).await;
    assert!(seen.iter().all(|(u, _, _)| u == helpers_uri.as_str()), "{seen:?}");
    // A round trip: anything the server sent for that edit has arrived; the route was not pushed again.
    c.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": api_uri.as_str() }, "position": { "line": 0, "character": 0 } }),
    )
    .await;
    assert!(!c.inbox.iter().any(|m| m["params"]["uri"] == api_uri.as_str()), "{:?}", c.inbox);

    c.change(&helpers_uri, 3, json!([{ "range": at(4, 4, 17), "text": "pass" }])).await;
    let seen = pushes_until(&mut c, |s| s.iter().any(|(u, _, d)| u == api_uri.as_str() && d.is_empty())).await;
    let helper_at = seen.iter().position(|(u, v, _)| u == helpers_uri.as_str() && *v == 3).expect("the helper pushed");
    let api_at = seen.iter().position(|(u, _, _)| u == api_uri.as_str()).unwrap();
    assert!(helper_at < api_at, "the edited document first: {seen:?}");
    // And back: the route's finding returns, the helper's versions only go up.
    c.change(&helpers_uri, 4, json!([{ "range": at(4, 4, 8), "text": "time.sleep(1)" }])).await;
    let seen = pushes_until(&mut c, |s| s.iter().any(|(u, _, d)| u == api_uri.as_str() && d == &["LS102@4:4"])).await;
    let versions: Vec<i64> = seen.iter().filter(|(u, _, _)| u == helpers_uri.as_str()).map(|(_, v, _)| *v).collect();
    assert!(versions.windows(2).all(|w| w[0] <= w[1]) && versions.first() == Some(&4), "{seen:?}");
}

/// Issue 18: a document closed and opened again while the refresher's pass for its close runs must
/// end with its reopened version's diagnostics, never with the pass's clear of the closed document
/// computed before the reopen. (Branch lsp13 showed the race: once `didOpen` published inline, that
/// clear was sent after the reopened version's push, and the push soak lost a document's last
/// diagnostics; main's `didOpen` queues the document behind the pass.) The close changes the file's
/// shape (the buffer had a function the disk does not), so the pass relinks and recomputes every open
/// document, which leaves a window for the reopen; the rounds vary the delay to land in it. After
/// each round a shape-changing edit of another document goes through the refresher: its push comes
/// after every earlier pass's pushes, so the document's last push by then is final. On one async
/// thread, as `loopsafe server` runs (ARCHITECTURE.md, invariant 4).
#[tokio::test(flavor = "current_thread")]
async fn a_document_reopened_while_its_close_is_refreshed_keeps_its_last_diagnostics() {
    let closer = "import time\n\n\ndef pause():\n    time.sleep(1)\n";
    let routes: Vec<(String, String)> = (0..40)
        .map(|i| {
            let text = format!(
                "import time\nfrom closer import pause\n\n\nasync def route{i}():\n    pause()\n    time.sleep(1)\n\n\nasync def other{i}():\n    pause()\n"
            );
            (format!("r{i}.py"), text)
        })
        .collect();
    let marker = "async def m():\n    pass\n";
    let mut files: Vec<(&str, &str)> = routes.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
    files.push(("closer.py", closer));
    files.push(("marker.py", marker));
    let dir = workspace(&files);
    let (mut c, _) = Client::start(json!({}), Some(dir.path())).await;
    let closer_uri = uri(&dir.path().join("closer.py"));
    let marker_uri = uri(&dir.path().join("marker.py"));
    for (name, text) in &routes {
        c.open(&uri(&dir.path().join(name)), text).await;
    }
    c.open(&closer_uri, closer).await;
    c.open(&marker_uri, marker).await;
    let (mut version, mut marker_version, mut marker_text) = (1, 1, marker.to_string());
    for round in 0..24u64 {
        // A function the disk does not have, then closed without saving, then opened again from disk.
        version += 1;
        let end = json!({ "line": closer.lines().count(), "character": 0 });
        let added = format!("\n\ndef extra{round}():\n    pass\n");
        c.change(&closer_uri, version, json!([{ "range": { "start": end, "end": end }, "text": added }])).await;
        c.notify("textDocument/didClose", json!({ "textDocument": { "uri": closer_uri.as_str() } })).await;
        tokio::time::sleep(std::time::Duration::from_millis(round % 12 * 2)).await;
        version += 1;
        let opened = json!({ "uri": closer_uri.as_str(), "languageId": "python", "version": version, "text": closer });
        c.notify("textDocument/didOpen", json!({ "textDocument": opened })).await;
        // The marker: a new function changes its shape, so it is pushed by the refresher, after it.
        marker_version += 1;
        let at = json!({ "line": marker_text.lines().count(), "character": 0 });
        let def = format!("\n\nasync def m{round}():\n    pass\n");
        c.change(&marker_uri, marker_version, json!([{ "range": { "start": at, "end": at }, "text": def }])).await;
        marker_text.push_str(&def);
        // The document's pushes (their versions; `None`: cleared) until the marker's, and its own.
        let (mut pushes, mut marker_seen) = (Vec::new(), false);
        while !(marker_seen && pushes.contains(&Some(version as i64))) {
            let m = match c.inbox.pop_front() {
                Some(m) => m,
                None => tokio::time::timeout(std::time::Duration::from_secs(30), c.next()).await.expect("pushes"),
            };
            if m["method"] != "textDocument/publishDiagnostics" {
                continue;
            }
            let p = &m["params"];
            if p["uri"] == closer_uri.as_str() {
                pushes.push(p["version"].as_i64());
            } else if p["uri"] == marker_uri.as_str() && p["version"].as_i64() == Some(marker_version as i64) {
                marker_seen = true;
            }
        }
        assert_eq!(
            pushes.last(),
            Some(&Some(version as i64)),
            "round {round}: the reopened document's pushes {pushes:?}"
        );
    }
}

/// The route a hover shows is the one the application serves: the prefix of the router including the
/// document's router, in another file. An unsaved edit of that include's prefix changes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hover_shows_the_prefix_another_file_includes_the_route_under() {
    let steps = "import time\nfrom fastapi import APIRouter\n\nrouter = APIRouter(prefix=\"/steps\")\n\n\n@router.get(f\"/{{step_id}}/runs\")\nasync def runs(step_id: str):\n    time.sleep(1)\n";
    let main = "from fastapi import FastAPI\n\nfrom steps import router\n\napp = FastAPI()\napp.include_router(router, prefix=\"/api\")\n";
    let (_dir, mut c, steps_uri, main_uri) = open_first_of(("steps.py", steps), ("main.py", main)).await;
    c.diagnostics_until(&steps_uri, |d| codes(d) == ["LS102@8:4"]).await;
    let position = json!({ "textDocument": { "uri": steps_uri.as_str() }, "position": { "line": 8, "character": 8 } });
    // The hover answers from the latest published diagnostics: asked until the project's answer is there.
    async fn route_shown(c: &mut Client, position: &Value, want: &str) {
        let mut last = String::new();
        for _ in 0..200 {
            let hover = c.request("textDocument/hover", position.clone()).await;
            last = hover["result"]["contents"]["value"].as_str().unwrap_or_default().to_string();
            if last.contains(want) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the hover never showed {want}: {last}");
    }
    route_shown(&mut c, &position, "In route `GET /api/steps/{step_id}/runs`").await;
    c.open(&main_uri, main).await;
    // `"/api"` (line 5, its `api` at columns 36..39) becomes `"/v2"`.
    c.change(&main_uri, 2, json!([{ "range": { "start": { "line": 5, "character": 36 }, "end": { "line": 5, "character": 39 } }, "text": "v2" }])).await;
    route_shown(&mut c, &position, "In route `GET /v2/steps/{step_id}/runs`").await;
    // The router's own prefix, edited in the document itself.
    c.change(&steps_uri, 2, json!([{ "range": { "start": { "line": 3, "character": 28 }, "end": { "line": 3, "character": 33 } }, "text": "stages" }])).await;
    route_shown(&mut c, &position, "In route `GET /v2/stages/{step_id}/runs`").await;
}
