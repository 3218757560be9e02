//! `loopsafe check --baseline`: record today's findings, then report and fail only on new ones, across
//! edits that move code around, fix a finding or add one.

mod common;
mod lsp_client;

use std::path::Path;

use common::{loopsafe, stderr, stdout, write};
use lsp_client::{Client, uri};
use serde_json::{Value, json};

const HELPERS: &str = "import time


def load():
    return slow()


def slow():
    time.sleep(2)
";

const APP: &str = "import time

from helpers import load


class Svc:
    async def get(self):
        time.sleep(1)
        time.sleep(1)
        return load()


async def unrelated():
    return 1
";

/// The file `--update-baseline` writes for `APP` and `HELPERS`.
const BASELINE: &str = r#"{
  "version": 1,
  "findings": [
    {
      "fingerprint": "25757d3c89ebd227:1",
      "code": "LS102",
      "rule": "blocking-sleep",
      "file": "app.py",
      "function": "Svc.get",
      "callee": "time.sleep",
      "message": "`time.sleep` stops the whole event loop while it sleeps"
    },
    {
      "fingerprint": "25757d3c89ebd227:2",
      "code": "LS102",
      "rule": "blocking-sleep",
      "file": "app.py",
      "function": "Svc.get",
      "callee": "time.sleep",
      "message": "`time.sleep` stops the whole event loop while it sleeps"
    },
    {
      "fingerprint": "f92f9cc780c22da1:1",
      "code": "LS102",
      "rule": "blocking-sleep",
      "file": "app.py",
      "function": "Svc.get",
      "callee": "time.sleep",
      "chain": [
        "helpers.load",
        "helpers.slow",
        "time.sleep"
      ],
      "message": "`helpers.load` is synchronous and blocks the event loop 2 calls down: `time.sleep` stops the whole event loop while it sleeps"
    }
  ]
}
"#;

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pyproject.toml", "[project]\nname = \"p\"\n");
    write(dir.path(), "helpers.py", HELPERS);
    write(dir.path(), "app.py", APP);
    dir
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap()
}

/// A reported finding: code, path, line, function.
type Shown = (String, String, u64, String);

fn shown(code: &str, path: &str, line: u64, function: &str) -> Shown {
    (code.to_string(), path.to_string(), line, function.to_string())
}

/// Each finding `check --output-format json` reports, with the exit status and stderr.
fn json_findings(dir: &Path, args: &[&str]) -> (Option<i32>, Vec<Shown>, String) {
    let mut all = vec!["check", "--output-format", "json"];
    all.extend_from_slice(args);
    let out = loopsafe(dir, &all);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let items = v
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["code"].as_str().unwrap().to_string(),
                i["path"].as_str().unwrap().to_string(),
                i["line"].as_u64().unwrap(),
                i["function"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    (out.status.code(), items, stderr(&out))
}

#[test]
fn update_writes_a_readable_sorted_file_and_check_then_hides_what_it_holds() {
    let dir = project();
    let out = loopsafe(dir.path(), &["check", "--baseline", "loopsafe-baseline.json", "--update-baseline"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "loopsafe: wrote 3 findings to loopsafe-baseline.json\n");
    assert_eq!(stdout(&out), "All checks passed (2 files).\n3 findings in the baseline not shown.\n");
    assert_eq!(read(dir.path(), "loopsafe-baseline.json"), BASELINE);

    let out = loopsafe(dir.path(), &["check", "--baseline", "loopsafe-baseline.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    assert_eq!(stdout(&out), "All checks passed (2 files).\n3 findings in the baseline not shown.\n");

    // Rewriting an unchanged project gives the same bytes.
    let out = loopsafe(dir.path(), &["check", "--baseline", "loopsafe-baseline.json", "--update-baseline"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(read(dir.path(), "loopsafe-baseline.json"), BASELINE);
}

#[test]
fn moving_code_keeps_old_findings_hidden_while_a_new_one_is_reported() {
    let dir = project();
    let out = loopsafe(dir.path(), &["check", "--baseline", "loopsafe-baseline.json", "--update-baseline"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Ten lines above, the class moved below a renamed unrelated function, the helper chain moved
    // down in its file, and one new blocking call.
    let app = "import time

from helpers import load
# one
# two
# three
# four
# five
# six
# seven
# eight
# nine
# ten


async def renamed_unrelated():
    return 1


async def new_route():
    time.sleep(3)


class Svc:
    async def get(self):
        time.sleep(1)
        time.sleep(1)
        return load()
";
    write(dir.path(), "app.py", app);
    write(dir.path(), "helpers.py", format!("import time\n\n\ndef unrelated():\n    pass\n\n{}", &HELPERS[12..]));
    let (code, items, err) = json_findings(dir.path(), &["--baseline", "loopsafe-baseline.json"]);
    assert_eq!(code, Some(1));
    assert_eq!(items, vec![shown("LS102", "app.py", 21, "new_route")]);
    assert_eq!(err, "loopsafe: 3 findings in the baseline not shown\n");

    // The text format says the same, and the exit status comes from the new finding only.
    let out = loopsafe(dir.path(), &["check", "--baseline", "loopsafe-baseline.json"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.starts_with("app.py:21:5: LS102 [blocking-sleep]"), "{text}");
    assert!(
        text.ends_with("Found 1 finding (1 critical) in 2 files.\n3 findings in the baseline not shown.\n"),
        "{text}"
    );
    // `--exit-zero` still wins.
    let out = loopsafe(dir.path(), &["check", "--baseline", "loopsafe-baseline.json", "--exit-zero"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_fixed_finding_drops_out_when_the_file_is_rewritten() {
    let dir = project();
    let out = loopsafe(dir.path(), &["check", "--baseline", "b.json", "--update-baseline"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // One of the two identical calls fixed: the other keeps the first one's fingerprint.
    write(dir.path(), "app.py", APP.replacen("        time.sleep(1)\n", "", 1));
    let out = loopsafe(dir.path(), &["check", "--baseline", "b.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(stdout(&out), "All checks passed (2 files).\n2 findings in the baseline not shown.\n");
    let out = loopsafe(dir.path(), &["check", "--baseline", "b.json", "--update-baseline"]);
    assert_eq!(stderr(&out), "loopsafe: wrote 2 findings to b.json\n");
    let without_second = BASELINE.replacen(
        r#"    {
      "fingerprint": "25757d3c89ebd227:2",
      "code": "LS102",
      "rule": "blocking-sleep",
      "file": "app.py",
      "function": "Svc.get",
      "callee": "time.sleep",
      "message": "`time.sleep` stops the whole event loop while it sleeps"
    },
"#,
        "",
        1,
    );
    assert_eq!(read(dir.path(), "b.json"), without_second);
    // Now the second call comes back: it is new.
    write(dir.path(), "app.py", APP);
    let (code, items, _) = json_findings(dir.path(), &["--baseline", "b.json"]);
    assert_eq!(code, Some(1));
    assert_eq!(items, vec![shown("LS102", "app.py", 9, "Svc.get")]);
}

#[test]
fn changing_the_callee_or_the_chain_makes_a_new_finding() {
    let dir = project();
    let out = loopsafe(dir.path(), &["check", "--baseline", "b.json", "--update-baseline"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The helper now reaches its blocking call through another function: a new chain.
    write(
        dir.path(),
        "helpers.py",
        "import time\n\n\ndef load():\n    return slower()\n\n\ndef slower():\n    time.sleep(2)\n",
    );
    let (code, items, err) = json_findings(dir.path(), &["--baseline", "b.json"]);
    assert_eq!(code, Some(1));
    assert_eq!(items, vec![shown("LS102", "app.py", 10, "Svc.get")]);
    assert_eq!(err, "loopsafe: 2 findings in the baseline not shown\n");
    // A different blocking API in place of a recorded one is new too.
    write(dir.path(), "helpers.py", HELPERS);
    let app = APP.replacen("        time.sleep(1)\n", "        requests.get('u', timeout=1)\n", 1);
    write(dir.path(), "app.py", format!("import requests\n{app}"));
    let (code, items, _) = json_findings(dir.path(), &["--baseline", "b.json"]);
    assert_eq!(code, Some(1));
    assert_eq!(items, vec![shown("LS101", "app.py", 9, "Svc.get")]);
}

#[test]
fn fingerprints_name_files_from_the_project_root_wherever_check_runs() {
    let dir = project();
    std::fs::create_dir_all(dir.path().join("pkg")).unwrap();
    std::fs::rename(dir.path().join("app.py"), dir.path().join("pkg/app.py")).unwrap();
    let out = loopsafe(dir.path(), &["check", "--baseline", "b.json", "--update-baseline", "pkg"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let baseline = read(dir.path(), "b.json");
    assert!(baseline.contains(r#""file": "pkg/app.py""#), "{baseline}");
    // From inside the package, with the path given as `.`, the same findings match.
    let out = loopsafe(&dir.path().join("pkg"), &["check", "--baseline", "../b.json", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(stdout(&out), "All checks passed (1 file).\n3 findings in the baseline not shown.\n");
}

#[test]
fn updating_with_a_narrower_path_keeps_the_other_files_entries() {
    let dir = project();
    write(dir.path(), "other.py", "import time\n\n\nasync def f():\n    time.sleep(1)\n");
    let out = loopsafe(dir.path(), &["check", "--baseline", "b.json", "--update-baseline"]);
    assert_eq!(stderr(&out), "loopsafe: wrote 4 findings to b.json\n");
    let out = loopsafe(dir.path(), &["check", "--baseline", "b.json", "--update-baseline", "app.py"]);
    assert_eq!(stderr(&out), "loopsafe: wrote 4 findings to b.json\n");
    // A deleted file's entries go.
    std::fs::remove_file(dir.path().join("other.py")).unwrap();
    let out = loopsafe(dir.path(), &["check", "--baseline", "b.json", "--update-baseline", "app.py"]);
    assert_eq!(stderr(&out), "loopsafe: wrote 3 findings to b.json\n");
    assert_eq!(read(dir.path(), "b.json"), BASELINE);
}

#[test]
fn updating_with_a_narrower_selection_keeps_the_other_rules_entries() {
    let dir = project();
    write(dir.path(), "other.py", "import requests\n\n\nasync def f():\n    requests.get('u', timeout=1)\n");
    let out = loopsafe(dir.path(), &["check", "--baseline", "b.json", "--update-baseline"]);
    assert_eq!(stderr(&out), "loopsafe: wrote 4 findings to b.json\n");
    let full = read(dir.path(), "b.json");
    // A run of one rule rewrites that rule's entries only: the sleeps stay recorded.
    let out = loopsafe(dir.path(), &["check", "--baseline", "b.json", "--update-baseline", "--select", "LS101"]);
    assert_eq!(stderr(&out), "loopsafe: wrote 4 findings to b.json\n");
    assert_eq!(read(dir.path(), "b.json"), full);
    let out = loopsafe(dir.path(), &["check", "--baseline", "b.json", "--update-baseline", "--ignore", "LS102"]);
    assert_eq!(stderr(&out), "loopsafe: wrote 4 findings to b.json\n");
    assert_eq!(read(dir.path(), "b.json"), full);
    // Fixed under that selection, the rule's entry goes; the others stay.
    write(dir.path(), "other.py", "async def f():\n    return 1\n");
    let out = loopsafe(dir.path(), &["check", "--baseline", "b.json", "--update-baseline", "--select", "LS101"]);
    assert_eq!(stderr(&out), "loopsafe: wrote 3 findings to b.json\n");
    assert_eq!(read(dir.path(), "b.json"), BASELINE);
}

#[test]
fn fix_leaves_what_the_baseline_holds_and_fixes_the_new_findings() {
    let dir = project();
    let out = loopsafe(dir.path(), &["check", "--baseline", "b.json", "--update-baseline"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // A new finding in a new function.
    let app = format!("{APP}\n\nasync def new():\n    time.sleep(3)\n");
    write(dir.path(), "app.py", &app);
    let out = loopsafe(dir.path(), &["check", "--baseline", "b.json", "--fix", "--no-cache"]);
    assert_eq!(stderr(&out), "loopsafe: applied 1 fix in 1 file\n");
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let fixed = read(dir.path(), "app.py");
    assert!(fixed.ends_with("async def new():\n    await asyncio.sleep(3)\n"), "{fixed}");
    // The baselined sleeps and the chain are as they were.
    assert!(fixed.contains("        time.sleep(1)\n        time.sleep(1)\n        return load()\n"), "{fixed}");
    assert_eq!(read(dir.path(), "helpers.py"), HELPERS);
    // The same through --stdin-filename.
    write(dir.path(), "app.py", &app);
    let out = common::loopsafe_stdin(
        dir.path(),
        &["check", "--baseline", "b.json", "--fix", "--no-cache", "--stdin-filename", "app.py"],
        app.as_bytes(),
    );
    assert!(stdout(&out).ends_with("async def new():\n    await asyncio.sleep(3)\n"), "{}", stdout(&out));
    assert!(stdout(&out).contains("        time.sleep(1)\n        time.sleep(1)\n"), "{}", stdout(&out));
    // Without the baseline, --fix fixes them all.
    let out = loopsafe(dir.path(), &["check", "--fix", "--no-cache"]);
    assert!(!read(dir.path(), "app.py").contains("time.sleep(1)"), "{}", stderr(&out));
}

#[test]
fn json_and_sarif_carry_the_baseline_fingerprint() {
    let dir = project();
    let out = loopsafe(dir.path(), &["check", "--output-format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let from_json: Vec<&str> = json.as_array().unwrap().iter().map(|i| i["fingerprint"].as_str().unwrap()).collect();
    assert_eq!(from_json, ["25757d3c89ebd227:1", "25757d3c89ebd227:2", "f92f9cc780c22da1:1"]);
    let out = loopsafe(dir.path(), &["check", "--output-format", "sarif"]);
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let from_sarif: Vec<&str> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["partialFingerprints"]["loopsafeFingerprint/v1"].as_str().unwrap())
        .collect();
    assert_eq!(from_sarif, from_json);
}

#[test]
fn a_missing_or_malformed_baseline_is_an_error_naming_the_file() {
    let dir = project();
    let out = loopsafe(dir.path(), &["check", "--baseline", "missing.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        "loopsafe: error: missing.json: the baseline file does not exist (write it with `loopsafe check --baseline missing.json --update-baseline`)\n"
    );
    write(dir.path(), "bad.json", "{\"version\": 1, \"findings\": [");
    let out = loopsafe(dir.path(), &["check", "--baseline", "bad.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "loopsafe: error: bad.json: not a loopsafe baseline: invalid JSON: EOF while parsing a list at line 1 column 28\n"
    );
    write(dir.path(), "old.json", "{\"version\": 7, \"findings\": []}");
    let out = loopsafe(dir.path(), &["check", "--baseline", "old.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "loopsafe: error: old.json: baseline version 7 is not supported (this loopsafe reads version 1)\n"
    );
    write(dir.path(), "list.json", "[]");
    let out = loopsafe(dir.path(), &["check", "--baseline", "list.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), "loopsafe: error: list.json: not a loopsafe baseline: no `version` field\n");
    write(dir.path(), "entries.json", "{\"version\": 1, \"findings\": [{\"code\": \"LS102\"}]}");
    let out = loopsafe(dir.path(), &["check", "--baseline", "entries.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), "loopsafe: error: entries.json: not a loopsafe baseline: missing field `fingerprint`\n");
    let out = loopsafe(dir.path(), &["check", "--update-baseline"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "loopsafe: error: --update-baseline needs --baseline FILE (or `baseline` in [tool.loopsafe])\n"
    );
    // Rewriting a malformed file is what `--update-baseline` is for.
    let out = loopsafe(dir.path(), &["check", "--baseline", "bad.json", "--update-baseline"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(read(dir.path(), "bad.json"), BASELINE);
}

#[test]
fn the_baseline_can_be_set_in_pyproject_relative_to_it() {
    let dir = project();
    write(
        dir.path(),
        "pyproject.toml",
        "[project]\nname = \"p\"\n\n[tool.loopsafe]\nbaseline = \"ci/baseline.json\"\n",
    );
    std::fs::create_dir_all(dir.path().join("ci")).unwrap();
    let out = loopsafe(dir.path(), &["check", "--update-baseline"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(read(dir.path(), "ci/baseline.json"), BASELINE);
    std::fs::create_dir_all(dir.path().join("sub")).unwrap();
    let out = loopsafe(&dir.path().join("sub"), &["check", ".."]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "All checks passed (2 files).\n3 findings in the baseline not shown.\n");
    // A wrong value is a configuration error.
    write(dir.path(), "pyproject.toml", "[tool.loopsafe]\nbaseline = 3\n");
    let out = loopsafe(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("[tool.loopsafe] `baseline`: expected a file path"), "{}", stderr(&out));
}

/// `code@line:character severity` of each diagnostic the language server pushed.
fn severities(diags: &[Value]) -> Vec<String> {
    diags
        .iter()
        .map(|d| {
            let start = &d["range"]["start"];
            format!("{}@{}:{} {}", d["code"].as_str().unwrap(), start["line"], start["character"], d["severity"])
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_language_server_shows_baselined_findings_as_hints_or_hides_them() {
    let dir = project();
    write(
        dir.path(),
        "pyproject.toml",
        "[project]\nname = \"p\"\n\n[tool.loopsafe]\nbaseline = \"loopsafe-baseline.json\"\n",
    );
    let out = loopsafe(dir.path(), &["check", "--update-baseline"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (mut c, _) = Client::start(json!({}), Some(dir.path())).await;
    let app_uri = uri(&dir.path().join("app.py"));
    // The buffer: ten lines above the recorded findings, and a new one.
    let comments: String = (1..=10).map(|i| format!("# {i}\n")).collect();
    let edited = format!(
        "import time\n\nfrom helpers import load\n{comments}\n\nasync def new_route():\n    time.sleep(3)\n\n\n{}",
        &APP[APP.find("class Svc").unwrap()..APP.find("\n\nasync def unrelated").unwrap() + 1]
    );
    c.open(&app_uri, &edited).await;
    // Error (1) for the new call; hint (4) for the three the baseline holds, the chain included.
    let want = ["LS102@16:4 1", "LS102@21:8 4", "LS102@22:8 4", "LS102@23:15 4"];
    c.diagnostics_until(&app_uri, |d| severities(d) == want).await;

    // Hidden, as a setting.
    let hide = json!({ "settings": { "loopsafe": { "baseline-in-editor": "hide" } } });
    c.notify("workspace/didChangeConfiguration", hide).await;
    c.diagnostics_until(&app_uri, |d| severities(d) == ["LS102@16:4 1"]).await;

    // The baseline rewritten with the new finding: the watcher's report brings it in.
    write(dir.path(), "app.py", &edited);
    let out = loopsafe(dir.path(), &["check", "--update-baseline"]);
    // Named by the configuration, the file is shown with the configuration's directory.
    let shown = format!("loopsafe: wrote 4 findings to {}\n", dir.path().join("loopsafe-baseline.json").display());
    assert_eq!(stderr(&out), shown);
    let baseline_uri = uri(&dir.path().join("loopsafe-baseline.json"));
    c.notify("workspace/didChangeWatchedFiles", json!({ "changes": [{ "uri": baseline_uri.as_str(), "type": 2 }] }))
        .await;
    c.diagnostics_until(&app_uri, |d| d.is_empty()).await;
}
