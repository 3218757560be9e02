//! The data that drives the analysis compiles and is complete: every query file compiles and is
//! listed, every catalog file loads and is listed, every rule's documentation is well-formed and its
//! examples behave as documented.

mod common;

use loopsafe::analysis::analyze_source;
use loopsafe::catalog::{self, Catalog};
use loopsafe::rules::{RULES, Rule};
use loopsafe::settings::Settings;
use loopsafe::syntax;

fn listed_files(dir: &str, ext: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(common::repo_root().join(dir))
        .expect("folder exists")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(ext))
        .collect();
    names.sort();
    names
}

#[test]
fn every_query_file_compiles_and_is_bundled() {
    for (name, text) in syntax::QUERY_FILES {
        tree_sitter::Query::new(&syntax::language(), text).unwrap_or_else(|e| panic!("queries/python/{name}: {e}"));
    }
    syntax::compile(syntax::QUERY_FILES).unwrap_or_else(|e| panic!("{e}"));
    let mut bundled: Vec<String> = syntax::QUERY_FILES.iter().map(|(n, _)| n.to_string()).collect();
    bundled.sort();
    assert_eq!(bundled, listed_files("queries/python", ".scm"), "syntax::QUERY_FILES must list every .scm file");
}

#[test]
fn every_catalog_file_loads_and_is_bundled() {
    for (name, text) in catalog::BUNDLED_FILES {
        Catalog::from_files([(*name, *text)]).unwrap_or_else(|e| panic!("{e}"));
    }
    let cat = Catalog::from_files(catalog::BUNDLED_FILES.iter().copied()).unwrap_or_else(|e| panic!("{e}"));
    let mut bundled: Vec<String> = catalog::BUNDLED_FILES.iter().map(|(n, _)| n.to_string()).collect();
    bundled.sort();
    assert_eq!(bundled, listed_files("queries/catalog", ".toml"), "catalog::BUNDLED_FILES must list every .toml file");
    // Every blocking rule except the user-configured one has catalog entries.
    for rule in Rule::all().filter(|r| r.is_blocking() && *r != Rule::BlockingCustom) {
        assert!(cat.blocking_names().any(|(_, e)| e.rule == rule), "no catalog entry reports {rule}");
    }
}

#[test]
fn the_catalog_covers_the_required_families() {
    let cat = Catalog::bundled();
    let must_block = [
        "requests.get",
        "requests.Session.post",
        "urllib.request.urlopen",
        "httpx.get",
        "httpx.Client.get",
        "time.sleep",
        "subprocess.run",
        "subprocess.check_output",
        "os.system",
        "os.popen",
        "os.spawnl",
        "os.waitpid",
        "builtins.open",
        "io.open",
        "os.fdopen",
        "pathlib.Path.read_text",
        "pathlib.Path.mkdir",
        "os.path.exists",
        "os.listdir",
        "os.walk",
        "glob.glob",
        "shutil.copy",
        "shutil.rmtree",
        "tempfile.mkstemp",
        "gzip.open",
        "builtins.input",
        "getpass.getpass",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.create_connection",
        "smtplib.SMTP",
        "sqlite3.connect",
        "psycopg2.connect",
        "pymysql.connect",
        "threading.Event.wait",
        "queue.Queue.get",
        "concurrent.futures.Future.result",
        "asyncio.run",
        // The sync clients current in 2026 (issue 12).
        "psycopg.connect",
        "oracledb.connect",
        "pymssql.connect",
        "pymssql.Cursor.execute",
        "cassandra.cluster.Cluster.connect",
        "pika.BlockingConnection",
        "pika.adapters.blocking_connection.BlockingChannel.basic_publish",
        "stripe.Customer.create",
        "twilio.rest.Client.messages.create",
        "websocket.create_connection",
        "google.cloud.storage.Client.get_bucket",
        "niquests.get",
        "niquests.Session.get",
    ];
    let missing: Vec<&str> = must_block.iter().copied().filter(|n| cat.blocking(n).is_none()).collect();
    assert!(missing.is_empty(), "not blocking in the catalog: {missing:?}");
    // httpx2, the maintained continuation of httpx, is httpx.
    assert_eq!(cat.canonical("httpx2.Client.get"), "httpx.Client.get");
    assert_eq!(cat.alternatives_of("httpx"), ["httpx2"]);
    let must_not_block = [
        "os.path.join",
        "os.path.basename",
        "os.path.splitext",
        "pathlib.Path.joinpath",
        "pathlib.Path.with_suffix",
        "httpx.AsyncClient.get",
        "asyncio.sleep",
        "anyio.open_file",
        "aiofiles.open",
        "builtins.print",
        "builtins.dict.get",
        "queue.Queue.get_nowait",
        "niquests.AsyncSession.get",
        "niquests.aget",
        "pika.adapters.blocking_connection.BlockingChannel.is_open",
    ];
    let wrong: Vec<&str> = must_not_block.iter().copied().filter(|n| cat.blocking(n).is_some()).collect();
    assert!(wrong.is_empty(), "blocking in the catalog but should not be: {wrong:?}");
}

/// The first ```python block under a `## heading`.
fn python_block<'a>(doc: &'a str, heading: &str) -> Option<&'a str> {
    let start = doc.find(&format!("\n## {heading}\n"))?;
    let rest = &doc[start..];
    let next = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    let section = &rest[..next];
    let open = section.find("```python\n")? + "```python\n".len();
    let close = section[open..].find("\n```")?;
    Some(&section[open..open + close + 1])
}

#[test]
fn every_rule_has_documentation_whose_examples_behave() {
    let mut problems = Vec::new();
    for info in RULES {
        let doc = info.doc;
        let title = format!("# {} ({})", info.name, info.code);
        if !doc.starts_with(&title) {
            problems.push(format!("{}: the doc must start with `{title}`", info.name));
        }
        for h in ["What it does", "Why is this bad?", "Example", "Use instead", "Fix safety"] {
            if !doc.contains(&format!("\n## {h}\n")) {
                problems.push(format!("{}: missing `## {h}`", info.name));
            }
        }
        match python_block(doc, "Example") {
            None => problems.push(format!("{}: no ```python block under Example", info.name)),
            // Found from a runtime recording only (tests/runtime.rs checks that its Example is not
            // found statically).
            Some(_) if info.rule == Rule::BlockingSeenAtRuntime => {}
            Some(code) => {
                let fired = common::findings(code).iter().any(|f| f.rule == info.rule);
                if !fired {
                    problems.push(format!("{}: its Example does not trigger it", info.name));
                }
            }
        }
        match python_block(doc, "Use instead") {
            None => problems.push(format!("{}: no ```python block under Use instead", info.name)),
            Some(code) => {
                let found = common::findings(code);
                if !found.is_empty() {
                    let list: Vec<String> = found.iter().map(|f| format!("{}: {}", f.rule, f.message)).collect();
                    problems.push(format!("{}: its Use instead has findings: {list:?}", info.name));
                }
            }
        }
    }
    assert!(problems.is_empty(), "rule documentation problems:\n{}", problems.join("\n"));
}

#[test]
fn analysis_is_pure_and_repeatable() {
    let src = "import time\nasync def f():\n    time.sleep(1)\n";
    let a = analyze_source(src, Catalog::bundled(), &Settings::default());
    let b = analyze_source(src, Catalog::bundled(), &Settings::default());
    assert_eq!(a, b);
    assert_eq!(a.len(), 1);
}

#[test]
fn the_readme_lists_every_rule() {
    let readme = std::fs::read_to_string(common::repo_root().join("README.md")).expect("README.md exists");
    for info in RULES {
        let row = format!("| {} | `{}` |", info.code, info.name);
        assert!(readme.contains(&row), "README.md's rule table has no row starting `{row}`");
    }
}

/// Every `[tool.loopsafe]` key is a VS Code setting (`loopsafe.<key>` in the extension's package.json)
/// that the extension sends to the server (its `SERVER_KEYS`), and nothing else is.
#[test]
fn every_setting_is_a_vscode_setting() {
    let root = common::repo_root().join("editors/vscode");
    let package: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("package.json")).unwrap()).unwrap();
    let properties = package["contributes"]["configuration"]["properties"].as_object().expect("properties");
    let extension = std::fs::read_to_string(root.join("src/extension.ts")).unwrap();
    let start = extension.find("const SERVER_KEYS = [").expect("SERVER_KEYS in extension.ts");
    let list = &extension[start..start + extension[start..].find("];").unwrap()];
    let mut sent: Vec<&str> = list.split('"').skip(1).step_by(2).collect();
    sent.sort();
    let mut keys: Vec<&str> = loopsafe::settings::KEYS.to_vec();
    keys.sort();
    assert_eq!(sent, keys, "extension.ts SERVER_KEYS against settings::KEYS");
    for key in keys {
        assert!(properties.contains_key(&format!("loopsafe.{key}")), "package.json lacks the setting loopsafe.{key}");
    }
}

/// One version everywhere: the crate's (the wheel, `loopsafe --version` and the server's `serverInfo`
/// take it from Cargo), the VS Code extension's, and the newest entry of CHANGELOG.md.
#[test]
fn the_versions_agree() {
    let version = env!("CARGO_PKG_VERSION");
    let root = common::repo_root();
    let package: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("editors/vscode/package.json")).unwrap()).unwrap();
    assert_eq!(package["version"], version, "editors/vscode/package.json");
    let changelog = std::fs::read_to_string(root.join("CHANGELOG.md")).expect("CHANGELOG.md");
    let newest = changelog.lines().find_map(|l| l.strip_prefix("## ")).expect("a `## <version>` entry");
    assert_eq!(newest.split_whitespace().next(), Some(version), "CHANGELOG.md's newest entry: {newest}");
    let pyproject = std::fs::read_to_string(root.join("pyproject.toml")).unwrap();
    assert!(
        pyproject.contains("dynamic = [\"version\"]") || pyproject.contains(&format!("version = \"{version}\"")),
        "pyproject.toml takes its version from Cargo or states {version}"
    );
}

/// A file opened in binary mode is an `io.BufferedReader` / `io.BufferedWriter` / `io.BufferedRandom` in
/// messages, as Python names it (the catalog's `[modes]`); a text mode stays an `io.TextIOWrapper`.
#[test]
fn files_opened_in_binary_mode_are_named_as_python_names_them() {
    // Handles opened at module level: each use in a coroutine is a finding of its own.
    let text = r#"import os, pathlib

A = open("a.bin", "rb")
B = open("b.bin", mode="wb")
C = pathlib.Path("c.bin").open("r+b")
D = os.fdopen(3, "ab")
E = open("e.txt", "r")
F = open("f.txt")

async def handles():
    A.read()
    B.write(b"x")
    C.readline()
    D.flush()
    E.read()
    F.read()
"#;
    let callees: Vec<String> =
        common::findings(text).into_iter().filter_map(|f| f.callee).filter(|c| c.starts_with("io.")).collect();
    assert_eq!(
        callees,
        [
            "io.BufferedReader.read",
            "io.BufferedWriter.write",
            "io.BufferedRandom.readline",
            "io.BufferedWriter.flush",
            "io.TextIOWrapper.read",
            "io.TextIOWrapper.read",
        ]
    );
}
