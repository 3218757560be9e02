//! Fixes applied through real `textDocument/codeAction` requests to the in-process language server:
//! the actions are rebuilt from each diagnostic's `data`, their edits applied to the text give the
//! expected code, a stale diagnostic yields nothing, and `source.fixAll.loopsafe` applies the safe fixes.

mod lsp_client;

use lsp_client::{Client, apply_edits, codes, edits_for, uri, workspace};
use serde_json::{Value, json};
use tower_lsp_server::ls_types::Uri;

const CAPS: &str = r#"{
    "workspace": { "workspaceEdit": { "documentChanges": true } },
    "textDocument": { "codeAction": { "disabledSupport": true } }
}"#;

const APP: &str = "import time

import requests
from fastapi import FastAPI

app = FastAPI()


@app.get(\"/slow\")
async def slow(u: str):
    time.sleep(1)
    return requests.get(u).json()
";

async fn actions(c: &mut Client, u: &Uri, diags: &[Value], only: Option<&str>) -> Vec<Value> {
    let range =
        diags.first().map_or(json!({"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}), |d| {
            d["range"].clone()
        });
    let mut context = json!({ "diagnostics": diags });
    if let Some(k) = only {
        context["only"] = json!([k]);
    }
    let resp = c
        .request(
            "textDocument/codeAction",
            json!({ "textDocument": { "uri": u.as_str() }, "range": range, "context": context }),
        )
        .await;
    resp["result"].as_array().cloned().unwrap_or_default()
}

/// The quick fixes, asked again (the server works in the background) until `done` accepts them, for at
/// most 2.5 s.
async fn actions_until(c: &mut Client, u: &Uri, diags: &[Value], done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let mut acts = Vec::new();
    for _ in 0..50 {
        acts = actions(c, u, diags, None).await;
        if done(&acts) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    acts
}

/// The action whose title starts with `prefix` and that is enabled (`enabled`) or disabled
/// (`disabled`); the test fails listing every title when there is none.
fn action_by_title<'a>(acts: &'a [Value], prefix: &str, want_disabled: bool) -> &'a Value {
    acts.iter()
        .find(|a| a["title"].as_str().unwrap().starts_with(prefix) && a.get("disabled").is_some() == want_disabled)
        .unwrap_or_else(|| panic!("{:?}", titles(acts)))
}

fn enabled<'a>(acts: &'a [Value], prefix: &str) -> &'a Value {
    action_by_title(acts, prefix, false)
}

fn disabled<'a>(acts: &'a [Value], prefix: &str) -> &'a Value {
    action_by_title(acts, prefix, true)
}

fn titles(actions: &[Value]) -> Vec<String> {
    actions
        .iter()
        .map(|a| {
            let mut t = a["title"].as_str().unwrap().to_string();
            if a["isPreferred"] == true {
                t.push_str(" [preferred]");
            }
            if a.get("disabled").is_some() {
                t.push_str(" [disabled]");
            }
            t
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_fixes_are_rebuilt_from_the_diagnostic_data_and_apply() {
    let dir = workspace(&[("app.py", APP)]);
    let caps: Value = serde_json::from_str(CAPS).unwrap();
    let (mut c, init) = Client::start(caps, Some(dir.path())).await;
    let kinds = &init["result"]["capabilities"]["codeActionProvider"]["codeActionKinds"];
    assert_eq!(kinds, &json!(["quickfix", "refactor.extract", "source.fixAll.loopsafe"]));
    let u = uri(&dir.path().join("app.py"));
    c.open(&u, APP).await;
    let diags = c.diagnostics_until(&u, |d| d.len() == 2).await;
    assert_eq!(codes(&diags), ["LS102@10:4", "LS101@11:11"]);

    // time.sleep: async sleep (safe, preferred), offload, make the route sync, noqa.
    let sleep = actions(&mut c, &u, &diags[..1], None).await;
    assert_eq!(
        titles(&sleep),
        [
            "Replace time.sleep with await asyncio.sleep [preferred]",
            "Offload time.sleep to a thread with run_in_threadpool",
            "Make slow a plain def (the framework runs it in a worker thread)",
            "Add # noqa: LS102 to this line",
        ]
    );
    assert!(sleep.iter().all(|a| a["kind"] == "quickfix"));
    let edit = &sleep[0]["edit"];
    assert_eq!(edit["documentChanges"][0]["textDocument"]["version"], 1, "versioned documentChanges");
    let fixed = apply_edits(APP, &edits_for(edit, &u));
    assert_eq!(
        fixed,
        // `import time` had no other use: the fix removes it (the new import takes its place).
        APP.replace("import time\n", "import asyncio\n").replace("    time.sleep(1)", "    await asyncio.sleep(1)")
    );
    let make_sync = sleep.iter().find(|a| a["title"].as_str().unwrap().starts_with("Make")).unwrap();
    assert_eq!(apply_edits(APP, &edits_for(&make_sync["edit"], &u)), APP.replace("async def slow", "def slow"));

    // requests.get inside `.json()`: offload (safe) parenthesizes; httpx (unsafe) wraps the statement.
    let http = actions(&mut c, &u, &diags[1..], None).await;
    assert_eq!(
        titles(&http)[..3],
        [
            "Offload requests.get to a thread with run_in_threadpool [preferred]",
            "Use httpx.AsyncClient instead of requests.get",
            "Make slow a plain def (the framework runs it in a worker thread)",
        ]
    );
    assert_eq!(
        apply_edits(APP, &edits_for(&http[0]["edit"], &u)),
        APP.replace(
            "from fastapi import FastAPI\n",
            "from fastapi import FastAPI\nfrom fastapi.concurrency import run_in_threadpool\n"
        )
        .replace("return requests.get(u).json()", "return (await run_in_threadpool(requests.get, u)).json()")
    );
    assert_eq!(
        apply_edits(APP, &edits_for(&http[1]["edit"], &u)),
        APP.replace("import requests\n", "import httpx\nimport requests\n").replace(
            "    return requests.get(u).json()",
            "    async with httpx.AsyncClient(follow_redirects=True, timeout=None) as client:\n        return (await client.get(u)).json()"
        )
    );

    // The fix-all source action applies the safe fixes only, in one edit.
    let all = actions(&mut c, &u, &[], Some("source.fixAll.loopsafe")).await;
    assert_eq!(titles(&all), ["Fix all safe loopsafe findings"]);
    assert_eq!(all[0]["kind"], "source.fixAll.loopsafe");
    let fixed = apply_edits(APP, &edits_for(&all[0]["edit"], &u));
    assert!(fixed.contains("    await asyncio.sleep(1)\n"), "{fixed}");
    assert!(fixed.contains("return (await run_in_threadpool(requests.get, u)).json()"), "{fixed}");
    assert!(fixed.starts_with("import asyncio\n\nimport requests\n"), "{fixed}"); // `import time` went with its last use

    // After an edit, the old diagnostics are stale: no action.
    c.change(&u, 2, json!([{ "range": { "start": { "line": 0, "character": 0 }, "end": { "line": 0, "character": 0 } }, "text": "\n" }])).await;
    let _ = c.diagnostics_until(&u, |d| codes(d) == ["LS102@11:4", "LS101@12:11"]).await;
    assert!(actions(&mut c, &u, &diags[..1], None).await.is_empty(), "a stale diagnostic yields no action");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_fixes_say_why_and_plain_changes_without_document_changes() {
    let text =
        "import requests\n\n\nasync def get(u):\n    with requests.get(u, stream=True) as r:\n        return r\n";
    let dir = workspace(&[("m.py", text)]);
    let (mut c, _) =
        Client::start(json!({ "textDocument": { "codeAction": { "disabledSupport": true } } }), Some(dir.path())).await;
    let u = uri(&dir.path().join("m.py"));
    c.open(&u, text).await;
    let diags = c.diagnostics_until(&u, |d| !d.is_empty()).await;
    let acts = actions(&mut c, &u, &diags, None).await;
    // Offloading the call alone would leave the `with` on the loop: the whole block goes instead.
    assert!(!acts.iter().any(|a| a["title"].as_str().unwrap().starts_with("Offload")), "{acts:?}");
    let block = acts.iter().find(|a| a["title"].as_str().unwrap().starts_with("Run the whole with")).unwrap();
    assert!(block.get("disabled").is_none(), "{block}");
    let httpx = acts.iter().find(|a| a["title"].as_str().unwrap().starts_with("Use httpx")).unwrap();
    assert!(httpx["disabled"]["reason"].as_str().unwrap().contains("stream"), "{httpx}");
    let noqa = acts.iter().find(|a| a["title"] == "Add # noqa: LS101 to this line").unwrap();
    assert!(noqa["edit"]["changes"].is_object(), "no documentChanges support: plain changes");
    assert_eq!(
        apply_edits(text, &edits_for(&noqa["edit"], &u)),
        text.replace("stream=True) as r:", "stream=True) as r:  # noqa: LS101")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_finding_offloads_the_call_to_the_sync_helper() {
    let main = "from fastapi import FastAPI\n\nfrom .signing import sign_op1\n\napp = FastAPI()\n\n\n@app.get(\"/sign/{request_id}\")\nasync def root(request_id: str):\n    return sign_op1(request_id)\n";
    let signing = "import requests\n\n\ndef sign_op1(request_id):\n    return requests.get(f\"https://example.com/{request_id}\").text\n";
    let dir = workspace(&[("app/__init__.py", ""), ("app/main.py", main), ("app/signing.py", signing)]);
    let caps: Value = serde_json::from_str(CAPS).unwrap();
    let (mut c, _) = Client::start(caps, Some(dir.path())).await;
    let u = uri(&dir.path().join("app/main.py"));
    c.open(&u, main).await;
    let diags = c.diagnostics_until(&u, |d| !d.is_empty()).await;
    assert_eq!(codes(&diags), ["LS101@9:11"]);
    assert_eq!(diags[0]["data"]["chain"], true);
    let acts = actions(&mut c, &u, &diags, None).await;
    assert_eq!(
        titles(&acts)[..2],
        [
            "Offload sign_op1 to a thread with run_in_threadpool [preferred]",
            "Make root a plain def (the framework runs it in a worker thread)",
        ]
    );
    let fixed = apply_edits(main, &edits_for(&acts[0]["edit"], &u));
    assert_eq!(
        fixed,
        main.replace(
            "from fastapi import FastAPI\n",
            "from fastapi import FastAPI\nfrom fastapi.concurrency import run_in_threadpool\n"
        )
        .replace("return sign_op1(request_id)", "return await run_in_threadpool(sign_op1, request_id)")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn make_sync_drops_await_at_every_call_site_in_the_workspace() {
    let services = "async def helper(x):\n    return x + 1\n";
    let main = "from . import services\n\n\nasync def run():\n    return await services.helper(1)\n";
    let other = "from .services import helper\n\n\nasync def go():\n    y = (await helper(2)) * 2\n    return y\n";
    let dir = workspace(&[
        ("pkg/__init__.py", ""),
        ("pkg/services.py", services),
        ("pkg/main.py", main),
        ("pkg/other.py", other),
    ]);
    // A file that cannot be read (not UTF-8), sorted before the others: every later file must keep its
    // own module names, or call sites go missing.
    std::fs::write(dir.path().join("pkg/a_bad.py"), b"x = '\xff\xfe'\n").unwrap();
    let mut caps: Value = serde_json::from_str(CAPS).unwrap();
    caps["initializationOptions"] = json!(null);
    let (mut c, _) = Client::start(caps, Some(dir.path())).await;
    c.notify(
        "workspace/didChangeConfiguration",
        json!({ "settings": { "loopsafe": { "extend-select": ["async-without-await"] } } }),
    )
    .await;
    let u = uri(&dir.path().join("pkg/services.py"));
    c.open(&u, services).await;
    let diags = c.diagnostics_until(&u, |d| codes(d).iter().any(|c| c.starts_with("LS201"))).await;
    let acts = actions(&mut c, &u, &diags, None).await;
    assert_eq!(
        titles(&acts),
        ["Make helper a plain def and drop await at its 2 call sites [preferred]", "Add # noqa: LS201 to this line"]
    );
    let edit = &acts[0]["edit"];
    assert_eq!(edit["documentChanges"].as_array().unwrap().len(), 3, "{edit}");
    assert_eq!(apply_edits(services, &edits_for(edit, &u)), "def helper(x):\n    return x + 1\n");
    let mu = uri(&dir.path().join("pkg/main.py"));
    assert_eq!(
        apply_edits(main, &edits_for(edit, &mu)),
        main.replace("await services.helper(1)", "services.helper(1)")
    );
    let ou = uri(&dir.path().join("pkg/other.py"));
    assert_eq!(apply_edits(other, &edits_for(edit, &ou)), other.replace("(await helper(2))", "(helper(2))"));

    // A caller that uses the coroutine another way: not offered, and the reason says where.
    std::fs::write(dir.path().join("pkg/gather.py"), "import asyncio\n\nfrom .services import helper\n\n\nasync def both():\n    await asyncio.gather(helper(1), helper(2))\n").unwrap();
    c.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [{ "uri": uri(&dir.path().join("pkg/gather.py")).as_str(), "type": 1 }] }),
    )
    .await;
    let acts = actions_until(&mut c, &u, &diags, |acts| acts.iter().any(|a| a.get("disabled").is_some())).await;
    let disabled = acts.iter().find(|a| a.get("disabled").is_some());
    let reason = disabled.map_or("", |a| a["disabled"]["reason"].as_str().unwrap());
    assert!(reason.contains("is called without await") && reason.contains("gather.py:7"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_dependencies_are_read_again_when_they_change() {
    let main = "from pathlib import Path\n\n\nasync def load(p):\n    return Path(p).read_text()\n";
    let dir = workspace(&[("main.py", main)]);
    let caps: Value = serde_json::from_str(CAPS).unwrap();
    let (mut c, _) = Client::start(caps, Some(dir.path())).await;
    let u = uri(&dir.path().join("main.py"));
    c.open(&u, main).await;
    let diags = c.diagnostics_until(&u, |d| !d.is_empty()).await;
    let anyio_fix = "Use await anyio.Path(...).read_text()";
    // anyio is neither imported nor declared: no anyio fix.
    let before = titles(&actions(&mut c, &u, &diags, None).await);
    assert!(!before.iter().any(|t| t.starts_with(anyio_fix)), "{before:?}");
    std::fs::write(dir.path().join("requirements.txt"), "anyio>=4\n").unwrap();
    c.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [{ "uri": uri(&dir.path().join("requirements.txt")).as_str(), "type": 1 }] }),
    )
    .await;
    let has_fix = |acts: &[Value]| titles(acts).iter().any(|t| t.starts_with(anyio_fix));
    let after = titles(&actions_until(&mut c, &u, &diags, has_fix).await);
    assert!(after.iter().any(|t| t.starts_with(anyio_fix)), "{after:?}");
}

/// The diagnostic whose `data.callee` is `callee`.
fn by_callee<'a>(diags: &'a [Value], callee: &str) -> &'a Value {
    diags.iter().find(|d| d["data"]["callee"] == callee).unwrap_or_else(|| panic!("no {callee} in {diags:?}"))
}

const WITH_BLOCKS: &str = "import asyncio
import sqlite3
from contextlib import closing


async def names(db):
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute(\"SELECT name FROM t\").fetchall()
    return [r[0] for r in rows]


async def read(path):
    with open(path) as fh:
        return fh.read()


async def waits(path):
    with open(path) as fh:
        await asyncio.sleep(0)
        return fh.read()
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_with_block_moves_to_a_thread_as_a_quick_fix_and_a_refactoring() {
    let dir = workspace(&[("m.py", WITH_BLOCKS)]);
    let caps: Value = serde_json::from_str(CAPS).unwrap();
    let (mut c, _) = Client::start(caps, Some(dir.path())).await;
    let u = uri(&dir.path().join("m.py"));
    c.open(&u, WITH_BLOCKS).await;
    let diags = c.diagnostics_until(&u, |d| d.iter().filter(|d| d["data"]["callee"] == "open").count() == 2).await;

    // `with open(path) as fh:` and its `fh.read()` (related information of the `open` finding, not a
    // diagnostic of its own): the whole block, not the open alone.
    assert!(!diags.iter().any(|d| d["data"]["callee"] == "io.TextIOWrapper.read"));
    let read = diags.iter().find(|d| d["data"]["callee"] == "open").unwrap();
    assert_eq!(read["relatedInformation"].as_array().map(Vec::len), Some(1));
    let acts = actions(&mut c, &u, std::slice::from_ref(read), None).await;
    let whole = "Run the whole with open(path) as fh block in a thread with asyncio.to_thread";
    assert_eq!(titles(&acts)[0], format!("{whole} [preferred]"), "{:?}", titles(&acts));
    assert!(!titles(&acts).iter().any(|t| t.starts_with("Offload")), "{:?}", titles(&acts));
    assert_eq!(acts[0]["kind"], "quickfix");
    assert_eq!(acts[0]["data"]["applicability"], "unsafe");
    let expected = WITH_BLOCKS.replace(
        "    with open(path) as fh:\n        return fh.read()\n",
        "    def _in_thread():\n        with open(path) as fh:\n            return fh.read()\n\n    return await asyncio.to_thread(_in_thread)\n",
    );
    assert_eq!(apply_edits(WITH_BLOCKS, &edits_for(&acts[0]["edit"], &u)), expected);
    // The same as a refactoring, asked for alone.
    let refactor = actions(&mut c, &u, std::slice::from_ref(read), Some("refactor.extract")).await;
    assert_eq!(titles(&refactor), [whole]);
    assert_eq!(refactor[0]["kind"], "refactor.extract");
    assert_eq!(apply_edits(WITH_BLOCKS, &edits_for(&refactor[0]["edit"], &u)), expected);

    // sqlite3: the connection is made and used in the one thread; `rows` comes back.
    let connect = by_callee(&diags, "sqlite3.connect");
    let acts = actions(&mut c, &u, std::slice::from_ref(connect), None).await;
    let fix = acts.iter().find(|a| a["title"].as_str().unwrap().starts_with("Run the whole")).unwrap();
    assert_eq!(
        apply_edits(WITH_BLOCKS, &edits_for(&fix["edit"], &u)),
        WITH_BLOCKS.replace(
            "    with closing(sqlite3.connect(db)) as conn:\n        rows = conn.execute(\"SELECT name FROM t\").fetchall()\n",
            "    def _in_thread():\n        with closing(sqlite3.connect(db)) as conn:\n            rows = conn.execute(\"SELECT name FROM t\").fetchall()\n        return rows\n\n    rows = await asyncio.to_thread(_in_thread)\n",
        )
    );

    // A block that awaits stays: the action is disabled, with the reason.
    let waits = diags.iter().filter(|d| d["data"]["callee"] == "open").nth(1).unwrap();
    let acts = actions(&mut c, &u, std::slice::from_ref(waits), None).await;
    let refused = acts
        .iter()
        .find(|a| a["title"].as_str().unwrap().starts_with("Run the whole") && a["kind"] == "quickfix")
        .unwrap();
    assert!(refused["disabled"]["reason"].as_str().unwrap().contains("awaits"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_with_a_lambda_argument_is_offloaded_with_it() {
    let text = "import time\n\n\ndef _retry(f):\n    time.sleep(1)\n    return f()\n\n\nasync def go():\n    return _retry(lambda: 42)\n";
    let dir = workspace(&[("m.py", text)]);
    let caps: Value = serde_json::from_str(CAPS).unwrap();
    let (mut c, _) = Client::start(caps, Some(dir.path())).await;
    let u = uri(&dir.path().join("m.py"));
    c.open(&u, text).await;
    let diags = c.diagnostics_until(&u, |d| d.iter().any(|d| d["data"]["chain"] == true)).await;
    let chain: Vec<Value> = diags.iter().filter(|d| d["data"]["chain"] == true).cloned().collect();
    let acts = actions(&mut c, &u, &chain, None).await;
    assert_eq!(titles(&acts)[0], "Offload _retry to a thread with asyncio.to_thread [preferred]");
    assert_eq!(
        apply_edits(text, &edits_for(&acts[0]["edit"], &u)),
        format!(
            "import asyncio\n{}",
            text.replace("return _retry(lambda: 42)", "return await asyncio.to_thread(_retry, lambda: 42)")
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_is_made_async_down_to_httpx_or_refused_with_the_place() {
    let text = "import requests\n\n\ndef internal_signing_op(op_num, request_id):\n    response = requests.get(f\"http://127.0.0.1:9000/{request_id}/{op_num}\", timeout=10)\n    return response.text\n\n\ndef sign_op1(request_id):\n    return internal_signing_op(1, request_id)\n\n\nasync def root(request_id):\n    return {\"signature\": sign_op1(request_id)}\n";
    let cli = format!("{text}\n\ndef cli(request_id):\n    print(sign_op1(request_id))\n");
    let dir = workspace(&[("m.py", text), ("c.py", &cli)]);
    let caps: Value = serde_json::from_str(CAPS).unwrap();
    let (mut c, _) = Client::start(caps, Some(dir.path())).await;
    let u = uri(&dir.path().join("m.py"));
    c.open(&u, text).await;
    let diags = c.diagnostics_until(&u, |d| d.iter().any(|d| d["data"]["chain"] == true)).await;
    let chain: Vec<Value> = diags.iter().filter(|d| d["data"]["chain"] == true).cloned().collect();
    let acts = actions(&mut c, &u, &chain, None).await;
    // The project does not declare httpx: the title says so.
    let title = "Make sign_op1, internal_signing_op async, await 2 call sites in 1 file, and use httpx.AsyncClient instead of requests.get (httpx is not a declared dependency)";
    let fix = acts.iter().find(|a| a["title"] == title).unwrap_or_else(|| panic!("{:?}", titles(&acts)));
    assert_eq!(fix["data"]["applicability"], "unsafe");
    assert_eq!(
        apply_edits(text, &edits_for(&fix["edit"], &u)),
        "import httpx\n\n\nasync def internal_signing_op(op_num, request_id):\n    async with httpx.AsyncClient(follow_redirects=True) as client:\n        response = await client.get(f\"http://127.0.0.1:9000/{request_id}/{op_num}\", timeout=10)\n    return response.text\n\n\nasync def sign_op1(request_id):\n    return await internal_signing_op(1, request_id)\n\n\nasync def root(request_id):\n    return {\"signature\": await sign_op1(request_id)}\n"
    );

    // A sync caller off the chain: refused, and the reason names it and its line.
    let cu = uri(&dir.path().join("c.py"));
    c.open(&cu, &cli).await;
    let diags = c.diagnostics_until(&cu, |d| d.iter().any(|d| d["data"]["chain"] == true)).await;
    let chain: Vec<Value> = diags.iter().filter(|d| d["data"]["chain"] == true).cloned().collect();
    let acts = actions(&mut c, &cu, &chain, None).await;
    let refused = acts
        .iter()
        .find(|a| a["title"].as_str().unwrap().starts_with("Make sign_op1 and the functions"))
        .unwrap_or_else(|| panic!("{:?}", titles(&acts)));
    let reason = refused["disabled"]["reason"].as_str().unwrap();
    assert!(reason.contains("c.py:18") && reason.contains("sync function cli"), "{reason}");
}

/// A server on a project of `files` with `requirements.txt` holding `requirements`, `app/main.py` open:
/// the client, the project, main's URI and its first chain diagnostic.
async fn open_chain(files: &[(&str, &str)], requirements: &str) -> (Client, tempfile::TempDir, Uri, Vec<Value>) {
    let dir = workspace(files);
    std::fs::write(dir.path().join("requirements.txt"), requirements).unwrap();
    let caps: Value = serde_json::from_str(CAPS).unwrap();
    let (mut c, _) = Client::start(caps, Some(dir.path())).await;
    let u = uri(&dir.path().join("app/main.py"));
    let main = files.iter().find(|(name, _)| *name == "app/main.py").expect("app/main.py").1;
    c.open(&u, main).await;
    let diags = c.diagnostics_until(&u, |d| d.iter().any(|d| d["data"]["chain"] == true)).await;
    let chain = diags.iter().filter(|d| d["data"]["chain"] == true).take(1).cloned().collect();
    (c, dir, u, chain)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_across_modules_is_made_async_in_every_file_or_refused_with_the_place() {
    let main = "from fastapi import FastAPI\n\nfrom .signing import sign_op1\n\napp = FastAPI()\n\n\n@app.get(\"/a/{request_id}\")\nasync def a(request_id: str):\n    return sign_op1(request_id)\n\n\n@app.get(\"/b/{request_id}\")\ndef b(request_id: str):\n    return {\"s\": sign_op1(request_id)}\n";
    let ops = "import requests\n\n\ndef internal_signing_op(op_num, request_id):\n    response = requests.get(f\"http://127.0.0.1:9000/{request_id}/{op_num}\", timeout=10)\n    return response.text\n";
    let signing = "from .ops import internal_signing_op\n\n\ndef sign_op1(request_id):\n    return internal_signing_op(1, request_id)\n";
    let (mut c, dir, u, chain) = open_chain(
        &[("app/__init__.py", ""), ("app/main.py", main), ("app/signing.py", signing), ("app/ops.py", ops)],
        "fastapi\nhttpx>=0.27\n",
    )
    .await;
    let acts = actions(&mut c, &u, &chain, None).await;
    let title = "Make sign_op1, internal_signing_op, the route b async, await 3 call sites in 3 files, and use httpx.AsyncClient instead of requests.get";
    let fix = acts.iter().find(|a| a["title"] == title).unwrap_or_else(|| panic!("{:?}", titles(&acts)));
    assert_eq!(fix["data"]["applicability"], "unsafe");
    let edit = &fix["edit"];
    assert_eq!(edit["documentChanges"].as_array().unwrap().len(), 3, "{edit}");
    assert_eq!(
        apply_edits(main, &edits_for(edit, &u)),
        main.replace("return sign_op1(", "return await sign_op1(")
            .replace("def b(", "async def b(")
            .replace("{\"s\": sign_op1(", "{\"s\": await sign_op1(")
    );
    let su = uri(&dir.path().join("app/signing.py"));
    assert_eq!(
        apply_edits(signing, &edits_for(edit, &su)),
        signing.replace("def sign_op1", "async def sign_op1").replace("return internal", "return await internal")
    );
    let ou = uri(&dir.path().join("app/ops.py"));
    assert_eq!(
        apply_edits(ops, &edits_for(edit, &ou)),
        "import httpx\n\n\nasync def internal_signing_op(op_num, request_id):\n    async with httpx.AsyncClient(follow_redirects=True) as client:\n        response = await client.get(f\"http://127.0.0.1:9000/{request_id}/{op_num}\", timeout=10)\n    return response.text\n"
    );

    // A sync CLI function calling the helper through its module: refused, naming its file and line.
    std::fs::write(
        dir.path().join("app/cli.py"),
        "from app import signing\n\n\ndef main():\n    print(signing.sign_op1(\"x\"))\n",
    )
    .unwrap();
    c.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [{ "uri": uri(&dir.path().join("app/cli.py")).as_str(), "type": 1 }] }),
    )
    .await;
    let acts = actions_until(&mut c, &u, &chain, |acts| acts.iter().all(|a| a["title"] != title)).await;
    let refused = disabled(&acts, "Make sign_op1");
    let reason = refused["disabled"]["reason"].as_str().unwrap();
    assert!(reason.contains("sync function main") && reason.contains("cli.py:5"), "{reason}");
}

const SELECTIONS: &str = "import asyncio
import json
import time


async def load(path, pause):
    started = time.monotonic()
    with open(path) as fh:
        config = json.load(fh)
    time.sleep(pause)
    took = time.monotonic() - started
    return config, took


async def early(path):
    if not path:
        return None
    time.sleep(1)
    # a comment
    await asyncio.sleep(0)
    return path


def plain(path):
    time.sleep(1)
    return path
";

/// The LSP position of the `nth` occurrence of `needle` in `text` (ASCII), `delta` characters after
/// its start.
fn at(text: &str, needle: &str, nth: usize, delta: usize) -> Value {
    let start = text.match_indices(needle).nth(nth).unwrap_or_else(|| panic!("no {needle}")).0 + delta;
    let line = text[..start].matches('\n').count();
    let character = start - text[..start].rfind('\n').map_or(0, |i| i + 1);
    json!({ "line": line, "character": character })
}

/// The actions for a selection from `start` to `end`, with the request's `diagnostics`.
async fn actions_for(
    c: &mut Client,
    u: &Uri,
    (start, end): (Value, Value),
    diagnostics: &[Value],
    only: Option<&str>,
) -> Vec<Value> {
    let mut context = json!({ "diagnostics": diagnostics });
    if let Some(k) = only {
        context["only"] = json!([k]);
    }
    let resp = c
        .request(
            "textDocument/codeAction",
            json!({ "textDocument": { "uri": u.as_str() }, "range": { "start": start, "end": end }, "context": context }),
        )
        .await;
    resp["result"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selection_of_statements_moves_to_a_thread_or_is_refused_with_the_reason() {
    let text = SELECTIONS;
    let dir = workspace(&[("m.py", text)]);
    let caps: Value = serde_json::from_str(CAPS).unwrap();
    let (mut c, _) = Client::start(caps, Some(dir.path())).await;
    let u = uri(&dir.path().join("m.py"));
    c.open(&u, text).await;
    let diags = c.diagnostics_until(&u, |d| d.iter().any(|d| d["data"]["callee"] == "time.sleep")).await;

    // From the middle of the `with` line to the middle of `time.sleep(pause)`: both statements, and
    // `config`, used after them, comes back.
    let selection = (at(text, "open(path)", 0, 2), at(text, "time.sleep(pause)", 0, 5));
    let expected = text.replace(
        "    with open(path) as fh:\n        config = json.load(fh)\n    time.sleep(pause)\n",
        "    def _in_thread():\n        with open(path) as fh:\n            config = json.load(fh)\n        time.sleep(pause)\n        return config\n\n    config = await asyncio.to_thread(_in_thread)\n",
    );
    let title = "Extract lines 8-10 into a function run in a thread with asyncio.to_thread";
    // Without a diagnostic in the request: a refactoring.
    let acts = actions_for(&mut c, &u, selection.clone(), &[], None).await;
    let extract: Vec<&Value> = acts.iter().filter(|a| a["title"] == title).collect();
    assert_eq!(extract.len(), 1, "{:?}", titles(&acts));
    assert_eq!(extract[0]["kind"], "refactor.extract");
    assert_eq!(extract[0]["data"]["applicability"], "unsafe");
    assert_eq!(apply_edits(text, &edits_for(&extract[0]["edit"], &u)), expected);
    // With the findings inside it: a quick fix for them (and not the refactoring too); asked for
    // refactorings only, the refactoring.
    let inside: Vec<Value> =
        diags.iter().filter(|d| (7..=9).contains(&d["range"]["start"]["line"].as_u64().unwrap())).cloned().collect();
    assert!(inside.iter().any(|d| d["data"]["callee"] == "time.sleep"), "{inside:?}");
    let acts = actions_for(&mut c, &u, selection.clone(), &inside, None).await;
    let extract: Vec<&Value> = acts.iter().filter(|a| a["title"] == title).collect();
    assert_eq!(extract.len(), 1, "{:?}", titles(&acts));
    assert_eq!(extract[0]["kind"], "quickfix");
    assert_eq!(extract[0]["diagnostics"].as_array().unwrap().len(), inside.len());
    assert_eq!(apply_edits(text, &edits_for(&extract[0]["edit"], &u)), expected);
    let acts = actions_for(&mut c, &u, selection, &inside, Some("refactor.extract")).await;
    assert!(acts.iter().any(|a| a["title"] == title && a["kind"] == "refactor.extract"), "{:?}", titles(&acts));

    // Ending in `return` at the end of the coroutine: it returns the function's result.
    let acts =
        actions_for(&mut c, &u, (at(text, "took =", 0, 0), at(text, "return config, took", 0, 19)), &[], None).await;
    let fix = acts.iter().find(|a| a["title"].as_str().unwrap().starts_with("Extract lines 11-12")).unwrap();
    assert_eq!(
        apply_edits(text, &edits_for(&fix["edit"], &u)),
        text.replace(
            "    took = time.monotonic() - started\n    return config, took\n",
            "    def _in_thread():\n        took = time.monotonic() - started\n        return config, took\n\n    return await asyncio.to_thread(_in_thread)\n"
        )
    );

    // Refusals, as disabled actions with the reason.
    let refused = |acts: &[Value]| -> String {
        let a = acts
            .iter()
            .find(|a| a["title"].as_str().unwrap().starts_with("Extract") && a.get("disabled").is_some())
            .unwrap_or_else(|| panic!("no refusal in {:?}", titles(acts)));
        assert!(a.get("edit").is_none(), "{a}");
        a["disabled"]["reason"].as_str().unwrap().to_string()
    };
    let cases = [
        // A `return` on some paths, and code after it.
        ((at(text, "if not path", 0, 0), at(text, "time.sleep(1)", 0, 13)), "may return or go on"),
        // It awaits (the comment between is no statement).
        ((at(text, "time.sleep(1)", 0, 0), at(text, "await asyncio.sleep(0)", 0, 3)), "the selection awaits"),
        // From inside the `if` to after it.
        ((at(text, "return None", 0, 2), at(text, "time.sleep(1)", 0, 4)), "inside a nested block"),
        // In a sync function.
        ((at(text, "time.sleep(1)", 1, 0), at(text, "return path", 1, 11)), "not in an async def"),
    ];
    for (selection, why) in cases {
        let acts = actions_for(&mut c, &u, selection, &[], Some("refactor.extract")).await;
        let reason = refused(&acts);
        assert!(reason.contains(why), "{reason} lacks {why:?}");
    }
    // A one-character range is a cursor (Helix's), not a selection: nothing.
    let acts = actions_for(&mut c, &u, (at(text, "took =", 0, 0), at(text, "took =", 0, 1)), &[], None).await;
    assert!(!acts.iter().any(|a| a["title"].as_str().unwrap().starts_with("Extract")), "{:?}", titles(&acts));
    // A selection of a comment alone holds no statement: nothing.
    let acts =
        actions_for(&mut c, &u, (at(text, "# a comment", 0, 0), at(text, "# a comment", 0, 11)), &[], None).await;
    assert!(!acts.iter().any(|a| a["title"].as_str().unwrap().starts_with("Extract")), "{:?}", titles(&acts));
}

/// The issue's seed example: the chain ends in a request on a module-level `requests.Session()`. The
/// session becomes a module-level `httpx.AsyncClient` (its headers kept), the chain async, its call
/// site awaited, in one WorkspaceEdit.
#[tokio::test]
async fn a_chain_ending_on_a_module_level_session_is_made_async_with_an_async_client() {
    let main = "from fastapi import FastAPI\n\nfrom .signing import sign_op1\n\napp = FastAPI()\n\n\n@app.get(\"/sign/{request_id}\")\nasync def sign(request_id: str):\n    return sign_op1(request_id)\n";
    let signing = "import requests\n\n_session = requests.Session()\n_session.headers[\"User-Agent\"] = \"signer\"\n\n\ndef internal_signing_op(payload):\n    response = _session.request(\"POST\", \"http://127.0.0.1:9000/sign\", json=payload, timeout=30)\n    return response.json()\n\n\ndef sign_op1(request_id):\n    return internal_signing_op({\"id\": request_id})\n";
    let (mut c, dir, u, chain) = open_chain(
        &[("app/__init__.py", ""), ("app/main.py", main), ("app/signing.py", signing)],
        "fastapi\nrequests\nhttpx\n",
    )
    .await;
    let acts = actions(&mut c, &u, &chain, None).await;
    let fix = acts
        .iter()
        .find(|a| a["title"].as_str().unwrap().starts_with("Make sign_op1, internal_signing_op async"))
        .unwrap_or_else(|| panic!("{:?}", titles(&acts)));
    assert!(fix.get("disabled").is_none(), "{fix}");
    assert!(fix["title"].as_str().unwrap().contains("module-level httpx.AsyncClient"), "{}", fix["title"]);
    let edit = &fix["edit"];
    assert_eq!(apply_edits(main, &edits_for(edit, &u)), main.replace("return sign_op1(", "return await sign_op1("));
    let su = uri(&dir.path().join("app/signing.py"));
    assert_eq!(
        apply_edits(signing, &edits_for(edit, &su)),
        "import httpx\n\n_session = httpx.AsyncClient(follow_redirects=True, timeout=None)\n_session.headers[\"User-Agent\"] = \"signer\"\n\n\nasync def internal_signing_op(payload):\n    response = await _session.request(\"POST\", \"http://127.0.0.1:9000/sign\", json=payload, timeout=30)\n    return response.json()\n\n\nasync def sign_op1(request_id):\n    return await internal_signing_op({\"id\": request_id})\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_ending_in_sqlite3_is_made_async_with_aiosqlite_or_refused_with_the_place() {
    let main = "from fastapi import FastAPI\n\nfrom .store import load_notes\n\napp = FastAPI()\n\n\n@app.get(\"/notes\")\nasync def notes(limit: int = 10):\n    return load_notes(limit)\n";
    let store = "import sqlite3\n\n\ndef load_notes(limit):\n    with sqlite3.connect(\"notes.db\") as conn:\n        rows = conn.execute(\"select text from notes limit ?\", (limit,)).fetchall()\n    return [r[0] for r in rows]\n";
    let files = [("app/__init__.py", ""), ("app/main.py", main), ("app/store.py", store)];
    // The project does not declare aiosqlite: the title says so.
    let (mut c, dir, u, chain) = open_chain(&files, "fastapi\n").await;
    let acts = actions(&mut c, &u, &chain, None).await;
    let title = "Make load_notes async, await 1 call site in 2 files, and use aiosqlite instead of sqlite3 (aiosqlite is not a declared dependency)";
    let fix = acts.iter().find(|a| a["title"] == title).unwrap_or_else(|| panic!("{:?}", titles(&acts)));
    assert_eq!(fix["data"]["applicability"], "unsafe");
    let edit = &fix["edit"];
    assert_eq!(apply_edits(main, &edits_for(edit, &u)), main.replace("return load_notes(", "return await load_notes("));
    let su = uri(&dir.path().join("app/store.py"));
    assert_eq!(
        apply_edits(store, &edits_for(edit, &su)),
        "import aiosqlite\n\n\nasync def load_notes(limit):\n    async with aiosqlite.connect(\"notes.db\") as conn:\n        rows = await (await conn.execute(\"select text from notes limit ?\", (limit,))).fetchall()\n        await conn.commit()\n    return [r[0] for r in rows]\n"
    );
    drop(c);

    // Declared: no note in the title. The connection passed to a sync function: refused, naming the line.
    let (mut c, dir, u, chain) = open_chain(&files, "fastapi\naiosqlite>=0.20\n").await;
    let acts = actions(&mut c, &u, &chain, None).await;
    let declared = "Make load_notes async, await 1 call site in 2 files, and use aiosqlite instead of sqlite3";
    assert!(acts.iter().any(|a| a["title"] == declared), "{:?}", titles(&acts));
    let passing = "import sqlite3\n\n\ndef count(conn):\n    return conn.execute(\"select count(*) from notes\").fetchone()[0]\n\n\ndef load_notes(limit):\n    conn = sqlite3.connect(\"notes.db\")\n    n = count(conn)\n    conn.close()\n    return n\n";
    std::fs::write(dir.path().join("app/store.py"), passing).unwrap();
    c.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [{ "uri": uri(&dir.path().join("app/store.py")).as_str(), "type": 2 }] }),
    )
    .await;
    let acts = actions_until(&mut c, &u, &chain, |acts| acts.iter().all(|a| a["title"] != declared)).await;
    let refused = disabled(&acts, "Make load_notes");
    let reason = refused["disabled"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("store.py") && reason.contains("the connection conn is used as a value at line 10"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_ending_on_a_boto3_client_is_made_async_with_aioboto3_or_refused_with_the_line() {
    let main = "from fastapi import FastAPI\n\nfrom .store import save\n\napp = FastAPI()\n\n\n@app.post(\"/notes/{key}\")\nasync def post(key: str, text: str):\n    return save(key, text)\n";
    let store = "import boto3\n\n\ndef save(key, text):\n    s3 = boto3.client(\"s3\")\n    s3.put_object(Bucket=\"notes\", Key=key, Body=text.encode())\n    return s3.head_object(Bucket=\"notes\", Key=key)[\"ETag\"]\n";
    let files = [("app/__init__.py", ""), ("app/main.py", main), ("app/store.py", store)];
    let (mut c, dir, u, chain) = open_chain(&files, "fastapi\naioboto3\n").await;
    let acts = actions(&mut c, &u, &chain, None).await;
    let fix = enabled(&acts, "Make save async");
    assert_eq!(
        fix["title"],
        "Make save async, await 1 call site in 2 files, and use aioboto3.Session().client(...) in async with as s3, awaiting its operations"
    );
    assert_eq!(fix["data"]["applicability"], "unsafe");
    let edit = &fix["edit"];
    assert_eq!(apply_edits(main, &edits_for(edit, &u)), main.replace("return save(", "return await save("));
    let su = uri(&dir.path().join("app/store.py"));
    assert_eq!(
        apply_edits(store, &edits_for(edit, &su)),
        "import aioboto3\n\n\nasync def save(key, text):\n    async with aioboto3.Session().client(\"s3\") as s3:\n        await s3.put_object(Bucket=\"notes\", Key=key, Body=text.encode())\n        return (await s3.head_object(Bucket=\"notes\", Key=key))[\"ETag\"]\n"
    );

    // A paginator: refused, naming the line.
    let paged = "import boto3\n\n\ndef save(key, text):\n    s3 = boto3.client(\"s3\")\n    s3.put_object(Bucket=\"notes\", Key=key, Body=text.encode())\n    return list(s3.get_paginator(\"list_objects_v2\").paginate(Bucket=\"notes\"))\n";
    std::fs::write(dir.path().join("app/store.py"), paged).unwrap();
    c.notify("workspace/didChangeWatchedFiles", json!({ "changes": [{ "uri": su.as_str(), "type": 2 }] })).await;
    let acts = actions_until(&mut c, &u, &chain, |acts| {
        acts.iter().any(|a| a["title"].as_str().unwrap().starts_with("Make save") && a.get("disabled").is_some())
    })
    .await;
    let refused = disabled(&acts, "Make save");
    let reason = refused["disabled"]["reason"].as_str().unwrap();
    assert!(reason.contains("store.py") && reason.contains("s3.get_paginator at line 7"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_ending_in_psycopg_is_made_async_with_its_async_connection() {
    let main = "from fastapi import FastAPI\n\nfrom .store import load_notes\n\napp = FastAPI()\n\n\n@app.get(\"/notes\")\nasync def notes(limit: int = 10):\n    return load_notes(limit)\n";
    let store = "import psycopg\n\n\ndef load_notes(limit):\n    with psycopg.connect(\"dbname=notes\") as conn:\n        with conn.cursor() as cur:\n            cur.execute(\"select text from notes limit %s\", (limit,))\n            names = []\n            for r in cur:\n                names.append(r[0])\n    return names\n";
    let files = [("app/__init__.py", ""), ("app/main.py", main), ("app/store.py", store)];
    let (mut c, dir, u, chain) = open_chain(&files, "fastapi\npsycopg[binary]>=3.2\n").await;
    let acts = actions(&mut c, &u, &chain, None).await;
    let title = "Make load_notes async, await 1 call site in 2 files, and use psycopg.AsyncConnection.connect instead of psycopg.connect";
    let fix = acts.iter().find(|a| a["title"] == title).unwrap_or_else(|| panic!("{acts:?}"));
    let edit = &fix["edit"];
    assert_eq!(apply_edits(main, &edits_for(edit, &u)), main.replace("return load_notes(", "return await load_notes("));
    let su = uri(&dir.path().join("app/store.py"));
    assert_eq!(
        apply_edits(store, &edits_for(edit, &su)),
        "import psycopg\n\n\nasync def load_notes(limit):\n    async with await psycopg.AsyncConnection.connect(\"dbname=notes\") as conn:\n        async with conn.cursor() as cur:\n            await cur.execute(\"select text from notes limit %s\", (limit,))\n            names = []\n            async for r in cur:\n                names.append(r[0])\n    return names\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_on_a_module_level_sqlite3_connection_is_not_moved_to_a_thread() {
    let main = "from fastapi import FastAPI\n\nfrom .store import count\n\napp = FastAPI()\n\n\n@app.get(\"/count\")\nasync def get_count():\n    return count()\n";
    let store = "import sqlite3\n\nconn = sqlite3.connect(\"notes.db\")\n\n\ndef count():\n    return conn.execute(\"select count(*) from notes\").fetchone()[0]\n";
    let files = [("app/__init__.py", ""), ("app/main.py", main), ("app/store.py", store)];
    let (mut c, _dir, u, chain) = open_chain(&files, "fastapi\naiosqlite\n").await;
    let acts = actions(&mut c, &u, &chain, None).await;
    let disabled = |prefix: &str| {
        acts.iter()
            .find(|a| a["title"].as_str().unwrap().starts_with(prefix) && a.get("disabled").is_some())
            .map(|a| a["disabled"]["reason"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("{prefix}: {:?}", titles(&acts)))
    };
    assert!(disabled("Offload count").contains("raises ProgrammingError"), "{:?}", titles(&acts));
    assert!(disabled("Make get_count a plain def").contains("check_same_thread=False"));
    let why = disabled("Make count");
    assert!(why.contains("conn is a connection sqlite3.connect opens at module level"), "{why}");
    // Only the suppression is left to apply.
    let enabled: Vec<String> =
        acts.iter().filter(|a| a.get("disabled").is_none()).map(|a| a["title"].as_str().unwrap().into()).collect();
    assert!(enabled.iter().all(|t| t.starts_with("Add # noqa")), "{enabled:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_with_block_using_a_sqlite3_connection_opened_before_it_is_not_moved_to_a_thread() {
    let text = "import sqlite3\nfrom contextlib import closing\n\n\nasync def names(db):\n    conn = sqlite3.connect(db)\n    with closing(conn.cursor()) as cur:\n        cur.execute(\"SELECT name FROM t\")\n        return cur.fetchall()\n";
    let dir = workspace(&[("m.py", text)]);
    let caps: Value = serde_json::from_str(CAPS).unwrap();
    let (mut c, _) = Client::start(caps, Some(dir.path())).await;
    let u = uri(&dir.path().join("m.py"));
    c.open(&u, text).await;
    let diags = c.diagnostics_until(&u, |d| d.iter().any(|d| d["data"]["callee"] == "sqlite3.Cursor.execute")).await;
    let execute = by_callee(&diags, "sqlite3.Cursor.execute");
    for only in [None, Some("refactor.extract")] {
        let acts = actions(&mut c, &u, std::slice::from_ref(execute), only).await;
        let refused = acts
            .iter()
            .find(|a| a["title"].as_str().unwrap().starts_with("Run the whole"))
            .unwrap_or_else(|| panic!("{only:?}: {:?}", titles(&acts)));
        let reason = refused["disabled"]["reason"].as_str().unwrap_or_else(|| panic!("not disabled: {refused}"));
        assert!(
            reason.contains("the block uses conn (line 7)") && reason.contains("raises ProgrammingError"),
            "{reason}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_on_a_module_level_boto3_client_gets_an_aioboto3_client_per_event_loop() {
    let main = "from fastapi import FastAPI\n\nfrom .store import save\n\napp = FastAPI()\n\n\n@app.post(\"/notes/{key}\")\nasync def post(key: str, text: str):\n    return save(key, text)\n";
    let store = "import boto3\n\ns3 = boto3.client(\"s3\", region_name=\"us-east-1\")\n\n\ndef save(key, text):\n    s3.put_object(Bucket=\"notes\", Key=key, Body=text.encode())\n    return s3.head_object(Bucket=\"notes\", Key=key)[\"ETag\"]\n";
    let files = [("app/__init__.py", ""), ("app/main.py", main), ("app/store.py", store)];
    let (mut c, dir, u, chain) = open_chain(&files, "fastapi\naioboto3\n").await;
    let acts = actions(&mut c, &u, &chain, None).await;
    let fix = enabled(&acts, "Make save async");
    assert!(
        fix["title"]
            .as_str()
            .unwrap()
            .ends_with("use an aioboto3 client per event loop as s3(), awaiting its operations"),
        "{}",
        fix["title"]
    );
    let edit = &fix["edit"];
    assert_eq!(apply_edits(main, &edits_for(edit, &u)), main.replace("return save(", "return await save("));
    let su = uri(&dir.path().join("app/store.py"));
    let got = apply_edits(store, &edits_for(edit, &su));
    assert!(got.starts_with("import asyncio\n\nimport aioboto3\n\n# aioboto3's session"), "{got}");
    assert!(
        got.contains(
            "    async with s3_session.client(\"s3\", region_name=\"us-east-1\") as client:\n        yield client\n"
        ),
        "{got}"
    );
    assert!(
        got.ends_with("async def save(key, text):\n    await (await s3()).put_object(Bucket=\"notes\", Key=key, Body=text.encode())\n    return (await (await s3()).head_object(Bucket=\"notes\", Key=key))[\"ETag\"]\n"),
        "{got}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_psycopg_transaction_block_is_entered_with_async_with() {
    let main = "from fastapi import FastAPI\n\nfrom .store import move\n\napp = FastAPI()\n\n\n@app.post(\"/move/{n}\")\nasync def post(n: int):\n    move(n)\n";
    let store = "import psycopg\n\n\ndef move(n):\n    with psycopg.connect(\"dbname=notes\") as conn:\n        with conn.transaction():\n            conn.execute(\"delete from inbox where id = %s\", (n,))\n            conn.execute(\"insert into done values (%s)\", (n,))\n";
    let files = [("app/__init__.py", ""), ("app/main.py", main), ("app/store.py", store)];
    let (mut c, dir, u, chain) = open_chain(&files, "fastapi\npsycopg[binary]>=3.2\n").await;
    let acts = actions(&mut c, &u, &chain, None).await;
    let fix = acts
        .iter()
        .find(|a| a["title"].as_str().unwrap().starts_with("Make move async") && a.get("disabled").is_none())
        .unwrap_or_else(|| panic!("{acts:?}"));
    let edit = &fix["edit"];
    assert_eq!(apply_edits(main, &edits_for(edit, &u)), main.replace("    move(n)", "    await move(n)"));
    let su = uri(&dir.path().join("app/store.py"));
    assert_eq!(
        apply_edits(store, &edits_for(edit, &su)),
        "import psycopg\n\n\nasync def move(n):\n    async with await psycopg.AsyncConnection.connect(\"dbname=notes\") as conn:\n        async with conn.transaction():\n            await conn.execute(\"delete from inbox where id = %s\", (n,))\n            await conn.execute(\"insert into done values (%s)\", (n,))\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_chains_sharing_a_module_level_redis_client_are_made_async_together_or_refused_with_the_place() {
    let main = "from fastapi import FastAPI\n\nfrom .cache import hits, seen\n\napp = FastAPI()\n\n\n@app.get(\"/a/{k}\")\nasync def a(k: str):\n    return hits(k)\n\n\n@app.get(\"/b/{u}\")\nasync def b(u: str):\n    return seen(u)\n\n\n@app.get(\"/c/{u}\")\ndef c(u: str):\n    return {\"seen\": seen(u)}\n";
    let cache = "import redis\n\ncache = redis.Redis(decode_responses=True)\n\n\ndef hits(k):\n    return cache.incr(k)\n\n\ndef seen(u):\n    return cache.get(u)\n";
    let files = [("app/__init__.py", ""), ("app/main.py", main), ("app/cache.py", cache)];
    let (mut c, dir, u, chain) = open_chain(&files, "fastapi\nredis>=5\n").await;
    let acts = actions(&mut c, &u, &chain, None).await;
    let fix = acts
        .iter()
        .find(|a| {
            a["title"].as_str().unwrap().starts_with("Make hits, seen, the route c async")
                && a.get("disabled").is_none()
        })
        .unwrap_or_else(|| panic!("{:?}", titles(&acts)));
    assert_eq!(fix["data"]["applicability"], "unsafe");
    let edit = &fix["edit"];
    assert_eq!(
        apply_edits(main, &edits_for(edit, &u)),
        main.replace("return hits(", "return await hits(")
            .replace("return seen(", "return await seen(")
            .replace("def c(", "async def c(")
            .replace("{\"seen\": seen(", "{\"seen\": await seen(")
    );
    let cu = uri(&dir.path().join("app/cache.py"));
    assert_eq!(
        apply_edits(cache, &edits_for(edit, &cu)),
        "import redis\nimport redis.asyncio\n\ncache = redis.asyncio.Redis(decode_responses=True)\n\n\nasync def hits(k):\n    return await cache.incr(k)\n\n\nasync def seen(u):\n    return await cache.get(u)\n"
    );

    // `seen` is also called by a sync CLI function, which cannot await: refused, naming it.
    let cli = "from .cache import seen\n\n\ndef main():\n    print(seen(\"admin\"))\n";
    let files = [("app/__init__.py", ""), ("app/main.py", main), ("app/cache.py", cache), ("app/cli.py", cli)];
    let (mut c, _dir, u, chain) = open_chain(&files, "fastapi\nredis>=5\n").await;
    let acts = actions(&mut c, &u, &chain, None).await;
    let refused = disabled(&acts, "Make hits");
    let reason = refused["disabled"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("seen is called by the sync function main, which is not on the chain, at")
            && reason.ends_with("app/cli.py:5"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_ending_in_psycopg2_with_in_tuple_is_refused_naming_the_line() {
    let main = "from fastapi import FastAPI\n\nfrom .store import count\n\napp = FastAPI()\n\n\n@app.get(\"/n\")\nasync def n():\n    return count()\n";
    let store = "import psycopg2\n\n\ndef count():\n    conn = psycopg2.connect(\"dbname=notes\")\n    cur = conn.cursor()\n    cur.execute(\"select count(*) from notes where tag in %s\", ((\"a\", \"b\"),))\n    n = cur.fetchone()[0]\n    conn.close()\n    return n\n";
    let files = [("app/__init__.py", ""), ("app/main.py", main), ("app/store.py", store)];
    let (mut c, _dir, u, chain) = open_chain(&files, "fastapi\npsycopg2-binary\n").await;
    let acts = actions(&mut c, &u, &chain, None).await;
    let refused = disabled(&acts, "Make count");
    let reason = refused["disabled"]["reason"].as_str().unwrap();
    // psycopg2 → psycopg 3 with client-side binding, but not `IN %s`: the tuple becomes a quoted record.
    assert!(
        reason
            .contains("app/store.py: the call at line 5: the query at line 7: IN %s: psycopg2 sends a tuple as (1, 2)"),
        "{reason}"
    );
    // Offloading the helper, which does the whole unit of work, is still offered.
    assert!(titles(&acts).iter().any(|t| t.contains("count") && t.contains("thread")), "{:?}", titles(&acts));
}

/// The project pair `tests/fixes/projects/redis_imported` (a module-level redis client used by two chains
/// and, through `from app.cache import cache`, by a helper of another module), driven through the
/// editor: the make-async action on the first chain of `app/main.py` rewrites every file as the pair's
/// `after/` says. With a module-level use of the client in that other module
/// (`redis_imported_refused`), the action is refused, naming the place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_imported_by_another_module_is_converted_with_its_users_or_refused_with_the_place() {
    let pair = |name: &str, side: &str, file: &str| {
        let path = format!("{}/../tests/fixes/projects/{name}/{side}/{file}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let names = ["app/__init__.py", "app/main.py", "app/cache.py", "app/stats.py"];
    let before: Vec<String> = names.iter().map(|f| pair("redis_imported", "before", f)).collect();
    let files: Vec<(&str, &str)> = names.iter().copied().zip(before.iter().map(String::as_str)).collect();
    let (mut c, dir, u, chain) = open_chain(&files, "fastapi\nredis>=5\n").await;
    let acts = actions(&mut c, &u, &chain, None).await;
    let fix = acts
        .iter()
        .find(|a| {
            let t = a["title"].as_str().unwrap();
            t.starts_with("Make ") && t.contains("await") && a.get("disabled").is_none()
        })
        .unwrap_or_else(|| panic!("{:?}", titles(&acts)));
    assert_eq!(fix["data"]["applicability"], "unsafe");
    let edit = &fix["edit"];
    for (name, text) in &files {
        let fu = uri(&dir.path().join(name));
        assert_eq!(apply_edits(text, &edits_for(edit, &fu)), pair("redis_imported", "after", name), "{name}");
    }

    let before: Vec<String> = names.iter().map(|f| pair("redis_imported_refused", "before", f)).collect();
    let files: Vec<(&str, &str)> = names.iter().copied().zip(before.iter().map(String::as_str)).collect();
    let (mut c, _dir, u, chain) = open_chain(&files, "fastapi\nredis>=5\n").await;
    let acts = actions(&mut c, &u, &chain, None).await;
    let refused = disabled(&acts, "Make ");
    let reason = refused["disabled"]["reason"].as_str().unwrap();
    assert!(reason.ends_with("app/stats.py:12"), "{reason}");
}

/// The make-async action on the first chain of `app/main.py` of the project pair `name`, applied through
/// the editor, rewrites every file as the pair's `after/` says.
async fn make_async_gives_the_after_tree(name: &str, requirements: &str) {
    let root = format!("{}/../tests/fixes/projects/{name}", env!("CARGO_MANIFEST_DIR"));
    let pair = |side: &str, file: &str| {
        let path = format!("{root}/{side}/{file}");
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let mut names: Vec<String> = std::fs::read_dir(format!("{root}/before/app"))
        .unwrap()
        .map(|e| format!("app/{}", e.unwrap().file_name().to_string_lossy()))
        .filter(|f| f.ends_with(".py"))
        .collect();
    names.sort();
    let before: Vec<String> = names.iter().map(|f| pair("before", f)).collect();
    let files: Vec<(&str, &str)> = names.iter().map(String::as_str).zip(before.iter().map(String::as_str)).collect();
    let (mut c, dir, u, chain) = open_chain(&files, requirements).await;
    let acts = actions(&mut c, &u, &chain, None).await;
    let fix = acts
        .iter()
        .find(|a| {
            let t = a["title"].as_str().unwrap();
            t.starts_with("Make ") && t.contains("await") && a.get("disabled").is_none()
        })
        .unwrap_or_else(|| {
            let reasons: Vec<&Value> = acts.iter().filter_map(|a| a.get("disabled")).collect();
            panic!("{name}: {:?} {reasons:?}", titles(&acts))
        });
    assert_eq!(fix["data"]["applicability"], "unsafe");
    let edit = &fix["edit"];
    for (file, text) in &files {
        let fu = uri(&dir.path().join(file));
        assert_eq!(apply_edits(text, &edits_for(edit, &fu)), pair("after", file), "{name}: {file}");
    }
}

/// A module-level redis client reached through its module from another one (`from app import cache as
/// cache_mod` then `cache_mod.cache.get(...)`, `import app.cache` then `app.cache.cache.delete(...)`):
/// the action awaits each use there, makes its sync helpers async (and the sync route calling them), and
/// awaits `cache_mod.last_seen(...)`, a converted function called through the module's other name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_reached_through_its_module_from_another_module_is_converted_with_its_users() {
    make_async_gives_the_after_tree("redis_module_access", "fastapi\nredis>=5\n").await;
}

/// The same through a module-level boto3 client (`tests/fixes/projects/boto3_module_access`): the
/// aioboto3 client per event loop is reached as `(await blobs.s3())` and `(await app.store.s3())` in the
/// module that names it through its module, and the sync route calling that module becomes `async def`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_boto3_client_reached_through_its_module_from_another_module_is_converted_with_its_users() {
    make_async_gives_the_after_tree("boto3_module_access", "fastapi\nboto3\naioboto3\n").await;
}

/// Converted calls nested around uses of the client, and uses around converted calls, at any depth
/// (`label(label(cache.get(k)).upper())`, `cache.set(k, label(k))`), in the client's module and in
/// another: the action composes the edits (`await label((await label(await cache.get(k))).upper())`)
/// instead of refusing them as overlapping.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converted_calls_nested_around_uses_of_the_client_are_composed() {
    make_async_gives_the_after_tree("redis_nested", "fastapi\nredis>=5\n").await;
}

/// The project pair `tests/fixes/projects/psycopg2_across_refused` through the editor: the make-async
/// action on the chain `folder` → `notes_in` turns its psycopg2 connection into psycopg 3's
/// `AsyncConnection` with client-side binding (`app/notes.py` as the pair's `after/` says, where the
/// other helper is left to the offload fix), its title naming what the code cannot show and the
/// undeclared `psycopg`; the chain to `add_note`, whose statements run in `with conn:`, is refused,
/// naming the file, the line and the construct.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_ending_in_psycopg2_becomes_psycopg_3_async_or_is_refused_naming_the_construct() {
    let pair = |side: &str, file: &str| {
        let path =
            format!("{}/../tests/fixes/projects/psycopg2_across_refused/{side}/{file}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let (main, notes) = (pair("before", "app/main.py"), pair("before", "app/notes.py"));
    let files = [("app/__init__.py", ""), ("app/main.py", main.as_str()), ("app/notes.py", notes.as_str())];
    let (mut c, dir, u, chain) = open_chain(&files, "fastapi\npsycopg2-binary\n").await;
    let acts = actions(&mut c, &u, &chain, None).await;
    let fix = enabled(&acts, "Make notes_in");
    assert_eq!(
        fix["title"],
        "Make notes_in async, await 1 call site in 2 files, and use psycopg with client-side binding instead of psycopg2 (uuid, inet, bytea, timestamptz, range and record columns come back as other types) (psycopg is not a declared dependency)"
    );
    assert_eq!(fix["data"]["applicability"], "unsafe");
    let edit = &fix["edit"];
    assert_eq!(apply_edits(&main, &edits_for(edit, &u)), main.replace("return notes_in(", "return await notes_in("));
    let nu = uri(&dir.path().join("app/notes.py"));
    assert_eq!(apply_edits(&notes, &edits_for(edit, &nu)), pair("after", "app/notes.py"));

    // The chain to `add_note` alone: its `with conn:` refuses it, naming app/notes.py and its line 23.
    let main = "from fastapi import FastAPI\n\nfrom app.notes import add_note\n\napp = FastAPI()\n\n\n@app.post(\"/inbox\")\nasync def inbox(text: str):\n    return {\"id\": add_note(\"inbox\", text)}\n";
    let files = [("app/__init__.py", ""), ("app/main.py", main), ("app/notes.py", notes.as_str())];
    let (mut c, _dir, u, chain) = open_chain(&files, "fastapi\npsycopg2-binary\npsycopg[binary]\n").await;
    let acts = actions(&mut c, &u, &chain, None).await;
    let refused = disabled(&acts, "Make add_note");
    let reason = refused["disabled"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("app/notes.py: the call at line 21: with conn at line 23: psycopg2's with conn: commits and leaves the connection open"),
        "{reason}"
    );
}
