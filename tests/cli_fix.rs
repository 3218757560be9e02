//! `loopsafe check --fix / --unsafe-fixes / --diff` run as a user runs them, on a copy of a project.

mod common;

use std::path::Path;
use std::process::Command;

use common::{loopsafe, write};

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap()
}

const MAIN: &str = r#"import time

from fastapi import FastAPI

from .signing import sign_op1

app = FastAPI()


@app.get("/sign/{request_id}")
async def root(request_id: str):
    return sign_op1(request_id)


@app.get("/slow")
async def slow():
    time.sleep(1)
    return "ok"
"#;

const SIGNING: &str = r#"import requests

session = requests.Session()


def sign_op1(request_id):
    return session.post("https://signer.example.com/sign", json={"id": request_id}).text
"#;

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pyproject.toml", "[project]\nname = \"app\"\ndependencies = [\"fastapi\"]\n");
    write(dir.path(), "app/__init__.py", "");
    write(dir.path(), "app/main.py", MAIN);
    write(dir.path(), "app/signing.py", SIGNING);
    dir
}

#[test]
fn diff_shows_the_fixes_and_writes_nothing() {
    let dir = project();
    let out = loopsafe(dir.path(), &["check", "app", "--diff", "--no-cache"]);
    assert_eq!(out.status.code(), Some(1), "a diff to apply exits 1");
    let diff = String::from_utf8(out.stdout).unwrap();
    assert!(diff.starts_with("--- a/app/main.py\n+++ b/app/main.py\n"), "{diff}");
    assert!(diff.contains("+import asyncio\n"), "{diff}");
    assert!(diff.contains("-    time.sleep(1)\n+    await asyncio.sleep(1)\n"), "{diff}");
    // The chain's only fix (offloading a project helper) is unsafe: not in the safe diff.
    assert!(!diff.contains("run_in_threadpool"), "{diff}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("would apply 1 fix in 1 file"));
    assert_eq!(read(dir.path(), "app/main.py"), MAIN, "--diff writes nothing");

    // Unsafe fixes: the chain is made async, its module-level session an `httpx.AsyncClient` per loop.
    let out = loopsafe(dir.path(), &["check", "app", "--diff", "--unsafe-fixes", "--no-cache"]);
    let diff = String::from_utf8(out.stdout).unwrap();
    assert!(diff.contains("-    return sign_op1(request_id)\n+    return await sign_op1(request_id)\n"), "{diff}");
    assert!(
        diff.contains("-session = requests.Session()\n")
            && diff.contains("+session_ssl_context = httpx.create_ssl_context()\n"),
        "{diff}"
    );
    assert!(diff.contains("+def session() -> httpx.AsyncClient:\n"), "{diff}");

    // `--unsafe-fixes` without --fix or --diff changes nothing (as ruff's): it reports, in any format.
    for format in ["text", "json"] {
        let out = loopsafe(dir.path(), &["check", "app", "--unsafe-fixes", "--no-cache", "--output-format", format]);
        assert_eq!(out.status.code(), Some(1), "{format}: the findings are reported");
        assert!(!String::from_utf8_lossy(&out.stderr).contains("applied"), "{format}");
        assert_eq!(read(dir.path(), "app/main.py"), MAIN, "{format}: --unsafe-fixes alone writes nothing");
    }
}

#[test]
fn fix_then_unsafe_fixes_converge_to_nothing_left() {
    let dir = project();
    // Safe fixes only: time.sleep is fixed, the chain remains and is reported.
    let out = loopsafe(dir.path(), &["check", "app", "--fix", "--no-cache"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.contains("applied 1 fix in 1 file"), "{err}");
    assert_eq!(out.status.code(), Some(1), "the chain finding remains");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("LS101") && !text.contains("LS102"), "{text}");
    assert!(read(dir.path(), "app/main.py").contains("    await asyncio.sleep(1)\n"));

    // Unsafe fixes too: the chain is made async (its session an `httpx.AsyncClient` per event loop, the
    // TLS context made once at import); nothing is left.
    let out = loopsafe(dir.path(), &["check", "app", "--fix", "--unsafe-fixes", "--no-cache"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let fixed = read(dir.path(), "app/main.py");
    assert!(fixed.contains("return await sign_op1(request_id)"), "{fixed}");
    assert_eq!(
        read(dir.path(), "app/signing.py"),
        format!(
            "import asyncio\n\nimport httpx\n\n{}\n\n\nasync def sign_op1(request_id):\n    return (await session().post(\"https://signer.example.com/sign\", json={{\"id\": request_id}})).text\n",
            per_loop_session("session")
        )
    );
    let compiled = Command::new("python3")
        .args(["-c", "import sys; compile(sys.stdin.read(), 'main.py', 'exec')"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .map(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(fixed.as_bytes()).unwrap();
            child.wait().unwrap().success()
        });
    assert!(compiled.unwrap_or(true), "the fixed file compiles");

    // A second run has nothing to fix.
    let out = loopsafe(dir.path(), &["check", "app", "--fix", "--unsafe-fixes", "--no-cache"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("applied 0 fixes in 0 files"));
    assert_eq!(read(dir.path(), "app/main.py"), fixed);
}

#[test]
fn json_lists_chain_fixes_with_positions() {
    let dir = project();
    let out = loopsafe(dir.path(), &["check", "app", "--output-format", "json", "--no-cache"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let chain = v.as_array().unwrap().iter().find(|d| d["rule"] == "blocking-http").unwrap();
    let offload = &chain["fixes"][0];
    assert_eq!(offload["title"], "Offload `sign_op1` to a thread with `run_in_threadpool`");
    assert_eq!(offload["applicability"], "unsafe");
    assert_eq!(offload["kind"], "offload");
    let call = offload["edits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["content"].as_str().unwrap().starts_with("await"))
        .unwrap();
    assert_eq!(call["start"], serde_json::json!({ "line": 12, "column": 12 }));
    assert_eq!(call["end"], serde_json::json!({ "line": 12, "column": 32 }));
}

/// A command-line command with a finding of its own, and a route whose only finding is a chain (known
/// after linking the project).
fn commands_and_routes() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pyproject.toml", "[project]\nname = \"app\"\ndependencies = [\"fastapi\"]\n");
    write(dir.path(), "app/__init__.py", "");
    write(
        dir.path(),
        "app/cli.py",
        "import time\n\nimport typer\n\napp = typer.Typer()\n\n\n@app.command()\nasync def logout():\n    time.sleep(1)\n",
    );
    write(
        dir.path(),
        "app/api.py",
        "from fastapi import FastAPI\n\nfrom .helpers import slow_helper\n\napp = FastAPI()\n\n\n@app.get(\"/x\")\nasync def route():\n    return slow_helper()\n",
    );
    write(dir.path(), "app/helpers.py", "import time\n\n\ndef slow_helper():\n    time.sleep(1)\n    return 1\n");
    dir
}

fn fix_titles(out: &std::process::Output, path: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = v.as_array().unwrap().iter().find(|d| d["path"] == path).unwrap_or_else(|| panic!("no finding in {path}"));
    d["fixes"].as_array().unwrap().iter().map(|f| f["title"].as_str().unwrap().to_string()).collect()
}

/// The fixes JSON lists are the same whether the check analysed a file just now (and kept its routes),
/// took its analysis from the cache (and the fixes find the routes again), or took the fixes themselves
/// from the cache; a route whose only finding is a chain is made sync as one with a finding of its own,
/// and a command-line command is no route: making it a plain `def` is not offered (its framework does not
/// run it in a worker thread). The check's own list once held the commands too.
#[test]
fn json_fixes_are_the_same_from_a_fresh_or_cached_analysis_and_from_the_fix_cache() {
    let dir = commands_and_routes();
    let json = |extra: &[&str]| {
        let mut args = vec!["check", "app", "--output-format", "json", "--exit-zero"];
        args.extend_from_slice(extra);
        let out = loopsafe(dir.path(), &args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out
    };
    let fresh = json(&["--no-cache"]);
    let route = fix_titles(&fresh, "app/api.py");
    assert!(
        route.contains(&"Make `route` a plain `def` (the framework runs it in a worker thread)".to_string()),
        "{route:?}"
    );
    let command = fix_titles(&fresh, "app/cli.py");
    assert!(command.iter().any(|t| t.contains("asyncio.sleep")), "{command:?}");
    assert!(!command.iter().any(|t| t.contains("plain `def`")), "{command:?}");

    // The analysis cached by a text run, the fixes found again.
    let analyses = dir.path().join("analyses");
    let cache = analyses.to_str().unwrap();
    let text = loopsafe(dir.path(), &["check", "app", "--exit-zero", "--cache-dir", cache]);
    assert!(text.status.success());
    assert_eq!(String::from_utf8_lossy(&json(&["--cache-dir", cache]).stdout), String::from_utf8_lossy(&fresh.stdout));
    // The fixes kept by a JSON run, then taken from the cache.
    let kept = dir.path().join("kept");
    let cache = kept.to_str().unwrap();
    assert_eq!(json(&["--cache-dir", cache]).stdout, fresh.stdout);
    let stored =
        std::fs::read_dir(std::fs::read_dir(&kept).unwrap().flatten().find(|e| e.path().is_dir()).unwrap().path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".fixes.bin"))
            .count();
    assert_eq!(stored, 1, "the JSON run keeps its fixes");
    assert_eq!(json(&["--cache-dir", cache]).stdout, fresh.stdout);
    // A file that changed since: its fixes are found again (its lines moved).
    let api = std::fs::read_to_string(dir.path().join("app/api.py")).unwrap();
    write(dir.path(), "app/api.py", format!("# moved\n{api}"));
    let fresh = json(&["--no-cache"]);
    assert_eq!(json(&["--cache-dir", cache]).stdout, fresh.stdout);
    let v: serde_json::Value = serde_json::from_slice(&fresh.stdout).unwrap();
    let route = v.as_array().unwrap().iter().find(|d| d["path"] == "app/api.py").unwrap();
    assert_eq!(route["fixes"][0]["edits"][1]["start"]["line"], 11, "{route}");
}

#[test]
fn a_bad_offload_setting_is_a_precise_error() {
    let dir = project();
    write(dir.path(), "pyproject.toml", "[project]\nname = \"app\"\n\n[tool.loopsafe]\noffload = \"threads\"\n");
    let out = loopsafe(dir.path(), &["check", "app", "--no-cache"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[tool.loopsafe] `offload`: `threads`: expected one of \"auto\", \"run_in_threadpool\", \"asyncio\", \"anyio\""),
        "{err}"
    );
}

#[test]
fn a_file_changed_on_disk_during_the_run_is_left_alone() {
    use loopsafe::{autofix, catalog::Catalog, check, settings::Settings};
    let dir = project();
    let settings = Settings::default();
    let paths = vec![dir.path().join("app")];
    let opts = check::CheckOptions { paths: &paths, settings: &settings, root: None, follow: true, cache_dir: None };
    let catalog = Catalog::bundled();
    let report = check::check(&opts, catalog).unwrap();
    assert!(!report.diagnostics.is_empty());
    // The file changes after the check read it and before the fixes are computed.
    let main = dir.path().join("app/main.py");
    std::fs::write(&main, MAIN.replace("time.sleep(1)", "time.sleep(2)")).unwrap();
    let mut warnings = Vec::new();
    let options = autofix::options(&settings, &paths);
    let fixes = autofix::compute(&report, catalog, &settings, &options, true, &mut warnings);
    assert!(fixes.is_empty(), "nothing is fixed in a changed file");
    assert!(warnings.iter().any(|w| w.contains("main.py: changed on disk")), "{warnings:?}");

    // Changed between computing and writing: also left alone.
    std::fs::write(&main, MAIN).unwrap();
    let report = check::check(&opts, catalog).unwrap();
    let fixes = autofix::compute(&report, catalog, &settings, &options, true, &mut warnings);
    assert_eq!(fixes.len(), 1);
    std::fs::write(&main, format!("{MAIN}\n")).unwrap();
    let mut warnings = Vec::new();
    let written = autofix::write(&fixes, &mut warnings);
    assert_eq!((written.files, written.fixes, written.errors.len()), (0, 0, 0));
    assert_eq!(std::fs::read_to_string(&main).unwrap(), format!("{MAIN}\n"));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
}

const ROUTES: &str = r#"from fastapi import FastAPI

from .signing import sign_op1

app = FastAPI()


@app.get("/a/{request_id}")
async def a(request_id: str):
    return {"signature": sign_op1(request_id)}


@app.get("/b/{request_id}")
def b(request_id: str):
    return {"signature": sign_op1(request_id)}
"#;

const CHAIN_SIGNING: &str = r#"from .ops import internal_signing_op


def sign_op1(request_id):
    return internal_signing_op(1, request_id)
"#;

const OPS: &str = r#"import requests


def internal_signing_op(op_num, request_id):
    response = requests.get(f"http://127.0.0.1:9000/sign/{request_id}/{op_num}", timeout=10)
    return response.text
"#;

fn chain_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pyproject.toml", "[project]\nname = \"app\"\ndependencies = [\"fastapi\", \"httpx\"]\n");
    write(dir.path(), "app/__init__.py", "");
    write(dir.path(), "app/main.py", ROUTES);
    write(dir.path(), "app/signing.py", CHAIN_SIGNING);
    write(dir.path(), "app/ops.py", OPS);
    dir
}

#[test]
fn unsafe_fixes_make_a_chain_across_modules_async_in_every_file() {
    let dir = chain_project();
    let out = loopsafe(dir.path(), &["check", "app", "--fix", "--unsafe-fixes", "--no-cache"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{err}\n{}", String::from_utf8_lossy(&out.stdout));
    assert!(err.contains("in 3 files"), "{err}");
    assert_eq!(
        read(dir.path(), "app/main.py"),
        ROUTES
            .replace("def b(", "async def b(")
            .replace("{\"signature\": sign_op1(", "{\"signature\": await sign_op1(")
    );
    assert_eq!(
        read(dir.path(), "app/signing.py"),
        CHAIN_SIGNING.replace("def sign_op1", "async def sign_op1").replace("return internal", "return await internal")
    );
    assert_eq!(
        read(dir.path(), "app/ops.py"),
        "import httpx\n\n\nasync def internal_signing_op(op_num, request_id):\n    async with httpx.AsyncClient(follow_redirects=True) as client:\n        response = await client.get(f\"http://127.0.0.1:9000/sign/{request_id}/{op_num}\", timeout=10)\n    return response.text\n"
    );
    for f in ["app/main.py", "app/signing.py", "app/ops.py"] {
        let compiled = Command::new("python3").args(["-m", "py_compile", f]).current_dir(dir.path()).status();
        assert!(compiled.map(|s| s.success()).unwrap_or(true), "{f} compiles");
    }
    // Converged: a second run has nothing to fix.
    let out = loopsafe(dir.path(), &["check", "app", "--fix", "--unsafe-fixes", "--no-cache"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("applied 0 fixes in 0 files"));
}

#[test]
fn a_sync_caller_off_the_chain_keeps_the_offload() {
    let dir = chain_project();
    write(dir.path(), "app/cli.py", "from app import signing\n\n\ndef main():\n    print(signing.sign_op1(\"x\"))\n");
    let out = loopsafe(dir.path(), &["check", "app", "--fix", "--unsafe-fixes", "--no-cache"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(read(dir.path(), "app/signing.py"), CHAIN_SIGNING, "the chain stays sync");
    assert_eq!(read(dir.path(), "app/ops.py"), OPS);
    assert!(read(dir.path(), "app/main.py").contains("await run_in_threadpool(sign_op1, request_id)"));
}

#[test]
fn the_files_of_a_chain_made_async_are_written_all_or_none() {
    let dir = chain_project();
    let (fixes, mut warnings) = common::unsafe_fixes(dir.path(), &[dir.path().join("app")]);
    assert_eq!(fixes.len(), 3, "{warnings:?}");
    assert!(fixes.iter().all(|f| f.group.is_some() && f.group == fixes[0].group));
    // One of them changes on disk before the writing: none is written.
    std::fs::write(dir.path().join("app/ops.py"), format!("{OPS}\n")).unwrap();
    let written = loopsafe::autofix::write(&fixes, &mut warnings);
    assert_eq!((written.files, written.fixes, written.errors.len()), (0, 0, 0));
    assert_eq!(read(dir.path(), "app/main.py"), ROUTES);
    assert_eq!(read(dir.path(), "app/signing.py"), CHAIN_SIGNING);
    assert!(warnings.iter().any(|w| w.contains("none of")), "{warnings:?}");
}

/// What a module-level `NAME = requests.Session()` becomes when a chain is made async: a function giving
/// the running event loop its own `httpx.AsyncClient` (a client's pooled connections belong to the
/// loop that opened them), with httpx's slow setup (TLS context, transport modules) done at import.
fn per_loop_session(name: &str) -> String {
    format!(
        "# httpx's setup, done at import rather than in an event loop: its TLS context (the CA bundle\n# read from disk), and the modules it imports when it makes its first transport.\n{name}_ssl_context = httpx.create_ssl_context()\nhttpx.AsyncHTTPTransport(verify={name}_ssl_context)\n{name}_clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {{}}\n\n\ndef {name}() -> httpx.AsyncClient:\n    \"\"\"The running event loop's own client: its pooled connections belong to that loop.\"\"\"\n    loop = asyncio.get_running_loop()\n    if loop not in {name}_clients:\n        for closed in [other for other in {name}_clients if other.is_closed()]:\n            del {name}_clients[closed]\n        {name}_clients[loop] = httpx.AsyncClient(\n            follow_redirects=True, timeout=None, verify={name}_ssl_context\n        )\n    return {name}_clients[loop]"
    )
}

/// The issue's seed example as shipped (`examples/slow_api`): its chain ends in a request on a
/// module-level `requests.Session()`, which becomes an `httpx.AsyncClient` per event loop; with a sync
/// function also using the session, the conversion is refused and the helper offloaded instead.
#[test]
fn the_seed_example_chain_is_made_async_with_a_module_level_async_client() {
    let example = common::repo_root().join("examples/slow_api");
    for refused in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        for rel in ["pyproject.toml", "slow_api/__init__.py", "slow_api/main.py", "slow_api/signing.py"] {
            write(dir.path(), rel, read(&example, rel));
        }
        let signing = read(dir.path(), "slow_api/signing.py");
        if refused {
            let extra = "\n\ndef warm_up() -> None:\n    _session.head(SIGNER_URL)\n";
            write(dir.path(), "slow_api/signing.py", format!("{signing}{extra}"));
        }
        let out = loopsafe(dir.path(), &["check", ".", "--fix", "--unsafe-fixes", "--no-cache"]);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.code().is_some_and(|c| c <= 1), "{err}");
        let (main, fixed) = (read(dir.path(), "slow_api/main.py"), read(dir.path(), "slow_api/signing.py"));
        if refused {
            assert!(main.contains("await run_in_threadpool(sign_op1, request_id)"), "{main}");
            assert!(fixed.contains("_session = requests.Session()") && !fixed.contains("async def"), "{fixed}");
            continue;
        }
        assert!(main.contains("return await sign_op1(request_id)"), "{main}");
        assert_eq!(
            fixed,
            signing
                .replace("import os", "import asyncio\nimport os")
                .replace("import requests", "import httpx")
                .replace("_session = requests.Session()", &per_loop_session("_session"))
                .replace("def internal_signing_op", "async def internal_signing_op")
                .replace("def sign_op1", "async def sign_op1")
                .replace("= _session.request(", "= await _session().request(")
                .replace("return internal_signing_op(", "return await internal_signing_op(")
        );
        let compiled =
            Command::new("python3").args(["-m", "py_compile", "slow_api/signing.py"]).current_dir(dir.path()).status();
        assert!(compiled.map(|s| s.success()).unwrap_or(true), "the converted module compiles");
        let out = loopsafe(dir.path(), &["check", ".", "--fix", "--unsafe-fixes", "--no-cache"]);
        assert!(String::from_utf8_lossy(&out.stderr).contains("applied 0 fixes in 0 files"), "converged");
    }
}

/// One-time work that several coroutines reach is one finding, at its first call site, with the others
/// as related places. `--fix` offloads every place (not only the reported one), except where a `# noqa`
/// suppresses it: a second run then finds nothing new to fix. It used to fix one place per run, so the
/// fix-safety step's second run changed four prefect files.
#[test]
fn every_place_of_one_time_work_reported_once_is_fixed_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pyproject.toml", "[project]\nname = \"app\"\ndependencies = [\"fastapi\"]\n");
    write(dir.path(), "app/__init__.py", "");
    write(
        dir.path(),
        "app/clients.py",
        "import subprocess\n\n_version = None\n\n\ndef git_version():\n    global _version\n    if _version is None:\n        _version = subprocess.run([\"git\", \"describe\"], capture_output=True, text=True).stdout\n    return _version\n",
    );
    let api = "from fastapi import FastAPI\n\nfrom .clients import git_version\n\napp = FastAPI()\n\n\n@app.get(\"/version\")\nasync def version():\n    return {\"version\": git_version()}\n\n\n@app.get(\"/health\")\nasync def health():\n    return {\"ok\": True, \"version\": git_version()}\n";
    let jobs = "from .clients import git_version\n\n\nasync def nightly():\n    print(git_version())\n\n\nasync def report():\n    return git_version()  # noqa: LS103\n";
    write(dir.path(), "app/api.py", api);
    write(dir.path(), "app/jobs.py", jobs);

    let out = loopsafe(dir.path(), &["check", "app", "--no-cache"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("also reached from `api.health`") && text.contains("also reached from `jobs.nightly`"),
        "{text}"
    );
    assert!(text.contains("Found 1 finding"), "one finding for the three places: {text}");

    let out = loopsafe(dir.path(), &["check", "app", "--fix", "--unsafe-fixes", "--no-cache"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.contains("applied 3 fixes in 2 files"), "{err}");
    assert_eq!(
        read(dir.path(), "app/api.py"),
        api.replace(
            "from fastapi import FastAPI\n",
            "from fastapi import FastAPI\nfrom fastapi.concurrency import run_in_threadpool\n"
        )
        .replace("git_version()}", "await run_in_threadpool(git_version)}")
    );
    assert_eq!(
        read(dir.path(), "app/jobs.py"),
        format!(
            "import asyncio\n\n{}",
            jobs.replace("print(git_version())", "print(await asyncio.to_thread(git_version))")
        )
    );
    let out = loopsafe(dir.path(), &["check", "app", "--fix", "--unsafe-fixes", "--no-cache"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.contains("applied 0 fixes in 0 files"), "a second run changes nothing: {err}");
}

/// The same with `per-file-ignores` turning the rule off in one file: its place is neither reported nor
/// fixed, the others are.
#[test]
fn a_place_of_one_time_work_in_an_ignored_file_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "pyproject.toml",
        "[project]\nname = \"app\"\ndependencies = [\"fastapi\"]\n\n[tool.loopsafe.per-file-ignores]\n\"app/jobs.py\" = [\"LS103\"]\n",
    );
    write(dir.path(), "app/__init__.py", "");
    write(
        dir.path(),
        "app/clients.py",
        "import subprocess\n\n_version = None\n\n\ndef git_version():\n    global _version\n    if _version is None:\n        _version = subprocess.run([\"git\", \"describe\"], capture_output=True, text=True).stdout\n    return _version\n",
    );
    let api = "from fastapi import FastAPI\n\nfrom .clients import git_version\n\napp = FastAPI()\n\n\n@app.get(\"/version\")\nasync def version():\n    return {\"version\": git_version()}\n";
    let jobs = "from .clients import git_version\n\n\nasync def nightly():\n    print(git_version())\n";
    write(dir.path(), "app/api.py", api);
    write(dir.path(), "app/jobs.py", jobs);
    let out = loopsafe(dir.path(), &["check", "app", "--fix", "--unsafe-fixes", "--no-cache"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.contains("applied 1 fix in 1 file"), "{err}");
    assert!(read(dir.path(), "app/api.py").contains("await run_in_threadpool(git_version)"));
    assert_eq!(read(dir.path(), "app/jobs.py"), jobs, "the ignored file is not fixed");
    let out = loopsafe(dir.path(), &["check", "app", "--fix", "--unsafe-fixes", "--no-cache"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.contains("applied 0 fixes in 0 files"), "{err}");
}

const TWO_CHAINS_MAIN: &str = r#"from fastapi import FastAPI

from .helpers import fetch_quote, nap

app = FastAPI()


@app.get("/quote")
async def quote():
    return fetch_quote()


@app.get("/nap")
async def nap_route():
    return nap()
"#;

const TWO_CHAINS_HELPERS: &str = r#"import time

import requests


def fetch_quote():
    return requests.get("http://127.0.0.1:9000/quote", timeout=10).text


def nap():
    time.sleep(1)
    return "ok"
"#;

/// Two chains whose home is one file: a round of fixes makes one async across the workspace (the
/// other's ranges are stale after it); the fix loop analyses again and makes the second async in the
/// same run, and a second run changes nothing.
#[test]
fn one_fix_run_makes_two_chains_of_one_file_async() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pyproject.toml", "[project]\nname = \"app\"\ndependencies = [\"fastapi\", \"httpx\"]\n");
    write(dir.path(), "app/__init__.py", "");
    write(dir.path(), "app/main.py", TWO_CHAINS_MAIN);
    write(dir.path(), "app/helpers.py", TWO_CHAINS_HELPERS);
    let out = loopsafe(dir.path(), &["check", "app", "--fix", "--unsafe-fixes", "--no-cache"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{err}\n{}", String::from_utf8_lossy(&out.stdout));
    assert!(err.contains("applied 2 fixes in 2 files"), "{err}");
    assert_eq!(
        read(dir.path(), "app/main.py"),
        TWO_CHAINS_MAIN
            .replace("return fetch_quote()", "return await fetch_quote()")
            .replace("return nap()", "return await nap()")
    );
    assert_eq!(
        read(dir.path(), "app/helpers.py"),
        "import asyncio\n\nimport httpx\n\n\nasync def fetch_quote():\n    async with httpx.AsyncClient(follow_redirects=True) as client:\n        return (await client.get(\"http://127.0.0.1:9000/quote\", timeout=10)).text\n\n\nasync def nap():\n    await asyncio.sleep(1)\n    return \"ok\"\n"
    );
    let out = loopsafe(dir.path(), &["check", "app", "--fix", "--unsafe-fixes", "--no-cache"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("applied 0 fixes in 0 files"), "converged");
    assert_eq!(read(dir.path(), "app/main.py").matches("await ").count(), 2);
}

const SQLITE_MAIN: &str = "from fastapi import FastAPI\n\nfrom .store import load_notes\n\napp = FastAPI()\n\n\n@app.get(\"/notes\")\nasync def notes(limit: int = 10):\n    return load_notes(limit)\n";
const SQLITE_STORE: &str = "import sqlite3\n\n\ndef load_notes(limit):\n    conn = sqlite3.connect(\"notes.db\", timeout=5)\n    try:\n        cur = conn.cursor()\n        cur.execute(\"select text from notes limit ?\", (limit,))\n        return [r[0] for r in cur.fetchall()]\n    finally:\n        conn.close()\n";

/// A chain ending in a sqlite3 connection: `--fix --unsafe-fixes` makes it async with aiosqlite (every
/// call on the connection and its cursor awaited); a connection passed to another function refuses it,
/// and the helper is offloaded instead.
#[test]
fn unsafe_fixes_make_a_sqlite_chain_async_with_aiosqlite_or_offload_it() {
    for refused in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "pyproject.toml", "[project]\nname = \"app\"\ndependencies = [\"fastapi\", \"aiosqlite\"]\n");
        write(dir.path(), "app/__init__.py", "");
        write(dir.path(), "app/main.py", SQLITE_MAIN);
        let store = if refused {
            SQLITE_STORE.replace("        cur = conn.cursor()\n", "        cur = conn.cursor()\n        audit(conn)\n")
                + "\n\ndef audit(conn):\n    conn.execute(\"insert into audit values (1)\")\n"
        } else {
            SQLITE_STORE.to_string()
        };
        write(dir.path(), "app/store.py", &store);
        let out = loopsafe(dir.path(), &["check", "app", "--fix", "--unsafe-fixes", "--no-cache"]);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.code().is_some_and(|c| c <= 1), "{err}");
        if refused {
            assert_eq!(read(dir.path(), "app/store.py"), store, "the connection is passed on: the chain stays sync");
            assert!(read(dir.path(), "app/main.py").contains("await run_in_threadpool(load_notes, limit)"));
            continue;
        }
        assert!(err.contains("in 2 files"), "{err}");
        assert_eq!(
            read(dir.path(), "app/main.py"),
            SQLITE_MAIN.replace("return load_notes(", "return await load_notes(")
        );
        assert_eq!(
            read(dir.path(), "app/store.py"),
            "import aiosqlite\n\n\nasync def load_notes(limit):\n    conn = await aiosqlite.connect(\"notes.db\", timeout=5)\n    try:\n        cur = await conn.cursor()\n        await cur.execute(\"select text from notes limit ?\", (limit,))\n        return [r[0] for r in await cur.fetchall()]\n    finally:\n        await conn.close()\n"
        );
        for f in ["app/main.py", "app/store.py"] {
            let compiled = Command::new("python3").args(["-m", "py_compile", f]).current_dir(dir.path()).status();
            assert!(compiled.map(|s| s.success()).unwrap_or(true), "{f} compiles");
        }
        let out = loopsafe(dir.path(), &["check", "app", "--fix", "--unsafe-fixes", "--no-cache"]);
        assert!(String::from_utf8_lossy(&out.stderr).contains("applied 0 fixes in 0 files"), "converged");
    }
}

/// `--diff` shows what `--fix` writes over all its rounds (computed in memory, nothing written): the
/// two chains of one file, which `--fix` makes async in two rounds, are both in the diff.
#[test]
fn diff_shows_every_round_of_the_fix_loop() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pyproject.toml", "[project]\nname = \"app\"\ndependencies = [\"fastapi\", \"httpx\"]\n");
    write(dir.path(), "app/__init__.py", "");
    write(dir.path(), "app/main.py", TWO_CHAINS_MAIN);
    write(dir.path(), "app/helpers.py", TWO_CHAINS_HELPERS);
    let out = loopsafe(dir.path(), &["check", "app", "--diff", "--unsafe-fixes", "--no-cache"]);
    let (diff, err) = (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{err}\n{diff}");
    assert!(err.contains("would apply 2 fixes in 2 files"), "{err}");
    for line in [
        "+    return await fetch_quote()",
        "+    return await nap()",
        "+async def fetch_quote():",
        "+async def nap():",
        "+    await asyncio.sleep(1)",
    ] {
        assert!(diff.contains(line), "{line:?} missing from\n{diff}");
    }
    // Nothing written; then `--fix` writes exactly what the diff showed.
    assert_eq!(read(dir.path(), "app/main.py"), TWO_CHAINS_MAIN);
    assert_eq!(read(dir.path(), "app/helpers.py"), TWO_CHAINS_HELPERS);
    let out = loopsafe(dir.path(), &["check", "app", "--fix", "--unsafe-fixes", "--no-cache"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("applied 2 fixes in 2 files"));
    let after = loopsafe(dir.path(), &["check", "app", "--diff", "--unsafe-fixes", "--no-cache"]);
    assert!(after.stdout.is_empty(), "{}", String::from_utf8_lossy(&after.stdout));
    for (name, before) in [("app/main.py", TWO_CHAINS_MAIN), ("app/helpers.py", TWO_CHAINS_HELPERS)] {
        let now = read(dir.path(), name);
        let removed: Vec<&str> = before.lines().filter(|l| !now.lines().any(|n| n == *l)).collect();
        for l in removed {
            assert!(diff.contains(&format!("-{l}")), "{name}: {l:?} not in the diff");
        }
        for l in now.lines().filter(|l| !before.lines().any(|b| b == *l)) {
            assert!(diff.contains(&format!("+{l}")), "{name}: {l:?} not in the diff");
        }
    }
}
