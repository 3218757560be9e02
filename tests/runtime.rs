//! `loopsafe check --runtime FILE` (issue 17): a recording made by the runtime recorder confirms the
//! static findings it hit and adds the blocking calls static analysis missed.
//!
//! tests/runtime/project is a small app; tests/runtime/recording.json was recorded by
//! `loopsafe.Recorder` (python/loopsafe) while a script awaited its coroutines from a copy at
//! /tmp/runtime/ci/build (another checkout directory, as in CI), plus one event made only of standard
//! library frames. Static analysis finds `time.sleep` in `report` (recorded: confirmed) and `open` in
//! `healthcheck` (never recorded: unchanged); it cannot see `export`'s call through
//! `globals()[name]` to a helper that sleeps (recorded: a `blocking-seen-at-runtime` finding), nor
//! `ignored`'s, which a `# noqa: LS190` suppresses.

mod common;
mod lsp_client;

use std::path::{Path, PathBuf};

use common::{loopsafe, repo_root, stderr, stdout, write};
use lsp_client::{Client, codes, uri};
use serde_json::{Value, json};

fn project() -> PathBuf {
    repo_root().join("tests/runtime/project")
}

fn recording() -> String {
    repo_root().join("tests/runtime/recording.json").to_string_lossy().into_owned()
}

fn json_findings(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["check", "--no-cache", "--output-format", "json", "."];
    all.extend_from_slice(args);
    let out = loopsafe(&project(), &all);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    v.as_array().expect("an array").clone()
}

fn find<'a>(items: &'a [Value], rule: &str, line: u64) -> &'a Value {
    items
        .iter()
        .find(|i| i["rule"] == rule && i["line"] == line)
        .unwrap_or_else(|| panic!("no {rule} at line {line} in {items:#?}"))
}

#[test]
fn a_recording_confirms_findings_and_adds_what_static_analysis_missed() {
    let rec = recording();
    let items = json_findings(&["--runtime", &rec]);
    assert_eq!(items.len(), 3, "{items:#?}");

    // Confirmed: the message says so, `runtime` holds the figures.
    let sleep = find(&items, "blocking-sleep", 7);
    assert_eq!(sleep["runtime"]["count"], 3);
    let max = sleep["runtime"]["max_ms"].as_f64().unwrap();
    assert!((500.0..600.0).contains(&max), "{sleep}");
    let message = sleep["message"].as_str().unwrap();
    assert!(message.ends_with("; confirmed at runtime: seen 3 times, up to 504 ms"), "{message}");

    // Never recorded: as it was (no `runtime` field).
    let open = find(&items, "blocking-file", 16);
    assert!(open.get("runtime").is_none(), "{open}");
    assert!(!open["message"].as_str().unwrap().contains("runtime"));

    // Missed statically: a finding at the coroutine's line, with the recorded stack as its chain.
    let seen = find(&items, "blocking-seen-at-runtime", 12);
    assert_eq!(seen["code"], "LS190");
    assert_eq!(seen["severity"], "critical");
    assert_eq!(seen["path"], "app/main.py");
    assert_eq!((seen["column"].as_u64(), seen["end_column"].as_u64()), (Some(5), Some(34)));
    assert_eq!(seen["callee"], "time.sleep");
    assert_eq!(seen["function"], "export");
    assert_eq!(seen["runtime"]["count"], 2);
    assert_eq!(seen["fixes"], serde_json::json!([]));
    let chain: Vec<String> = seen["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            format!("{}:{}:{} {}", h["path"].as_str().unwrap(), h["line"], h["column"], h["name"].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        chain,
        [
            "app/main.py:12:5 app.helpers.dispatch",
            "app/helpers.py:11:1 app.helpers._slow_render",
            "app/helpers.py:5:1 time.sleep"
        ]
    );
    let message = seen["message"].as_str().unwrap();
    assert!(
        message.starts_with("`time.sleep` blocked the event loop 3 calls down at runtime (seen twice"),
        "{message}"
    );
    assert!(!seen["fingerprint"].as_str().unwrap().is_empty());
}

#[test]
fn without_a_recording_nothing_changes() {
    let items = json_findings(&[]);
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|i| i.get("runtime").is_none() && i["rule"] != "blocking-seen-at-runtime"));
}

#[test]
fn confirmed_only_keeps_what_the_recording_proves() {
    let rec = recording();
    let items = json_findings(&["--runtime", &rec, "--confirmed-only"]);
    let rules: Vec<&str> = items.iter().map(|i| i["rule"].as_str().unwrap()).collect();
    assert_eq!(rules, ["blocking-sleep", "blocking-seen-at-runtime"]);
    // --confirmed-only needs --runtime.
    let out = loopsafe(&project(), &["check", "--no-cache", ".", "--confirmed-only"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn the_new_rule_can_be_turned_off_and_confirmations_stay() {
    let rec = recording();
    let items = json_findings(&["--runtime", &rec, "--ignore", "blocking-seen-at-runtime"]);
    assert_eq!(items.len(), 2);
    assert_eq!(find(&items, "blocking-sleep", 7)["runtime"]["count"], 3);
}

#[test]
fn text_and_sarif_show_the_confirmation() {
    let rec = recording();
    let out = loopsafe(&project(), &["check", "--no-cache", ".", "--runtime", &rec]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("app/main.py:7:5: LS102 [blocking-sleep] `time.sleep` stops the whole event loop while it sleeps; confirmed at runtime: seen 3 times, up to 504 ms"), "{text}");
    assert!(text.contains("app/main.py:12:5: LS190 [blocking-seen-at-runtime]"), "{text}");
    assert!(text.contains("2: time.sleep at app/helpers.py:5:1"), "{text}");

    let out = loopsafe(&project(), &["check", "--no-cache", ".", "--runtime", &rec, "--output-format", "sarif"]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("SARIF is JSON");
    let results = v["runs"][0]["results"].as_array().unwrap();
    let confirmed: Vec<&Value> = results.iter().filter(|r| r["properties"].get("runtime").is_some()).collect();
    assert_eq!(confirmed.len(), 2, "{results:#?}");
    assert!(confirmed.iter().any(|r| r["ruleId"] == "LS102" && r["properties"]["runtime"]["count"] == 3));
    let rules = v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules.iter().any(|r| r["id"] == "LS190" && r["name"] == "blocking-seen-at-runtime"));
}

#[test]
fn a_bad_recording_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("missing.json", None, "cannot read"),
        ("garbage.json", Some("{ not json"), "not a loopsafe recording"),
        ("future.json", Some(r#"{"version": 2, "events": []}"#), "recording format version 2"),
    ];
    for (name, content, expected) in cases {
        let path = dir.path().join(name);
        if let Some(c) = content {
            std::fs::write(&path, c).unwrap();
        }
        let p = path.to_string_lossy().into_owned();
        let out = loopsafe(&project(), &["check", "--no-cache", ".", "--runtime", &p]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(&p) && err.contains(expected), "{name}: {err}");
    }
}

/// The rule's documented Example is what static analysis cannot see (its whole point).
#[test]
fn the_rule_example_is_not_found_statically() {
    let doc = loopsafe::rules::Rule::BlockingSeenAtRuntime.info().doc;
    let start = doc.find("## Example\n```python\n").unwrap() + "## Example\n```python\n".len();
    let code = &doc[start..start + doc[start..].find("```").unwrap()];
    assert!(code.contains("getattr(time"), "{code}");
    assert_eq!(common::findings(code), Vec::new());
}

/// The recorder's own unit tests (python/tests, standard library only), with the Python on PATH.
#[test]
fn the_recorder_unit_tests_pass() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
    let out = std::process::Command::new(&python)
        .args(["-m", "unittest", "discover", "-s", "python/tests"])
        .current_dir(repo_root())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("{python} not found: the recorder's tests need Python 3.8+ (set PYTHON to another)")
        }
        Err(e) => panic!("{python}: {e}"),
    };
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
}

/// A copy of tests/runtime/project in a temporary directory, with the recording beside it as
/// `loopsafe-runtime.json` and `extra` appended to its pyproject.toml.
fn project_copy(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for rel in ["app/__init__.py", "app/main.py", "app/helpers.py"] {
        write(dir.path(), rel, std::fs::read(project().join(rel)).unwrap());
    }
    let pyproject = std::fs::read_to_string(project().join("pyproject.toml")).unwrap();
    write(dir.path(), "pyproject.toml", format!("{pyproject}{extra}"));
    write(dir.path(), "loopsafe-runtime.json", std::fs::read(recording()).unwrap());
    dir
}

/// `--add-noqa` with `--runtime`: the directive goes on each merged finding's line, the calls seen
/// only at runtime included (on their coroutine frame's line, where the directive then suppresses
/// them); a second run adds nothing.
#[test]
fn add_noqa_with_a_recording_covers_the_calls_seen_only_at_runtime() {
    let dir = project_copy("");
    let rec = dir.path().join("loopsafe-runtime.json").to_string_lossy().into_owned();
    let out = loopsafe(dir.path(), &["check", "--no-cache", ".", "--runtime", &rec, "--add-noqa"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "Added 3 noqa directives.\n");
    let main = std::fs::read_to_string(dir.path().join("app/main.py")).unwrap();
    assert!(main.contains("    time.sleep(0.5)  # noqa: LS102\n"), "{main}");
    assert!(main.contains("    return helpers.dispatch(kind)  # noqa: LS190\n"), "{main}");
    assert!(main.contains("    open(\"/tmp/loopsafe-fixture\").close()  # noqa: LS104\n"), "{main}");
    let out = loopsafe(dir.path(), &["check", "--no-cache", ".", "--runtime", &rec]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let out = loopsafe(dir.path(), &["check", "--no-cache", ".", "--runtime", &rec, "--add-noqa"]);
    assert_eq!(stderr(&out), "");
}

/// `--fix` with `--runtime`: the static findings are fixed; the recorded calls in the files it
/// changed are left out (their lines are stale), with a warning, rather than reported as LS190.
#[test]
fn fix_with_a_recording_leaves_out_the_stale_lines_of_fixed_files() {
    let dir = project_copy("");
    let rec = dir.path().join("loopsafe-runtime.json").to_string_lossy().into_owned();
    let out = loopsafe(dir.path(), &["check", "--no-cache", ".", "--runtime", &rec, "--fix"]);
    let err = stderr(&out);
    assert!(err.contains("applied 2 fixes in 1 file"), "{err}");
    assert!(
        err.contains(
            "--runtime: 3 recorded calls in files --fix changed left out (their lines are stale: record again)"
        ),
        "{err}"
    );
    // Without it, `time.sleep` (fixed: now `await asyncio.sleep`) would be reported as a call static
    // analysis did not see, on its old line.
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(!stdout(&out).contains("LS190"), "{}", stdout(&out));
}

fn message_of<'a>(diags: &'a [Value], code: &str) -> Option<&'a str> {
    diags.iter().find(|d| d["code"] == code).and_then(|d| d["message"].as_str())
}

fn related(d: &Value) -> Vec<String> {
    d["relatedInformation"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|i| {
                    let file = i["location"]["uri"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
                    format!("{file}:{} {}", i["location"]["range"]["start"]["line"], i["message"].as_str().unwrap())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Waits for a `window/showMessage` whose text contains `needle`; other messages stay queued.
async fn shown(c: &mut Client, needle: &str) -> String {
    let mut kept = Vec::new();
    let found = loop {
        let m = match c.inbox.pop_front() {
            Some(m) => m,
            None => c.next().await,
        };
        if m["method"] == "window/showMessage" && m["params"]["message"].as_str().is_some_and(|t| t.contains(needle)) {
            break m["params"]["message"].as_str().unwrap().to_string();
        }
        kept.push(m);
    };
    c.inbox.extend(kept);
    found
}

/// The `runtime` setting in the language server: set by the client (didChangeConfiguration) over the
/// project's settings, the recording confirms the document's finding (message and related
/// information) and adds the call it saw that no finding covers, with the recorded stack; rewritten on
/// disk, the diagnostics follow; malformed, a warning is shown and the diagnostics are as without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_language_server_merges_the_recording_and_follows_its_changes() {
    let dir = project_copy("");
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let (mut c, _) = Client::start(json!({}), Some(&root)).await;
    let main = uri(&root.join("app/main.py"));
    let text = std::fs::read_to_string(root.join("app/main.py")).unwrap();
    c.open(&main, &text).await;
    let statically = ["LS102@6:4", "LS104@15:4"];
    c.diagnostics_until(&main, |d| codes(d) == statically).await;

    let setting = json!({ "settings": { "loopsafe": { "runtime": "loopsafe-runtime.json" } } });
    c.notify("workspace/didChangeConfiguration", setting).await;
    let want = ["LS102@6:4", "LS190@11:4", "LS104@15:4"];
    // The stack's frames in helpers.py are placed once the workspace index holds the file.
    let diags = c.diagnostics_until(&main, |d| codes(d) == want && related(&d[1]).len() == 3).await;
    let sleep = &diags[0];
    let message = sleep["message"].as_str().unwrap();
    assert!(message.ends_with("; confirmed at runtime: seen 3 times, up to 504 ms"), "{message}");
    assert_eq!(related(sleep), ["main.py:6 confirmed at runtime: seen 3 times, up to 504 ms"]);
    let seen = &diags[1];
    assert_eq!(seen["severity"], 1);
    let message = seen["message"].as_str().unwrap();
    assert!(message.starts_with("time.sleep blocked the event loop 3 calls down at runtime (seen twice"), "{message}");
    assert_eq!(seen["range"]["end"]["character"], 33);
    assert_eq!(
        related(seen),
        ["main.py:11 app.helpers.dispatch", "helpers.py:10 app.helpers._slow_render", "helpers.py:4 time.sleep"]
    );
    assert!(message_of(&diags, "LS104").is_some_and(|m| !m.contains("runtime")));

    // Rewritten on disk (a new run): only `export`'s call, seen five times. The client's watcher
    // reports it here (the server's own watcher may report it too).
    let rec_path = root.join("loopsafe-runtime.json");
    let mut rec: Value = serde_json::from_str(&std::fs::read_to_string(&rec_path).unwrap()).unwrap();
    let events = rec["events"].as_array_mut().unwrap();
    events.retain(|e| e["coroutine"]["function"] == "export");
    events[0]["count"] = json!(5);
    std::fs::write(&rec_path, serde_json::to_vec(&rec).unwrap()).unwrap();
    let changed = json!({ "changes": [{ "uri": uri(&rec_path).as_str(), "type": 2 }] });
    c.notify("workspace/didChangeWatchedFiles", changed).await;
    let diags = c
        .diagnostics_until(&main, |d| {
            codes(d) == want && message_of(d, "LS190").is_some_and(|m| m.contains("(seen 5 times"))
        })
        .await;
    assert!(message_of(&diags, "LS102").is_some_and(|m| !m.contains("runtime")), "{diags:#?}");

    // Malformed: a warning, and the diagnostics are the static ones (here from the server's own
    // watcher alone).
    std::fs::write(&rec_path, "{ truncated").unwrap();
    let warning = shown(&mut c, "not using the runtime recording").await;
    assert!(warning.contains("loopsafe-runtime.json") && warning.contains("not a loopsafe recording"), "{warning}");
    c.diagnostics_until(&main, |d| codes(d) == statically).await;
}

/// Set in pyproject.toml, and missing: a warning at start, no crash, the static diagnostics; the
/// file appearing later is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_recording_is_a_warning_until_it_appears() {
    let dir = project_copy("\n[tool.loopsafe]\nruntime = \"later.json\"\n");
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let (mut c, _) = Client::start(json!({}), Some(&root)).await;
    let warning = shown(&mut c, "not using the runtime recording").await;
    assert!(warning.contains("later.json") && warning.contains("cannot read"), "{warning}");
    let main = uri(&root.join("app/main.py"));
    c.open(&main, &std::fs::read_to_string(root.join("app/main.py")).unwrap()).await;
    c.diagnostics_until(&main, |d| codes(d) == ["LS102@6:4", "LS104@15:4"]).await;
    let later = Path::new("later.json");
    std::fs::copy(root.join("loopsafe-runtime.json"), root.join(later)).unwrap();
    c.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [{ "uri": uri(&root.join(later)).as_str(), "type": 1 }] }),
    )
    .await;
    c.diagnostics_until(&main, |d| codes(d) == ["LS102@6:4", "LS190@11:4", "LS104@15:4"]).await;
}
