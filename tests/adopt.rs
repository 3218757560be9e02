//! Adopting loopsafe on an existing codebase, as ruff users do: `per-file-ignores` and `extend-exclude`,
//! `check --add-noqa`, `--statistics`, `--output-file`, `--quiet`, `--stdin-filename`. Each test runs the
//! binary on a temporary project and compares the exact output, and the files before and after.

mod common;
mod lsp_client;

use std::path::Path;

use common::{loopsafe, loopsafe_stdin, stderr, stdout, write};
use serde_json::json;

const APP: &str = "import time\n\n\nasync def handler():\n    time.sleep(1)\n    open(\"x\").read()\n";

/// A project whose configuration turns rules off in some files, and leaves one folder out.
fn ignoring_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "pyproject.toml",
        "[tool.loopsafe]\nextend-exclude = [\"generated\"]\n\n[tool.loopsafe.per-file-ignores]\n\"pkg/tests/**\" = [\"blocking-file\"]\n\"scripts/*.py\" = [\"LS1\"]\n\"conftest.py\" = [\"LS102\"]\n",
    );
    for f in ["pkg/app.py", "pkg/tests/test_app.py", "scripts/run.py", "generated/gen.py", "pkg/tests/conftest.py"] {
        write(dir.path(), f, APP);
    }
    dir
}

fn github(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut all = vec!["check"];
    all.extend(args);
    all.extend(["--output-format", "github", "--no-cache"]);
    let out = loopsafe(dir, &all);
    assert_eq!(stderr(&out), "", "no warnings or errors");
    (out.status.code(), stdout(&out))
}

#[test]
fn per_file_ignores_turn_rules_off_in_matching_files_and_extend_exclude_skips_folders() {
    let dir = ignoring_project();
    let (code, out) = github(dir.path(), &[]);
    assert_eq!(code, Some(1));
    // pkg/app.py: everything. pkg/tests/*: no blocking-file (and conftest.py, by its file name, no
    // LS102 either). scripts/run.py: no LS1xx at all. generated/: not walked.
    assert_eq!(
        out,
        "::error title=loopsafe (LS102) critical,file=pkg/app.py,line=5,col=5,endLine=5,endColumn=15::LS102 [blocking-sleep] `time.sleep` stops the whole event loop while it sleeps
::warning title=loopsafe (LS104) warning,file=pkg/app.py,line=6,col=5,endLine=6,endColumn=9::LS104 [blocking-file] `open` opens a file synchronously
::error title=loopsafe (LS102) critical,file=pkg/tests/test_app.py,line=5,col=5,endLine=5,endColumn=15::LS102 [blocking-sleep] `time.sleep` stops the whole event loop while it sleeps
"
    );
    // The globs are relative to the configuration file, not to where loopsafe runs.
    let (_, from_pkg) = github(&dir.path().join("pkg"), &["."]);
    assert_eq!(
        from_pkg,
        "::error title=loopsafe (LS102) critical,file=app.py,line=5,col=5,endLine=5,endColumn=15::LS102 [blocking-sleep] `time.sleep` stops the whole event loop while it sleeps
::warning title=loopsafe (LS104) warning,file=app.py,line=6,col=5,endLine=6,endColumn=9::LS104 [blocking-file] `open` opens a file synchronously
::error title=loopsafe (LS102) critical,file=tests/test_app.py,line=5,col=5,endLine=5,endColumn=15::LS102 [blocking-sleep] `time.sleep` stops the whole event loop while it sleeps
"
    );
    // A file named on the command line in an ignored place: still its per-file ignores.
    let (code, one) = github(dir.path(), &["scripts/run.py"]);
    assert_eq!((code, one.as_str()), (Some(0), ""));
}

#[test]
fn per_file_ignores_apply_to_chain_findings_where_they_are_reported_and_to_fixes() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "pyproject.toml",
        "[tool.loopsafe]\nper-file-ignores = { \"tests/**\" = [\"blocking-sleep\"] }\n",
    );
    let helper = "import time\n\n\ndef wait():\n    time.sleep(1)\n";
    write(dir.path(), "app/util.py", helper);
    let caller = "import time\n\nfrom app.util import wait\n\n\nasync def handler():\n    wait()\n    time.sleep(1)\n";
    write(dir.path(), "app/__init__.py", "");
    write(dir.path(), "app/api.py", caller);
    write(dir.path(), "tests/test_api.py", caller);
    let (_, out) = github(dir.path(), &[]);
    assert_eq!(
        out,
        "::error title=loopsafe (LS102) critical,file=app/api.py,line=7,col=5,endLine=7,endColumn=9::LS102 [blocking-sleep] `util.wait` is synchronous and blocks the event loop 1 call down: `time.sleep` stops the whole event loop while it sleeps
::error title=loopsafe (LS102) critical,file=app/api.py,line=8,col=5,endLine=8,endColumn=15::LS102 [blocking-sleep] `time.sleep` stops the whole event loop while it sleeps
"
    );
    // `--fix` leaves the ignored file as it is.
    let out = loopsafe(dir.path(), &["check", "--fix", "--no-cache", "--output-format", "github"]);
    assert_eq!(std::fs::read_to_string(dir.path().join("tests/test_api.py")).unwrap(), caller);
    assert_ne!(std::fs::read_to_string(dir.path().join("app/api.py")).unwrap(), caller, "{}", stderr(&out));
}

#[test]
fn a_bad_glob_or_an_unknown_rule_is_an_error_naming_the_key() {
    let cases = [
        (
            "per-file-ignores = { \"a/[b\" = [\"LS1\"] }",
            "[tool.loopsafe] `per-file-ignores`: `a/[b` is not a valid glob: error parsing glob 'a/[b': unclosed character class; missing ']'",
        ),
        (
            "per-file-ignores = { \"tests/**\" = [\"LS9\"] }",
            "[tool.loopsafe] `per-file-ignores`: `tests/**`: unknown rule selector `LS9` (expected a rule name such as `blocking-http`, a code such as `LS101`, a code prefix such as `LS1`, or `ALL`)",
        ),
        (
            "extend-per-file-ignores = { \"tests/**\" = \"LS1\" }",
            "[tool.loopsafe] `extend-per-file-ignores`: `tests/**`: expected a list of strings",
        ),
        (
            "per-file-ignores = [\"tests/**\"]",
            "[tool.loopsafe] `per-file-ignores`: expected a table of glob = [rules], e.g. { \"tests/**\" = [\"blocking-file\"] }",
        ),
        (
            "extend-exclude = [\"a/[b\"]",
            "[tool.loopsafe] `extend-exclude`: `a/[b` is not a valid glob: error parsing glob 'a/[b': unclosed character class; missing ']'",
        ),
    ];
    for (setting, error) in cases {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "pyproject.toml", format!("[tool.loopsafe]\n{setting}\n"));
        write(dir.path(), "app.py", APP);
        let out = loopsafe(dir.path(), &["check", "--config", "pyproject.toml"]);
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(stderr(&out), format!("loopsafe: error: pyproject.toml: {error}\n"));
        assert_eq!(stdout(&out), "");
    }
    // loopsafe.toml: the same keys at top level.
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "loopsafe.toml", "per-file-ignores = { \"*.py\" = [\"nope\"] }\n");
    let out = loopsafe(dir.path(), &["check", "--config", "loopsafe.toml"]);
    assert_eq!(
        stderr(&out),
        "loopsafe: error: loopsafe.toml `per-file-ignores`: `*.py`: unknown rule selector `nope` (expected a rule name such as `blocking-http`, a code such as `LS101`, a code prefix such as `LS1`, or `ALL`)\n"
    );
}

#[test]
fn a_loopsafe_toml_anchors_its_globs_at_its_own_directory() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "conf/loopsafe.toml",
        "per-file-ignores = { \"../src/legacy/*\" = [\"ALL\"], \"src/x.py\" = [\"ALL\"] }\n",
    );
    write(dir.path(), "src/legacy/old.py", APP);
    write(dir.path(), "src/x.py", "import time\n\n\nasync def f():\n    time.sleep(1)\n");
    let (_, out) = github(dir.path(), &["--config", "conf/loopsafe.toml", "src"]);
    // `../src/legacy/*` is outside the configuration's directory: as in ruff, it matches nothing; nor
    // does `src/x.py`, which is relative to conf/.
    assert!(out.contains("file=src/legacy/old.py"), "{out}");
    assert!(out.contains("file=src/x.py"), "{out}");
    let dir2 = tempfile::tempdir().unwrap();
    write(
        dir2.path(),
        "loopsafe.toml",
        "per-file-ignores = { \"src/legacy/*\" = [\"ALL\"], \"!src/legacy/*\" = [\"LS104\"] }\n",
    );
    write(dir2.path(), "src/legacy/old.py", APP);
    write(dir2.path(), "src/new.py", APP);
    let (_, out) = github(dir2.path(), &["--config", "loopsafe.toml", "src"]);
    // `!glob`: every file it does not match.
    assert_eq!(
        out,
        "::error title=loopsafe (LS102) critical,file=src/new.py,line=5,col=5,endLine=5,endColumn=15::LS102 [blocking-sleep] `time.sleep` stops the whole event loop while it sleeps\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_language_server_applies_per_file_ignores_to_the_document_path() {
    use lsp_client::{Client, codes, uri};
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pyproject.toml", "[tool.loopsafe]\nper-file-ignores = { \"tests/**\" = [\"blocking-file\"] }\n");
    write(dir.path(), "app.py", APP);
    write(dir.path(), "tests/test_app.py", APP);
    let (mut c, _) = Client::start(json!({}), Some(dir.path())).await;
    let app = uri(&dir.path().join("app.py"));
    let test = uri(&dir.path().join("tests/test_app.py"));
    c.open(&app, APP).await;
    c.diagnostics_until(&app, |d| codes(d) == ["LS102@4:4", "LS104@5:4"]).await;
    c.open(&test, APP).await;
    c.diagnostics_until(&test, |d| codes(d) == ["LS102@4:4"]).await;
    // The client's own per-file ignores, laid over the project's, are relative to its configuration
    // file too.
    let settings = json!({ "settings": { "loopsafe": { "per-file-ignores": { "app.py": ["LS102"] } } } });
    c.notify("workspace/didChangeConfiguration", settings).await;
    // Both documents are published again, in either order: the latest of each must match.
    let want = |u: &tower_lsp_server::ls_types::Uri| {
        if *u == app { vec!["LS104@5:4"] } else { vec!["LS102@4:4", "LS104@5:4"] }
    };
    let mut latest: std::collections::HashMap<String, Vec<String>> = Default::default();
    let done = |latest: &std::collections::HashMap<String, Vec<String>>| {
        [&app, &test].iter().all(|u| latest.get(u.as_str()).is_some_and(|c| *c == want(u)))
    };
    while !done(&latest) {
        let msg = tokio::time::timeout(lsp_client::WAIT, c.next()).await.unwrap_or_else(|_| panic!("{latest:?}"));
        if msg["method"] == "textDocument/publishDiagnostics" {
            let diags = msg["params"]["diagnostics"].as_array().unwrap().clone();
            latest.insert(msg["params"]["uri"].as_str().unwrap().to_string(), codes(&diags));
        }
    }
}

#[test]
fn add_noqa_marks_every_finding_once_and_a_second_run_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pyproject.toml", "[project]\nname = \"p\"\n");
    write(dir.path(), "app/__init__.py", "");
    write(dir.path(), "app/util.py", "import time\n\n\ndef wait():\n    time.sleep(1)\n");
    let api = r#"import time

import requests

from app.util import wait


async def handler():
    time.sleep(1)   
    open("x").read()  # noqa: E501
    wait()  # type: ignore
    requests.post("https://example.com", data="""
one
two""")
    time.sleep(2)  # noqa
"#;
    write(dir.path(), "app/api.py", api);
    // CRLF line endings and a BOM are kept.
    let crlf = "\u{feff}import time\r\n\r\n\r\nasync def f():\r\n    time.sleep(1)\r\n";
    write(dir.path(), "app/crlf.py", crlf);
    let out = loopsafe(dir.path(), &["check", "--add-noqa", "--no-cache"]);
    assert_eq!((out.status.code(), stdout(&out).as_str()), (Some(0), ""));
    assert_eq!(stderr(&out), "Added 5 noqa directives.\n");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("app/api.py")).unwrap(),
        r#"import time

import requests

from app.util import wait


async def handler():
    time.sleep(1)  # noqa: LS102
    open("x").read()  # noqa: E501, LS104
    wait()  # type: ignore  # noqa: LS102
    requests.post("https://example.com", data="""
one
two""")  # noqa: LS101
    time.sleep(2)  # noqa
"#
    );
    assert_eq!(
        std::fs::read(dir.path().join("app/crlf.py")).unwrap(),
        "\u{feff}import time\r\n\r\n\r\nasync def f():\r\n    time.sleep(1)  # noqa: LS102\r\n".as_bytes()
    );
    // The sync helper's own call is not a finding (no coroutine runs it directly): untouched.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("app/util.py")).unwrap(),
        "import time\n\n\ndef wait():\n    time.sleep(1)\n"
    );
    // Everything is suppressed now: a second run adds nothing and the check passes.
    let again = loopsafe(dir.path(), &["check", "--add-noqa", "--no-cache"]);
    // Nothing to add: nothing said (as ruff).
    assert_eq!(stderr(&again), "");
    let check = loopsafe(dir.path(), &["check", "--no-cache"]);
    assert_eq!(check.status.code(), Some(0), "{}", stdout(&check));
    // With `--fix` it is refused.
    let both = loopsafe(dir.path(), &["check", "--add-noqa", "--fix"]);
    assert_eq!(both.status.code(), Some(2));
    assert!(stderr(&both).contains("'--add-noqa' cannot be used with '--fix'"), "{}", stderr(&both));
}

#[test]
fn add_noqa_follows_a_continuation_and_warns_where_no_line_can_take_a_directive() {
    let dir = tempfile::tempdir().unwrap();
    let text = "import time\n\n\nasync def f():\n    x = time.sleep(1) + \\\n        2\n";
    write(dir.path(), "a.py", text);
    let out = loopsafe(dir.path(), &["check", "--add-noqa", "--no-cache", "a.py"]);
    assert_eq!(stderr(&out), "Added 1 noqa directive.\n");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.py")).unwrap(),
        "import time\n\n\nasync def f():\n    x = time.sleep(1) + \\\n        2  # noqa: LS102\n"
    );
    assert_eq!(loopsafe(dir.path(), &["check", "--no-cache", "a.py"]).status.code(), Some(0));
    // A call inside a multi-line f-string: every line it is on ends inside the string.
    let open = "import time\n\n\nasync def f():\n    return f\"\"\"\n{time.sleep(1)}\n\"\"\"\n";
    write(dir.path(), "b.py", open);
    let out = loopsafe(dir.path(), &["check", "--add-noqa", "--no-cache", "b.py"]);
    assert_eq!(
        stderr(&out),
        "loopsafe: warning: b.py:6:2: no `# noqa` added: the finding's lines end inside a multi-line string or a line continuation\n"
    );
    assert_eq!(std::fs::read_to_string(dir.path().join("b.py")).unwrap(), open);
}

/// A project with direct findings and a chain finding (whose root cause is in another module).
fn statistics_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pyproject.toml", "[project]\nname = \"p\"\n");
    write(dir.path(), "app/__init__.py", "");
    write(dir.path(), "app/util.py", "import time\n\n\ndef wait():\n    time.sleep(1)\n");
    write(
        dir.path(),
        "app/api.py",
        "import time\n\nimport requests\n\nfrom app.util import wait\n\n\nasync def a():\n    wait()\n    time.sleep(1)\n    requests.get('u')\n\n\nasync def b():\n    time.sleep(2)\n",
    );
    dir
}

#[test]
fn statistics_count_findings_per_rule_and_per_root_cause() {
    let dir = statistics_project();
    let out = loopsafe(dir.path(), &["check", "--statistics", "--no-cache"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        "3\tLS102\tblocking-sleep\n1\tLS101\tblocking-http\n\nRoot causes:\n3\ttime.sleep\n1\trequests.get\n"
    );
    let out = loopsafe(dir.path(), &["check", "--statistics", "--no-cache", "--output-format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v,
        json!({
            "rules": [
                {"code": "LS102", "name": "blocking-sleep", "count": 3},
                {"code": "LS101", "name": "blocking-http", "count": 1}
            ],
            "root_causes": [{"callee": "time.sleep", "count": 3}, {"callee": "requests.get", "count": 1}]
        })
    );
    // Nothing found: nothing to count, exit 0.
    let out = loopsafe(dir.path(), &["check", "--statistics", "--no-cache", "app/util.py"]);
    assert_eq!((out.status.code(), stdout(&out).as_str()), (Some(0), ""));
}

#[test]
fn output_file_holds_what_stdout_would_in_every_format() {
    let dir = statistics_project();
    for format in ["text", "json", "sarif", "github"] {
        let plain = loopsafe(dir.path(), &["check", "--no-cache", "--output-format", format]);
        let file = format!("reports/{format}.out");
        // An existing file is replaced.
        write(dir.path(), &file, "old content that is longer than nothing");
        let to_file = loopsafe(dir.path(), &["check", "--no-cache", "--output-format", format, "--output-file", &file]);
        assert_eq!((to_file.status.code(), stdout(&to_file).as_str()), (Some(1), ""));
        assert_eq!(std::fs::read(dir.path().join(&file)).unwrap(), plain.stdout, "{format}");
    }
    // A new file in a new folder; with --statistics too.
    let out = loopsafe(dir.path(), &["check", "--no-cache", "--statistics", "--output-file", "new/dir/stats.txt"]);
    assert_eq!(stdout(&out), "");
    assert!(
        std::fs::read_to_string(dir.path().join("new/dir/stats.txt"))
            .unwrap()
            .starts_with("3\tLS102\tblocking-sleep\n")
    );
    // No temporary file is left beside it.
    let names: Vec<String> = std::fs::read_dir(dir.path().join("new/dir"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["stats.txt"]);
    // A folder is not a file.
    let out = loopsafe(dir.path(), &["check", "--no-cache", "--output-file", "app"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), "loopsafe: error: --output-file app: not a regular file\n");
}

#[test]
fn quiet_prints_the_findings_only() {
    let dir = statistics_project();
    write(dir.path(), "app/latin1.py", b"x = '\xe9'\n");
    let loud = loopsafe(dir.path(), &["check", "--no-cache", "app/util.py", "app/latin1.py"]);
    assert_eq!(stdout(&loud), "All checks passed (1 file).\n");
    assert!(stderr(&loud).contains("not valid UTF-8"), "{}", stderr(&loud));
    let quiet = loopsafe(dir.path(), &["check", "--no-cache", "--quiet", "app/util.py", "app/latin1.py"]);
    assert_eq!((quiet.status.code(), stdout(&quiet).as_str(), stderr(&quiet).as_str()), (Some(0), "", ""));
    let loud = loopsafe(dir.path(), &["check", "--no-cache", "app/api.py"]);
    let quiet = loopsafe(dir.path(), &["check", "--no-cache", "-q", "app/api.py"]);
    assert_eq!(quiet.status.code(), Some(1));
    // The loud output adds the findings grouped by root cause and the count line.
    let loud = stdout(&loud);
    let rest = loud.strip_prefix(stdout(&quiet).as_str()).unwrap_or_else(|| panic!("{loud}"));
    assert!(rest.starts_with("Root causes (call sites reaching each):\n"), "{rest}");
    assert!(rest.ends_with("\nFound 4 findings (4 critical) in 1 file.\n"), "{rest}");
}

#[test]
fn stdin_filename_checks_the_buffer_as_that_file_of_its_project() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pyproject.toml", "[tool.loopsafe]\nper-file-ignores = { \"app/tests/*\" = [\"LS101\"] }\n");
    write(dir.path(), "app/__init__.py", "");
    write(dir.path(), "app/util.py", "import time\n\n\ndef wait():\n    time.sleep(1)\n");
    // On disk the file is clean; the buffer (not saved yet) is not.
    write(dir.path(), "app/api.py", "async def a():\n    pass\n");
    let buffer =
        "import requests\n\nfrom app.util import wait\n\n\nasync def a():\n    wait()\n    requests.get('u')\n";
    let args = ["check", "--no-cache", "--output-format", "github", "--stdin-filename", "app/api.py"];
    let out = loopsafe_stdin(dir.path(), &args, buffer.as_bytes());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // The import is resolved from the path's location: the chain through app/util.py is found.
    assert_eq!(
        stdout(&out),
        "::error title=loopsafe (LS102) critical,file=app/api.py,line=7,col=5,endLine=7,endColumn=9::LS102 [blocking-sleep] `util.wait` is synchronous and blocks the event loop 1 call down: `time.sleep` stops the whole event loop while it sleeps
::error title=loopsafe (LS101) critical,file=app/api.py,line=8,col=5,endLine=8,endColumn=17::LS101 [blocking-http] `requests.get` sends an HTTP request and waits for the response
"
    );
    // From another directory, for a file that does not exist, under the project's per-file-ignores.
    let args = ["check", "--no-cache", "--output-format", "github", "--stdin-filename", "../app/tests/new.py"];
    let out = loopsafe_stdin(&dir.path().join("app"), &args, buffer.as_bytes());
    assert_eq!(
        stdout(&out),
        "::error title=loopsafe (LS102) critical,file=../app/tests/new.py,line=7,col=5,endLine=7,endColumn=9::LS102 [blocking-sleep] `util.wait` is synchronous and blocks the event loop 1 call down: `time.sleep` stops the whole event loop while it sleeps\n"
    );
    assert!(!dir.path().join("app/tests/new.py").exists());
    // Not UTF-8: an error.
    let out = loopsafe_stdin(dir.path(), &["check", "--stdin-filename", "x.py"], b"x = '\xe9'\n");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), "loopsafe: error: stdin: x.py: skipped: not valid UTF-8 (invalid byte at offset 5)\n");
}

#[test]
fn stdin_filename_with_fix_prints_the_fixed_text_and_reports_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pyproject.toml", "[project]\nname = \"p\"\n");
    let buffer = "\u{feff}import time\r\n\r\n\r\nasync def h():\r\n    time.sleep(1)\r\n    open('f').read()\r\n";
    let args = ["check", "--no-cache", "--fix", "--stdin-filename", "app.py"];
    let out = loopsafe_stdin(dir.path(), &args, buffer.as_bytes());
    // `open('f').read()` is one finding, the read its related information: offloading the open alone
    // would leave the read on the loop, so it is not offered (anyio, for the async-file fix, is not
    // installed), and the finding remains.
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        "\u{feff}import asyncio\r\n\r\n\r\nasync def h():\r\n    await asyncio.sleep(1)\r\n    open('f').read()\r\n"
    );
    let err = stderr(&out);
    assert!(
        err.starts_with(
            "loopsafe: applied 1 fix\napp.py:6:5: LS104 [blocking-file] `open` opens a file synchronously\n"
        ),
        "{err}"
    );
    assert!(err.ends_with("Found 1 finding (1 warning) in 1 file.\n"), "{err}");
    // What remains is reported on stderr, in the format asked for.
    let args = ["check", "--no-cache", "--fix", "--output-format", "github", "--stdin-filename", "app.py"];
    let out = loopsafe_stdin(dir.path(), &args, b"async def h():\n    pass\n");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        (stdout(&out).as_str(), stderr(&out).as_str()),
        ("async def h():\n    pass\n", "loopsafe: applied 0 fixes\n")
    );
    assert!(!dir.path().join("app.py").exists(), "nothing is written");
    // --diff: the diff on stdout.
    let out = loopsafe_stdin(
        dir.path(),
        &["check", "--no-cache", "--diff", "--stdin-filename", "app.py"],
        b"import time\n\n\nasync def h():\n    time.sleep(1)\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        "--- a/app.py\n+++ b/app.py\n@@ -1,5 +1,5 @@\n-import time\n+import asyncio\n \n \n async def h():\n-    time.sleep(1)\n+    await asyncio.sleep(1)\n"
    );
    assert_eq!(stderr(&out), "loopsafe: would apply 1 fix\n");
}

#[test]
fn per_file_ignores_apply_to_cached_results_and_quiet_silences_fix_messages() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pyproject.toml", "[tool.loopsafe]\n");
    write(dir.path(), "tests/test_a.py", APP);
    let codes = |dir: &Path| {
        let out = loopsafe(dir, &["check", "--output-format", "github"]);
        stdout(&out).lines().map(|l| l.split("loopsafe (").nth(1).unwrap()[..5].to_string()).collect::<Vec<_>>()
    };
    // The cache holds the file's analysis; the per-file ignores written after it still apply.
    assert_eq!(codes(dir.path()), ["LS102", "LS104"]);
    write(dir.path(), "pyproject.toml", "[tool.loopsafe]\nper-file-ignores = { \"tests/*\" = [\"LS104\"] }\n");
    assert_eq!(codes(dir.path()), ["LS102"]);
    assert!(dir.path().join(".loopsafe_cache").is_dir());
    let out = loopsafe(dir.path(), &["check", "--diff", "-q"]);
    assert_eq!((out.status.code(), stderr(&out).as_str()), (Some(1), ""));
    assert!(stdout(&out).starts_with("--- a/tests/test_a.py\n"), "{}", stdout(&out));
    let out = loopsafe(dir.path(), &["check", "--fix", "-q"]);
    assert_eq!((out.status.code(), stdout(&out).as_str(), stderr(&out).as_str()), (Some(0), "", ""));
    // The ignored `open` call is left as it was.
    assert!(std::fs::read_to_string(dir.path().join("tests/test_a.py")).unwrap().contains("    open(\"x\").read()\n"));
}
