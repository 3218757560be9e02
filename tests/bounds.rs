//! Bounded work on abusive input (issue 18): deep nesting of every form, long chains, deep package
//! trees and star imports finish, give the right findings, and say so where a bound cut work off.
//!
//! Each case is generated here, in a temporary directory, and runs on its own thread with a generous
//! limit: missing it means a hang, not slowness (scaling figures are `examples/scaling.rs`'s job).

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use loopsafe::catalog::Catalog;
use loopsafe::check::{self, CheckOptions, Report};
use loopsafe::fix;
use loopsafe::output;
use loopsafe::project::MAX_HOPS;
use loopsafe::settings::Settings;

/// Runs `f` on a thread of the default (small) stack size; fails if it panics or takes more than
/// two minutes.
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name(what.into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .expect("a thread");
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(v) => v,
        Err(RecvTimeoutError::Timeout) => panic!("{what}: no answer in 120 s (a hang)"),
        Err(RecvTimeoutError::Disconnected) => panic!("{what}: panicked"),
    }
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// `loopsafe check` of a whole project directory, calls followed.
fn check_dir(root: &Path) -> Report {
    let settings = Settings::default();
    let paths = vec![root.to_path_buf()];
    let opts = CheckOptions { paths: &paths, settings: &settings, root: Some(root), follow: true, cache_dir: None };
    check::check(&opts, Catalog::bundled()).expect("the check runs")
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pyproject.toml", "[project]\nname = \"bounds\"\n");
    dir
}

fn rules(report: &Report) -> Vec<(String, usize, &'static str)> {
    report
        .diagnostics
        .iter()
        .map(|d| {
            (Path::new(&d.path).file_name().unwrap().to_string_lossy().into(), d.start.line, d.finding.rule.name())
        })
        .collect()
}

/// `g(g(g(...)))`: followed to 20,000 levels (CPython stops at 200); deeper, tree-sitter takes minutes,
/// so what is inside is left out, with a warning where.
#[test]
fn nested_calls_100_000_deep() {
    let (deep, shallow) = within("nested calls", || {
        let run = |n: usize| {
            let dir = project();
            let text = format!(
                "import time\n\n\nasync def f(x):\n    return {}time.sleep(x){}\n    time.sleep(2)\n",
                "g(".repeat(n),
                ")".repeat(n)
            );
            write(dir.path(), "calls.py", &text);
            let report = check_dir(dir.path());
            (rules(&report), report.warnings)
        };
        (run(100_000), run(4_000))
    });
    assert_eq!(deep.0, vec![("calls.py".into(), 6, "blocking-sleep")]);
    assert_eq!(deep.1.len(), 1, "{:?}", deep.1);
    assert!(deep.1[0].contains("calls.py:5:40013: brackets nested more than 20000 levels deep"), "{:?}", deep.1);
    assert_eq!(shallow.0, vec![("calls.py".into(), 5, "blocking-sleep"), ("calls.py".into(), 6, "blocking-sleep")]);
    assert!(shallow.1.is_empty(), "{:?}", shallow.1);
}

#[test]
fn calls_of_calls_and_attribute_chains_50_000_long() {
    let found = within("attribute chains", || {
        let dir = project();
        let n = 50_000;
        let text = format!(
            "import time\n\n\nasync def f(a):\n    a{}.c()\n    a{}\n    time.sleep(1)\n",
            ".b".repeat(n),
            "()".repeat(n)
        );
        write(dir.path(), "attrs.py", &text);
        rules(&check_dir(dir.path()))
    });
    assert_eq!(found, vec![("attrs.py".into(), 7, "blocking-sleep")]);
}

/// 2,000 coroutines each reaching a 2,000-deep helper chain: every output carries a bounded chain,
/// with one hop saying how many calls were left out.
#[test]
fn long_chains_are_reported_with_bounded_hops() {
    let (report, json, text, sarif) = within("long chains", || {
        let dir = project();
        let n = 2_000;
        let mut helpers = String::from("import time\n\n\n");
        for i in 0..n {
            helpers.push_str(&format!("def h{i}():\n    h{}()\n\n\n", i + 1));
        }
        helpers.push_str(&format!("def h{n}():\n    time.sleep(1)\n"));
        write(dir.path(), "helpers.py", &helpers);
        let mut api = String::from("from helpers import h0\n\n\n");
        for i in 0..n {
            api.push_str(&format!("async def c{i}():\n    h0()\n\n\n"));
        }
        write(dir.path(), "api.py", &api);
        let report = check_dir(dir.path());
        let json = output::json(&report.diagnostics);
        let text = output::text(&report.diagnostics, report.files_checked, false);
        let sarif = output::sarif(&report.diagnostics);
        (rules(&report), json, text, sarif)
    });
    assert_eq!(report.len(), 2_000);
    assert!(report.iter().all(|(file, _, rule)| file == "api.py" && *rule == "blocking-sleep"));

    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let findings = json.as_array().unwrap();
    assert_eq!(findings.len(), 2_000);
    // h0 .. h2000 then time.sleep: 2,002 hops, of which the first 8 and the last 7 are shown.
    let whole = 2_002;
    for f in findings {
        let chain = f["chain"].as_array().unwrap();
        assert_eq!(chain.len(), MAX_HOPS, "{f}");
        assert!(f["message"].as_str().unwrap().contains("2001 calls down"), "{f}");
        let names: Vec<&str> = chain.iter().map(|h| h["name"].as_str().unwrap()).collect();
        assert_eq!(
            &names[..8],
            [
                "helpers.h0",
                "helpers.h1",
                "helpers.h2",
                "helpers.h3",
                "helpers.h4",
                "helpers.h5",
                "helpers.h6",
                "helpers.h7"
            ]
        );
        assert_eq!(chain[8]["elided"], whole - 15, "{f}");
        assert_eq!(
            &names[9..],
            [
                "helpers.h1995",
                "helpers.h1996",
                "helpers.h1997",
                "helpers.h1998",
                "helpers.h1999",
                "helpers.h2000",
                "time.sleep"
            ]
        );
        // Only the elision hop carries `elided`; it is placed at the first call left out (`h8()` in h7).
        assert_eq!(chain.iter().filter(|h| h.get("elided").is_some()).count(), 1);
        assert_eq!(chain[8]["line"], 4 * 7 + 5);
        assert_eq!(chain[8]["path"], chain[7]["path"]);
    }
    // The text numbers hops by their place in the whole chain.
    assert!(text.contains("     7: helpers.h7 at "), "{}", text.chars().take(2000).collect::<String>());
    assert!(text.contains(&format!("…: … {} more calls … (from ", whole - 15)));
    assert!(text.contains("     2001: time.sleep at "));
    let sarif: serde_json::Value = serde_json::from_str(&sarif).unwrap();
    let flows = &sarif["runs"][0]["results"][0]["codeFlows"][0]["threadFlows"][0]["locations"];
    assert_eq!(flows.as_array().unwrap().len(), MAX_HOPS);
}

/// A 1,000-level package tree, each `__init__` re-exporting the level below: 1,002 files.
#[test]
fn deep_package_tree_is_linked() {
    let found = within("package tree", || {
        let dir = project();
        let n = 1_000;
        let mut rel = String::new();
        for i in 0..n {
            rel.push_str("d/");
            let import = if i + 1 == n { "from .m import leaf\n" } else { "from .d import leaf\n" };
            write(dir.path(), &format!("{rel}__init__.py"), import);
        }
        write(dir.path(), &format!("{rel}m.py"), "import time\n\n\ndef leaf():\n    time.sleep(1)\n");
        write(dir.path(), "app.py", "from d import leaf\n\n\nasync def main():\n    leaf()\n");
        let report = check_dir(dir.path());
        assert_eq!(report.files_checked, n + 2);
        let chains: Vec<Vec<String>> =
            report.diagnostics.iter().map(|d| d.chain.iter().map(|h| h.name.clone()).collect()).collect();
        (rules(&report), chains)
    });
    assert_eq!(found.0, vec![("app.py".into(), 5, "blocking-sleep")]);
    assert_eq!(found.1, vec![vec!["m.leaf".to_string(), "time.sleep".to_string()]]);
}

/// Star imports of a deep chain of modules, each star-importing the previous one, and a cycle.
#[test]
fn star_imports_through_a_long_chain_and_a_cycle() {
    let found = within("star imports", || {
        let dir = project();
        let n = 1_000;
        write(dir.path(), "m0.py", "import time\n\nfrom m999 import *\n\n\ndef leaf():\n    time.sleep(1)\n");
        for i in 1..n {
            write(dir.path(), &format!("m{i}.py"), &format!("from m{} import *\n", i - 1));
        }
        write(dir.path(), "app.py", "from m999 import *\n\n\nasync def main():\n    leaf()\n    missing()\n");
        rules(&check_dir(dir.path()))
    });
    assert_eq!(found, vec![("app.py".into(), 5, "blocking-sleep")]);
}

/// Blocks nested deeper than the parser follows: the finding below cannot be seen, and a warning
/// says where and why; below the bound, the finding is there and nothing is said.
#[test]
fn deep_blocks_warn_where_the_parser_stops() {
    for (form, head) in [("if", "if x:"), ("with", "with x:"), ("def", "def f(x):"), ("for", "for x in x:")] {
        let (deep, shallow) = within(form, move || {
            let run = |n: usize| {
                let dir = project();
                let mut text = String::from("import time\n\n\nasync def f(x):\n");
                for i in 0..n {
                    text.push_str(&" ".repeat(4 + i));
                    text.push_str(head);
                    text.push('\n');
                }
                text.push_str(&" ".repeat(4 + n));
                text.push_str("time.sleep(1)\n");
                write(dir.path(), "nested.py", &text);
                let report = check_dir(dir.path());
                (rules(&report), report.warnings)
            };
            (run(10_000), run(300))
        });
        let (_, warnings) = &deep;
        assert_eq!(warnings.len(), 1, "{form}: {warnings:?}");
        assert!(
            warnings[0].contains("nested.py:505:1: blocks nested more than 500 levels deep"),
            "{form}: {warnings:?}"
        );
        if form != "def" {
            assert_eq!(shallow.0, vec![("nested.py".into(), 305, "blocking-sleep")], "{form}");
        }
        assert!(shallow.1.is_empty(), "{form}: {:?}", shallow.1);
    }
}

/// `check_dir` of a project whose files are `files`: its findings and warnings.
fn check_files(files: Vec<(String, String)>) -> (Vec<(String, usize, &'static str)>, Vec<String>) {
    let dir = project();
    for (rel, text) in &files {
        write(dir.path(), rel, text);
    }
    let report = check_dir(dir.path());
    (rules(&report), report.warnings)
}

/// An expression nested deeper than the facts convert (`pathlib.Path(...) / "a" / ...` 60 times):
/// what the call refers to is unknown, and a warning says where; 40 levels are followed silently.
#[test]
fn deep_expressions_warn_where_they_are_cut() {
    let run = |n: usize| {
        let text = format!(
            "import pathlib\n\n\nasync def f():\n    return (pathlib.Path(\"x\"){}).read_text()\n",
            " / \"a\"".repeat(n)
        );
        within("deep expression", move || check_files(vec![("a.py".into(), text)]))
    };
    let (found, warnings) = run(60);
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("a.py:5:12: an expression nested more than 48 levels deep"), "{warnings:?}");
    let (found, warnings) = run(40);
    assert_eq!(found, vec![("a.py".into(), 5, "blocking-file")]);
    assert!(warnings.is_empty(), "{warnings:?}");
}

/// Aliases of aliases beyond what resolution follows (`t1 = t0` ... with `t0 = time`): the call at the
/// end is not resolved, and a warning says so at it; 10 aliases are followed silently.
#[test]
fn deep_resolution_warns_where_it_is_cut() {
    let run = |n: usize| {
        let mut text = String::from("import time\n\nt0 = time\n");
        for i in 0..n {
            text.push_str(&format!("t{} = t{i}\n", i + 1));
        }
        text.push_str(&format!("\n\nasync def f():\n    t{n}.sleep(1)\n"));
        within("deep resolution", move || check_files(vec![("a.py".into(), text)]))
    };
    let (found, warnings) = run(30);
    assert!(found.is_empty(), "{found:?}");
    let call = "a.py:37:5: resolving this takes more than 48 steps";
    assert!(warnings.iter().any(|w| w.contains(call)), "{warnings:?}");
    let (found, warnings) = run(10);
    assert_eq!(found, vec![("a.py".into(), 17, "blocking-sleep")]);
    assert!(warnings.is_empty(), "{warnings:?}");
}

/// A class hierarchy across modules deeper than the project's resolution follows: the coroutine's
/// call of an inherited blocking method is not followed, and one warning says so at the call; five
/// levels are followed silently.
#[test]
fn deep_class_hierarchies_warn_where_the_project_stops() {
    let run = |n: usize| {
        let mut files = vec![(
            "base.py".to_string(),
            "import time\n\n\nclass C0:\n    def m(self):\n        time.sleep(1)\n".into(),
        )];
        for i in 0..n {
            let from = if i == 0 { "base".to_string() } else { format!("b{i}") };
            files.push((
                format!("b{}.py", i + 1),
                format!("from {from} import C{i}\n\n\nclass C{}(C{i}):\n    pass\n", i + 1),
            ));
        }
        files.push(("api.py".into(), format!("from b{n} import C{n}\n\n\nasync def f():\n    C{n}().m()\n")));
        within("deep hierarchy", move || check_files(files))
    };
    let (found, warnings) = run(30);
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("api.py:5:5: resolving `b30.C30"), "{warnings:?}");
    assert!(warnings[0].contains("more than 24 steps"), "{warnings:?}");
    let (found, warnings) = run(5);
    assert_eq!(found, vec![("api.py".into(), 5, "blocking-sleep")]);
    assert!(warnings.is_empty(), "{warnings:?}");
}

/// A `requests.Session` block of 2,000 calls: every call's finding is fixed by the same rewrite of the
/// whole block (httpx), which is built, checked and applied once, not once per finding (each finding
/// copied it and checked it again with the block's other edits: quadratic).
#[test]
fn a_fix_shared_by_thousands_of_findings_is_applied_once() {
    let mut text = String::from("import requests\n\n\nasync def fetch(urls):\n    with requests.Session() as s:\n");
    for i in 0..2000 {
        text.push_str(&format!("        s.get(urls[{i}])\n"));
    }
    let fixed = within("a session block of 2,000 calls", move || {
        let httpx = |f: &fix::Fix| f.id == fix::FixId::Httpx;
        fix::fix_all_with(&text, Vec::new(), Catalog::bundled(), &Settings::default(), &fix::Options::default(), &httpx)
    });
    assert_eq!(fixed.applied, 2000, "each finding is fixed");
    assert!(fixed.text.contains("    async with httpx.AsyncClient(follow_redirects=True, timeout=None) as s:\n"));
    assert_eq!(fixed.text.matches("        await s.get(urls[").count(), 2000);
}
