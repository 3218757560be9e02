//! `loopsafe check` as a user runs it: exit codes, output formats, configuration errors, bad input.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{loopsafe, stderr, stdout, write};

const ROUTE: &str = r#"import time

import requests
from fastapi import FastAPI

app = FastAPI()


@app.get("/users/{user_id}")
async def get_user(user_id: int):
    time.sleep(0.1)
    return requests.get(f"https://api.example.com/users/{user_id}", timeout=5).json()
"#;

#[test]
fn text_output_shows_the_line_and_underlines_the_call() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "app/main.py", ROUTE);
    let out = loopsafe(dir.path(), &["check", "app"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    insta::assert_snapshot!(stdout(&out));
}

#[test]
fn json_output_is_the_documented_contract() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "app/main.py", ROUTE);
    let out = loopsafe(dir.path(), &["check", "app", "--output-format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let items = v.as_array().expect("a JSON array");
    assert_eq!(items.len(), 2);
    let http = items.iter().find(|i| i["rule"] == "blocking-http").expect("an http finding");
    for key in [
        "code",
        "rule",
        "severity",
        "message",
        "path",
        "line",
        "column",
        "end_line",
        "end_column",
        "callee",
        "chain",
        "fixes",
    ] {
        assert!(http.get(key).is_some(), "missing `{key}` in {http}");
    }
    assert_eq!(http["code"], "LS101");
    assert_eq!(http["path"], "app/main.py");
    assert_eq!(http["line"], 12);
    assert_eq!(http["column"], 12);
    assert_eq!(http["end_column"], 24);
    assert_eq!(http["callee"], "requests.get");
    assert_eq!(http["severity"], "critical");
    assert_eq!(http["route"], "GET /users/{user_id}");
    assert_eq!(
        http["chain"],
        serde_json::json!([{"path": "app/main.py", "line": 12, "column": 12, "name": "requests.get"}])
    );
    // Fixes: safest first, each with its edits in the same 1-based lines and character columns.
    let first = &http["fixes"][0];
    assert_eq!(first["title"], "Offload `requests.get` to a thread with `run_in_threadpool`");
    assert_eq!(first["applicability"], "safe");
    assert_eq!(first["edits"].as_array().map(Vec::len), Some(2), "the import and the call: {first}");
}

#[test]
fn sarif_and_github_formats() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "app/main.py", ROUTE);
    let out = loopsafe(dir.path(), &["check", "app", "--output-format", "sarif"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "loopsafe");
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    let r = &results[0];
    assert_eq!(r["ruleId"], "LS102");
    let rule_index = r["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(run["tool"]["driver"]["rules"][rule_index]["id"], "LS102");
    assert_eq!(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "app/main.py");
    assert_eq!(r["locations"][0]["physicalLocation"]["region"]["startLine"], 11);
    // One severity vocabulary: SARIF's own `level` scale, and the tier in the words of every other output.
    assert_eq!(r["level"], "error");
    assert_eq!(r["properties"]["severity"], "critical");
    let json = loopsafe(dir.path(), &["check", "app", "--output-format", "json"]);
    let findings: serde_json::Value = serde_json::from_slice(&json.stdout).expect("valid JSON");
    assert_eq!(findings[0]["severity"], "critical");
    let text = stdout(&loopsafe(dir.path(), &["check", "app"]));
    assert!(text.contains("(2 critical)"), "{text}");

    let out = loopsafe(dir.path(), &["check", "app", "--output-format", "github"]);
    let text = stdout(&out);
    let first = text.lines().next().unwrap();
    assert!(first.starts_with("::error title=loopsafe (LS102) critical,file=app/main.py,line=11,col=5,endLine=11,endColumn=15::LS102 [blocking-sleep]"), "{first}");
}

#[test]
fn exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "clean.py", "import asyncio\n\nasync def f():\n    await asyncio.sleep(1)\n");
    write(dir.path(), "dirty.py", "import time\n\nasync def f():\n    time.sleep(1)\n");
    let out = loopsafe(dir.path(), &["check", "clean.py"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("All checks passed (1 file)."));
    assert_eq!(loopsafe(dir.path(), &["check", "dirty.py"]).status.code(), Some(1));
    assert_eq!(loopsafe(dir.path(), &["check", "dirty.py", "--exit-zero"]).status.code(), Some(0));
    let missing = loopsafe(dir.path(), &["check", "nope.py"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("nope.py: no such file or directory"), "{}", stderr(&missing));
    assert_eq!(loopsafe(dir.path(), &["check", "--bogus"]).status.code(), Some(2));
    assert_eq!(loopsafe(dir.path(), &["check", "--select", "no-such-rule", "."]).status.code(), Some(2));
}

#[test]
fn select_ignore_and_noqa() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.py",
        "import time, requests\n\nasync def f():\n    time.sleep(1)\n    requests.get('u')\n    requests.get('v')  # noqa: ASYNC210\n    time.sleep(2)  # noqa\n",
    );
    let json = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["check", "a.py", "--output-format", "json"];
        all.extend_from_slice(args);
        let out = loopsafe(dir.path(), &all);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_array().unwrap().iter().map(|i| format!("{}:{}", i["line"], i["code"].as_str().unwrap())).collect()
    };
    assert_eq!(json(&[]), ["4:LS102", "5:LS101"]);
    assert_eq!(json(&["--select", "blocking-http"]), ["5:LS101"]);
    assert_eq!(json(&["--ignore", "LS1"]), Vec::<String>::new());
    assert_eq!(json(&["--select", "LS1", "--ignore", "LS102"]), ["5:LS101"]);
}

#[test]
fn configuration_from_pyproject() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "pyproject.toml",
        "[project]\nname = \"x\"\n\n[tool.loopsafe]\nignore = [\"blocking-sleep\"]\nexclude = [\"legacy\"]\nseverity = { blocking-http = \"warning\" }\nextend-blocking-calls = { \"acme.client.fetch\" = \"blocking-custom\", \"acme.slow\" = { rule = \"blocking-http\", message = \"`{callee}` calls the slow API\" } }\n",
    );
    write(
        dir.path(),
        "src/a.py",
        "import time, requests\nimport acme\nfrom acme.client import fetch\n\nasync def f():\n    time.sleep(1)\n    requests.get('u')\n    fetch()\n    acme.slow()\n",
    );
    write(dir.path(), "legacy/old.py", "import time\n\nasync def f():\n    time.sleep(1)\n");
    let out = loopsafe(dir.path(), &["check", "--output-format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            format!(
                "{}:{}:{}:{}",
                i["path"].as_str().unwrap(),
                i["line"],
                i["code"].as_str().unwrap(),
                i["severity"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(got, ["src/a.py:7:LS101:warning", "src/a.py:8:LS199:critical", "src/a.py:9:LS101:warning"]);
    let msg = v.as_array().unwrap()[2]["message"].as_str().unwrap().to_string();
    assert_eq!(msg, "`acme.slow` calls the slow API");
}

#[test]
fn bad_configuration_names_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.py", "x = 1\n");
    for (cfg, expect) in [
        ("[tool.loopsafe]\nselect = \"blocking-http\"\n", "[tool.loopsafe] `select`: expected a list of strings"),
        ("[tool.loopsafe]\nselect = [\"blocking-htp\"]\n", "unknown rule selector `blocking-htp`"),
        ("[tool.loopsafe]\nseverity = { blocking-http = \"loud\" }\n", "`severity`: `blocking-http`: expected one of"),
        ("[tool.loopsafe]\nexclud = []\n", "unknown key `exclud`"),
        (
            "[tool.loopsafe]\nextend-blocking-calls = { \"bad name\" = \"blocking-custom\" }\n",
            "`bad name` is not a qualified name",
        ),
        ("[tool.loopsafe\n", "invalid TOML"),
    ] {
        write(dir.path(), "pyproject.toml", cfg);
        let out = loopsafe(dir.path(), &["check", "a.py"]);
        assert_eq!(out.status.code(), Some(2), "{cfg}");
        let err = stderr(&out);
        assert!(err.contains("pyproject.toml"), "{err}");
        assert!(err.contains(expect), "expected `{expect}` in: {err}");
    }
}

#[test]
fn undecodable_files_are_skipped_with_a_warning_and_the_rest_checked() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "latin1.py", b"# caf\xe9\nimport time\nasync def f():\n    time.sleep(1)\n");
    write(dir.path(), "binary.py", b"\x00\x01\x02import time\n");
    write(dir.path(), "good.py", "import time\nasync def f():\n    time.sleep(1)\n");
    let out = loopsafe(dir.path(), &["check", ".", "--output-format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("latin1.py: skipped: not valid UTF-8"), "{err}");
    assert!(err.contains("binary.py: skipped: binary file"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
}

#[test]
fn bom_crlf_and_wide_characters_give_correct_positions() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.py", "\u{feff}import time\r\n\r\nasync def f():\r\n    x = \"日本😀\"; time.sleep(1)\r\n");
    let out = loopsafe(dir.path(), &["check", "a.py", "--output-format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = &v[0];
    assert_eq!((f["line"].as_u64(), f["column"].as_u64()), (Some(4), Some(16)), "{f}");
    assert_eq!(f["end_column"].as_u64(), Some(26));
}

#[test]
fn gitignored_and_default_excluded_directories_are_not_walked() {
    let dir = tempfile::tempdir().unwrap();
    let bad = "import time\nasync def f():\n    time.sleep(1)\n";
    write(dir.path(), ".gitignore", "generated/\n");
    write(dir.path(), "generated/a.py", bad);
    write(dir.path(), ".venv/lib/b.py", bad);
    write(dir.path(), "node_modules/c.py", bad);
    write(dir.path(), "src/ok.py", "x = 1\n");
    let out = loopsafe(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    // A file named explicitly is always checked.
    assert_eq!(loopsafe(dir.path(), &["check", "generated/a.py"]).status.code(), Some(1));
}

#[test]
fn pathological_input_finishes_without_crashing() {
    let dir = tempfile::tempdir().unwrap();
    // 10 000 nested parentheses, and 10 000 nested blocks.
    let parens =
        format!("import time\nasync def f():\n    x = {}time.sleep(1){}\n", "(".repeat(10_000), ")".repeat(10_000));
    write(dir.path(), "parens.py", &parens);
    let mut blocks = String::from("import time\nasync def f():\n");
    for depth in 1..=10_000 {
        blocks.push_str(&" ".repeat(depth));
        blocks.push_str("if x:\n");
    }
    blocks.push_str(&" ".repeat(10_001));
    blocks.push_str("time.sleep(1)\n");
    write(dir.path(), "blocks.py", &blocks);
    // A 1 MB line and a 20 MB file.
    write(
        dir.path(),
        "longline.py",
        format!("import time\nasync def f():\n    x = [{}]; time.sleep(1)\n", "1, ".repeat(350_000)),
    );
    let chunk = "async def handler_{i}(request):\n    data = await request.json()\n    return {\"ok\": data}\n\n";
    let mut big = String::from("import time\n");
    let mut i = 0;
    while big.len() < 20_000_000 {
        big.push_str(&chunk.replace("{i}", &i.to_string()));
        i += 1;
    }
    big.push_str("async def last():\n    time.sleep(1)\n");
    write(dir.path(), "big.py", &big);
    // Attribute chains and aliases deeper than resolution follows.
    write(dir.path(), "chain.py", format!("import time\nasync def f():\n    a{}.b()\n", ".x".repeat(5_000)));
    let out = loopsafe(dir.path(), &["check", ".", "--output-format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let paths: Vec<&str> = v.as_array().unwrap().iter().map(|i| i["path"].as_str().unwrap()).collect();
    for p in ["big.py", "longline.py", "parens.py"] {
        assert!(paths.contains(&p), "{p} not reported: {paths:?}");
    }
}

#[test]
fn syntax_errors_still_report_what_parses() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "broken.py",
        "import time\n\nasync def f():\n    time.sleep(1)\n\ndef g(:\n    pass\n\nasync def h():\n    time.sleep(2)\n    x = 1 +\n    time.sleep(3)\n\nasync def k():\n    time.sleep(4)\n",
    );
    let out = loopsafe(dir.path(), &["check", "broken.py", "--output-format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let lines: Vec<u64> = v.as_array().unwrap().iter().map(|i| i["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [4, 10, 12, 15]);
}

#[test]
fn rule_command_prints_docs() {
    let dir = tempfile::tempdir().unwrap();
    let out = loopsafe(dir.path(), &["rule", "LS101"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).starts_with("# blocking-http (LS101)"));
    let all = loopsafe(dir.path(), &["rule", "--all"]);
    assert!(stdout(&all).contains("LS201   async-without-await"));
    assert_eq!(loopsafe(dir.path(), &["rule", "nope"]).status.code(), Some(2));
}

#[test]
fn the_bundled_example_app() {
    // The README's run command: what a new user sees first.
    let out = loopsafe(&common::repo_root(), &["check", "examples/fastapi_app"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    insta::assert_snapshot!(stdout(&out));
}

fn two_module_app(dir: &Path) {
    write(dir, "pyproject.toml", "[project]\nname = \"shop\"\n");
    write(dir, "shop/__init__.py", "");
    write(
        dir,
        "shop/helpers.py",
        "import time\n\n\ndef pause():\n    time.sleep(1)\n\n\ndef wait_a_bit():\n    pause()\n",
    );
    write(
        dir,
        "shop/api.py",
        "from fastapi import FastAPI\n\nfrom .helpers import wait_a_bit\n\napp = FastAPI()\n\n\n@app.get(\"/slow\")\nasync def slow():\n    wait_a_bit()\n    return {}\n",
    );
}

fn findings_of(out: &Output) -> Vec<serde_json::Value> {
    serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("JSON").as_array().unwrap().clone()
}

#[test]
fn calls_are_followed_across_modules_unless_no_follow() {
    let dir = tempfile::tempdir().unwrap();
    two_module_app(dir.path());
    let out = loopsafe(dir.path(), &["check", "shop/api.py", "--output-format", "json", "--no-cache"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!dir.path().join(".loopsafe_cache").exists(), "--no-cache writes no cache");
    let items = findings_of(&out);
    assert_eq!(items.len(), 1, "{items:?}");
    let f = &items[0];
    assert_eq!(
        (f["path"].as_str(), f["line"].as_u64(), f["column"].as_u64()),
        (Some("shop/api.py"), Some(10), Some(5))
    );
    assert_eq!(f["rule"], "blocking-sleep");
    assert_eq!(f["callee"], "time.sleep");
    assert_eq!(f["route"], "GET /slow");
    let hops: Vec<String> = f["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| format!("{}@{}:{}", h["name"].as_str().unwrap(), h["path"].as_str().unwrap(), h["line"]))
        .collect();
    assert_eq!(
        hops,
        ["helpers.wait_a_bit@shop/api.py:10", "helpers.pause@shop/helpers.py:9", "time.sleep@shop/helpers.py:5"]
    );

    // Only the given files are reported: the helper's module has no finding of its own.
    let out = loopsafe(dir.path(), &["check", "shop/helpers.py", "--output-format", "json", "--no-cache"]);
    assert_eq!(out.status.code(), Some(0));

    let out = loopsafe(dir.path(), &["check", "shop", "--no-follow", "--output-format", "json", "--no-cache"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // SARIF carries the chain as a code flow.
    let out = loopsafe(dir.path(), &["check", "shop", "--output-format", "sarif", "--no-cache"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let flow = &v["runs"][0]["results"][0]["codeFlows"][0]["threadFlows"][0]["locations"];
    assert_eq!(flow.as_array().map(Vec::len), Some(3));
    assert_eq!(flow[2]["location"]["physicalLocation"]["artifactLocation"]["uri"], "shop/helpers.py");
}

#[test]
fn the_cache_is_reused_and_invalidated_by_content() {
    let dir = tempfile::tempdir().unwrap();
    two_module_app(dir.path());
    let check = || findings_of(&loopsafe(dir.path(), &["check", "shop", "--output-format", "json"]));
    assert_eq!(check().len(), 1);
    let cache = dir.path().join(".loopsafe_cache");
    assert!(cache.join(".gitignore").is_file(), "the cache ignores itself");
    assert!(cache.join("CACHEDIR.TAG").is_file());
    assert_eq!(check().len(), 1, "a cached run gives the same findings");
    // The helper stops blocking: the route's finding goes away although api.py did not change.
    write(
        dir.path(),
        "shop/helpers.py",
        "import asyncio\n\n\ndef pause():\n    pass\n\n\ndef wait_a_bit():\n    pause()\n",
    );
    assert_eq!(check().len(), 0);
    // A corrupt cache is ignored.
    for entry in std::fs::read_dir(&cache).unwrap().flatten().filter(|e| e.path().is_dir()) {
        for f in std::fs::read_dir(entry.path()).unwrap().flatten() {
            std::fs::write(f.path(), b"garbage").unwrap();
        }
    }
    two_module_app(dir.path());
    assert_eq!(check().len(), 1);
    // Settings are part of the cache key.
    let ignored =
        findings_of(&loopsafe(dir.path(), &["check", "shop", "--output-format", "json", "--ignore", "LS102"]));
    assert!(ignored.is_empty());
}

/// The binary's language server over real stdio: the client's `trace` setting raises the log level on
/// stderr (`initialize` and `$/setTrace`), `off` brings back `--log-level`, and stdout carries only the
/// protocol.
#[test]
fn server_trace_setting_controls_the_logs() {
    use std::io::{BufReader, Read, Write};
    let frame = |v: serde_json::Value| {
        let body = v.to_string();
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_loopsafe"))
        .args(["server", "--log-level", "error"])
        .env_remove("LOOPSAFE_LOG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    // Reads messages until the response with this id, keeping the log messages (once a client is
    // connected, logs go to it as window/logMessage, with their level as the type, not to stderr).
    let mut logs = Vec::new();
    let mut wait_for = |id: u64, logs: &mut Vec<serde_json::Value>| loop {
        let (_, msg) = read_message(&mut stdout);
        if msg["method"] == "window/logMessage" {
            logs.push(msg["params"].clone());
        }
        if msg["id"] == id && msg.get("method").is_none() {
            return msg;
        }
    };
    let mut send = |v: serde_json::Value| stdin.write_all(frame(v).as_bytes()).unwrap();
    send(serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"capabilities": {}, "trace": "messages"}}));
    assert!(wait_for(1, &mut logs)["result"]["capabilities"].is_object());
    send(serde_json::json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));
    for value in ["verbose", "off", "messages"] {
        send(serde_json::json!({"jsonrpc": "2.0", "method": "$/setTrace", "params": {"value": value}}));
    }
    send(serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}));
    assert!(wait_for(2, &mut logs)["error"].is_null());
    send(serde_json::json!({"jsonrpc": "2.0", "method": "exit"}));
    drop(stdin); // the server ends at `exit` and the end of its input
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    // Log messages queued before `exit` may follow the response to `shutdown`.
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    for body in rest.split("Content-Length: ").filter_map(|f| f.split_once("\r\n\r\n")).map(|(_, b)| b) {
        if let Ok(msg) = serde_json::from_str::<serde_json::Value>(body)
            && msg["method"] == "window/logMessage"
        {
            logs.push(msg["params"].clone());
        }
    }
    assert!(child.wait().unwrap().success(), "{err}");
    // Shown: raised by `initialize` (on stderr: the client is not initialized yet), then by `$/setTrace`
    // (sent to the client as information, type 3, not to stderr); hidden: what is logged after `off`.
    assert_eq!(err.matches("trace set to Messages").count(), 1, "{err}");
    let texts: Vec<&str> = logs.iter().filter_map(|l| l["message"].as_str()).collect();
    assert_eq!(texts.iter().filter(|t| t.contains("trace set to Messages")).count(), 1, "{logs:?}");
    assert!(texts.iter().any(|t| t.contains("trace set to Verbose")), "{logs:?}");
    assert!(!texts.iter().any(|t| t.contains("trace set to Off")) && !err.contains("trace set to Off"), "{logs:?}");
    assert!(
        logs.iter().filter(|l| l["message"].as_str().is_some_and(|t| t.contains("trace set"))).all(|l| l["type"] == 3)
    );
    assert!(!err.contains("trace set to Verbose"), "{err}");
}

/// The binary's language server over real stdio, as editors spawn it: pipes (Helix) and a socket pair
/// (VS Code and Neovim, through libuv). Both are polled without blocking (`lsp::stdio`), so messages
/// larger than a pipe's buffer must arrive whole both ways: a 1 MB `didOpen` in one write, then
/// diagnostics of more than 64 kB, sent while the client is not yet reading.
#[test]
#[cfg(unix)]
fn server_stdio_carries_large_messages_over_pipes_and_sockets() {
    use std::io::{BufReader, Read, Write};
    use std::process::Stdio;
    let mut text = String::from("import time\n\n\nasync def route():\n");
    let calls = 9_000;
    for i in 0..calls {
        text.push_str(&format!("    time.sleep({i})  # {}\n", "x".repeat(120)));
    }
    assert!(text.len() > 1 << 20);
    let frame = |v: serde_json::Value| {
        let body = v.to_string();
        format!("Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
    };
    let dir = tempfile::tempdir().unwrap();
    let session = |stdin: Stdio, stdout: Stdio, mut input: Box<dyn Write>, output: Box<dyn Read>| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_loopsafe"))
            .args(["server"])
            .env("LOOPSAFE_LOG", "warn,loopsafe::lsp::stdio=debug")
            .current_dir(dir.path())
            .stdin(stdin)
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let uri = "file:///nowhere/big.py";
        let mut output = BufReader::new(output);
        // Reads messages until one that `stop` accepts.
        let mut read_until = |stop: &dyn Fn(&serde_json::Value) -> bool| loop {
            let (len, msg) = read_message(&mut output);
            if stop(&msg) {
                return (len, msg);
            }
        };
        let mut send = |msgs: &[serde_json::Value]| {
            let bytes: Vec<u8> = msgs.iter().flat_map(|m| frame(m.clone())).collect();
            input.write_all(&bytes).unwrap();
            input.flush().unwrap();
        };
        // A hung session fails the test (with the server's log) instead of hanging the test run.
        let (done, watched) = std::sync::mpsc::channel::<()>();
        let pid = child.id().to_string();
        let watchdog = std::thread::spawn(move || {
            let hung = watched.recv_timeout(std::time::Duration::from_secs(120)).is_err();
            if hung {
                let _ = Command::new("kill").args(["-9", &pid]).status();
            }
            hung
        });
        let mut stderr = child.stderr.take().unwrap();
        let log = std::thread::spawn(move || {
            let mut err = String::new();
            let _ = stderr.read_to_string(&mut err);
            err
        });
        // As the specification requires, nothing is sent before the response to `initialize`: tower-lsp
        // drops notifications that arrive before it (an earlier version of this test sent everything at
        // once and hung about once in ten runs on a loaded machine, when the `didOpen` was dropped).
        send(&[serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}})]);
        read_until(&|m| m["id"] == 1);
        send(&[
            serde_json::json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}),
            serde_json::json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument":
                {"uri": uri, "languageId": "python", "version": 1, "text": text}}}),
        ]);
        let (len, msg) = read_until(&|m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri);
        let count = msg["params"]["diagnostics"].as_array().unwrap().len();
        send(&[serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})]);
        let (_, reply) = read_until(&|m| m["id"] == 2);
        assert!(reply["error"].is_null(), "{reply}");
        send(&[serde_json::json!({"jsonrpc": "2.0", "method": "exit"})]);
        drop(input);
        let status = child.wait().unwrap();
        let _ = done.send(());
        let err = log.join().unwrap();
        assert!(!watchdog.join().unwrap(), "the session hung and was killed after 120 s; its log:\n{err}");
        assert!(status.success(), "{err}");
        assert!(err.contains("stdin polled, stdout polled"), "{err}");
        assert!(len > 1 << 16, "{len} bytes");
        assert_eq!(count, calls);
    };

    // Pipes.
    let (stdin, to_server) = std::io::pipe().unwrap();
    let (from_server, stdout) = std::io::pipe().unwrap();
    session(Stdio::from(stdin), Stdio::from(stdout), Box::new(to_server), Box::new(from_server));

    // A socket pair for each, as libuv makes them.
    let (to_server, stdin) = std::os::unix::net::UnixStream::pair().unwrap();
    let (from_server, stdout) = std::os::unix::net::UnixStream::pair().unwrap();
    session(
        Stdio::from(std::os::fd::OwnedFd::from(stdin)),
        Stdio::from(std::os::fd::OwnedFd::from(stdout)),
        Box::new(to_server),
        Box::new(from_server),
    );
}

/// Reads one message of the protocol: its body's length and its JSON. stdout carries nothing else.
fn read_message(from: &mut impl std::io::BufRead) -> (usize, serde_json::Value) {
    let mut len = 0;
    loop {
        let mut line = String::new();
        assert!(from.read_line(&mut line).unwrap() > 0, "the server closed stdout");
        if line.trim().is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').expect("a header line");
        assert!(name.eq_ignore_ascii_case("content-length"), "stdout carries only the protocol: {line}");
        len = value.trim().parse().unwrap();
    }
    let mut body = vec![0; len];
    from.read_exact(&mut body).unwrap();
    (len, serde_json::from_slice(&body).unwrap())
}

/// One coroutine whose `requests.Session` block makes `n` requests: `n` findings, and one httpx fix (the
/// rewrite of the whole block) that fixes them all.
fn session_block(n: usize) -> String {
    let mut s = String::from("import requests\n\n\nasync def fetch(urls):\n    with requests.Session() as s:\n");
    for i in 0..n {
        s.push_str(&format!("        s.get(urls[{i}])\n"));
    }
    s
}

/// A fix shared by many findings is listed once, on the first of them; the others name it (`same_as`).
/// Each finding once carried the block's whole rewrite, so the output grew with the square of the calls
/// (256 MB for 1,000). Bytes are counted, not time (issue 18).
#[test]
fn a_fix_shared_by_many_findings_is_listed_once_in_json() {
    let json_of = |n: usize| {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "pyproject.toml", "[project]\nname = \"s\"\n");
        write(dir.path(), "a.py", session_block(n));
        let out = loopsafe(dir.path(), &["check", "a.py", "--output-format", "json", "--no-cache"]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        (out.stdout.len(), findings_of(&out))
    };
    let httpx = |item: &serde_json::Value| {
        item["fixes"].as_array().unwrap().iter().find(|f| f["kind"] == "httpx").cloned().expect("an httpx fix")
    };
    let (small, _) = json_of(20);
    let (large, items) = json_of(400);
    assert_eq!(items.len(), 400);
    let first = httpx(&items[0]);
    let edits = first["edits"].as_array().unwrap();
    // Every call, `async `, the client and its import.
    assert_eq!(edits.len(), 403, "{first}");
    assert!(first.get("same_as").is_none(), "{first}");
    for item in &items[1..] {
        let f = httpx(item);
        assert_eq!(f["edits"], serde_json::json!([]), "{f}");
        assert_eq!(f["same_as"], items[0]["fingerprint"], "{f}");
        assert_eq!((&f["title"], &f["applicability"]), (&first["title"], &first["applicability"]));
    }
    // The block moved whole to a thread fixes them all too: listed once as well (it holds the block).
    let block = |item: &serde_json::Value| {
        item["fixes"].as_array().unwrap().iter().find(|f| f["kind"] == "offload-block").cloned().expect("a block fix")
    };
    assert!(!block(&items[0])["edits"].as_array().unwrap().is_empty());
    for item in &items[1..] {
        let f = block(item);
        assert_eq!(f["edits"], serde_json::json!([]), "{f}");
        assert_eq!(f["same_as"], items[0]["fingerprint"], "{f}");
    }
    // Bytes per finding stay flat: 20 times the calls, at most a quarter more per finding.
    let (per_small, per_large) = (small / 20, large / 400);
    assert!(per_large * 4 <= per_small * 5, "{per_small} bytes per finding for 20 calls, {per_large} for 400");
}

/// The text output ends with the findings grouped by root cause: the blocking call each comes down to,
/// directly or at the end of its chain, with how many call sites in coroutines reach it (most first).
#[test]
fn text_output_ends_with_the_root_causes() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "app.py",
        "import requests, time\n\n\ndef helper():\n    return requests.get(\"http://x\", timeout=5)\n\n\nasync def a():\n    helper()\n\n\nasync def b():\n    helper()\n\n\nasync def c():\n    time.sleep(1)\n",
    );
    let text = stdout(&loopsafe(dir.path(), &["check", "--no-cache", "app.py"]));
    assert!(
        text.ends_with(
            "Root causes (call sites reaching each):\n  2  requests.get\n  1  time.sleep\n\nFound 3 findings (3 critical) in 1 file.\n"
        ),
        "{text}"
    );
}

/// httpx2 keeps httpx's API (the catalog aliases it onto httpx): a file that imports httpx2 reads its
/// own module in the message and the advice, also on a chain's blocking call in a helper module; the
/// root causes keep the canonical name. A file that imports httpx reads httpx.
#[test]
fn messages_name_the_module_the_file_imports() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "helper.py", "import httpx2\n\n\ndef fetch(url):\n    return httpx2.get(url).text\n");
    write(
        dir.path(),
        "app.py",
        "import httpx2 as hx\nfrom helper import fetch\n\n\nasync def a():\n    c = hx.Client()\n    return c.get(\"y\"), fetch(\"u\")\n",
    );
    write(dir.path(), "plain.py", "import httpx\n\n\nasync def b():\n    return httpx.get(\"u\")\n");
    let text = stdout(&loopsafe(dir.path(), &["check", "--no-cache", "."]));
    assert!(
        text.contains(
            "LS101 [blocking-http] `httpx2.Client.get` sends a request on a synchronous `httpx2.Client` and waits"
        ),
        "{text}"
    );
    assert!(text.contains("= instead: `httpx2.AsyncClient` with the same arguments"), "{text}");
    assert!(text.contains("blocks the event loop 1 call down: `httpx2.get` is the synchronous httpx API"), "{text}");
    assert!(text.contains("LS101 [blocking-http] `httpx.get` is the synchronous httpx API"), "{text}");
    assert!(text.contains("= instead: `httpx.AsyncClient`: `async with httpx.AsyncClient()"), "{text}");
    assert!(text.contains("  2  httpx.get\n"), "{text}");
}
