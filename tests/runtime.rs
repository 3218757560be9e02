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

use std::path::PathBuf;

use common::{loopsafe, repo_root, stderr, stdout};
use serde_json::Value;

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
    let confirmed: Vec<&Value> = results.iter().filter(|r| r.get("properties").is_some()).collect();
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
