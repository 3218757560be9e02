//! Whole-project fixtures (tests/projects/*/): `loopsafe check` follows calls across modules and each
//! finding, with its chain, must match the `# expect:` comments. See tests/projects/README.md.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use loopsafe::catalog::Catalog;
use loopsafe::check::{self, CheckOptions};
use loopsafe::config;

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
struct Expect {
    rule: String,
    /// `RULE (TIER)`: the finding's tier too.
    tier: Option<String>,
    chain: Option<Vec<String>>,
    /// `RULE [GET /api/items]`: the route the finding shows.
    route: Option<String>,
}

/// A finding as the test sees it: its expectation form and its message (shown on mismatch).
type Found = (Expect, Vec<String>);

/// `RULE[, RULE]` or `RULE via a > b > c`, several separated by `;`.
fn parse_expect(comment: &str) -> Vec<Expect> {
    let mut out = Vec::new();
    for part in comment.split(';') {
        let (part, route) = match part.trim_end().strip_suffix(']').and_then(|p| p.split_once(" [")) {
            Some((p, route)) => (p, Some(route.to_string())),
            None => (part, None),
        };
        let (rules, chain) = match part.split_once(" via ") {
            Some((r, c)) => (r, Some(c.split('>').map(|h| h.trim().to_string()).collect::<Vec<_>>())),
            None => (part, None),
        };
        out.extend(rules.split(',').map(str::trim).filter(|r| !r.is_empty()).map(|r| match r.split_once(" (") {
            Some((rule, tier)) => Expect {
                rule: rule.to_string(),
                tier: Some(tier.trim_end_matches(')').to_string()),
                chain: chain.clone(),
                route: route.clone(),
            },
            None => Expect { rule: r.to_string(), tier: None, chain: chain.clone(), route: route.clone() },
        }));
    }
    out
}

#[test]
fn projects_match_their_inline_expectations() {
    let dir = common::repo_root().join("tests/projects");
    let mut projects: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    projects.sort();
    assert!(!projects.is_empty());
    let mut failures = Vec::new();
    for project in &projects {
        let loaded = config::discover(project).unwrap_or_else(|e| panic!("{e}"));
        let catalog = Catalog::bundled().extended(&loaded.settings.extend_blocking_calls);
        let paths = vec![project.clone()];
        let opts = CheckOptions {
            paths: &paths,
            settings: &loaded.settings,
            root: loaded.root(),
            follow: true,
            cache_dir: None,
        };
        let report = check::check(&opts, &catalog).unwrap_or_else(|e| panic!("{}: {e}", project.display()));
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);

        // (file, line) → expectations, from the comments; and from the findings.
        let mut expected: BTreeMap<(String, usize), Vec<Expect>> = BTreeMap::new();
        for file in common::python_files(project) {
            let text = std::fs::read_to_string(&file).unwrap();
            let key = std::fs::canonicalize(&file).unwrap().display().to_string();
            for (i, line) in text.lines().enumerate() {
                if let Some(pos) = line.find("# expect:") {
                    let mut list = parse_expect(&line[pos + "# expect:".len()..]);
                    list.sort();
                    expected.insert((key.clone(), i + 1), list);
                }
            }
        }
        let mut actual: BTreeMap<(String, usize), Vec<Found>> = BTreeMap::new();
        for d in &report.diagnostics {
            let key = std::fs::canonicalize(&d.path).unwrap().display().to_string();
            let hops: Vec<String> = d.chain.iter().map(|h| h.name.clone()).collect();
            actual.entry((key, d.start.line)).or_default().push((
                Expect {
                    rule: d.finding.rule.name().to_string(),
                    tier: Some(d.finding.tier.to_string()),
                    chain: Some(hops),
                    route: d.finding.route.clone(),
                },
                vec![d.finding.message.clone()],
            ));
        }
        let keys: std::collections::BTreeSet<_> = expected.keys().chain(actual.keys()).cloned().collect();
        for key in keys {
            let want = expected.get(&key).cloned().unwrap_or_default();
            let mut got: Vec<Found> = actual.get(&key).cloned().unwrap_or_default();
            got.sort();
            // A rule without `via` accepts any chain.
            let matches = want.len() == got.len()
                && want.iter().zip(&got).all(|(w, (g, _))| {
                    w.rule == g.rule
                        && (w.tier.is_none() || w.tier == g.tier)
                        && (w.chain.is_none() || w.chain == g.chain)
                        && (w.route.is_none() || w.route == g.route)
                });
            if !matches {
                let rel = key.0.strip_prefix(&format!("{}/", dir.display())).unwrap_or(&key.0).to_string();
                let show = |e: &Expect| {
                    let rule = match &e.tier {
                        Some(t) => format!("{} ({t})", e.rule),
                        None => e.rule.clone(),
                    };
                    let shown = match &e.chain {
                        Some(c) => format!("{rule} via {}", c.join(" > ")),
                        None => rule,
                    };
                    match &e.route {
                        Some(r) => format!("{shown} [{r}]"),
                        None => shown,
                    }
                };
                failures.push(format!(
                    "{rel}:{}: expected [{}]\n        got [{}]\n        {}",
                    key.1,
                    want.iter().map(show).collect::<Vec<_>>().join("; "),
                    got.iter().map(|(g, _)| show(g)).collect::<Vec<_>>().join("; "),
                    got.iter().flat_map(|(_, m)| m.clone()).collect::<Vec<_>>().join(" | ")
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{} project mismatches:\n{}", failures.len(), failures.join("\n"));
}

/// Without a project root (a wheel unpacked anywhere), directories without `__init__.py` are still
/// packages (PEP 420): absolute and relative imports into and inside them resolve.
#[test]
fn namespace_packages_resolve_without_a_project_root() {
    use loopsafe::project::{Project, ProjectFile};
    use std::sync::Arc;
    let settings = loopsafe::settings::Settings::default();
    let file = |path: &str, text: &str| ProjectFile {
        path: PathBuf::from(path),
        display: path.to_string(),
        analysis: Arc::new(loopsafe::analysis::analyze_source_file(text, Catalog::bundled(), &settings, true)),
    };
    let routes = "from ..core.db import query\nfrom app.core import db\nfrom .util import slow\n\n\n\
                  async def handler():\n    query()\n    db.query()\n    slow()\n";
    let files = vec![
        file("/unpacked/app/api/routes.py", routes),
        file("/unpacked/app/api/util.py", "import time\n\n\ndef slow():\n    time.sleep(1)\n"),
        file("/unpacked/app/core/db.py", "import sqlite3\n\n\ndef query():\n    sqlite3.connect('x.db')\n"),
    ];
    let project = Project::new(files, None);
    let found: Vec<(u32, String)> =
        project.chain_findings(&settings).into_iter().map(|f| (f.start.line, f.callee)).collect();
    assert_eq!(
        found,
        [(6, "sqlite3.connect".to_string()), (7, "sqlite3.connect".to_string()), (8, "time.sleep".to_string())]
    );
}

/// One lazily created client reached from three coroutines (two modules) is one finding, at the first
/// call site, whose related places are the other two, each named after its coroutine; the JSON output
/// carries them as `related`.
#[test]
fn one_time_work_several_coroutines_reach_is_reported_once_with_the_others() {
    let project = common::repo_root().join("tests/projects/lazy_shared");
    let loaded = config::discover(&project).unwrap_or_else(|e| panic!("{e}"));
    let paths = vec![project.clone()];
    let opts =
        CheckOptions { paths: &paths, settings: &loaded.settings, root: loaded.root(), follow: true, cache_dir: None };
    let report = check::check(&opts, Catalog::bundled()).unwrap();
    let shared: Vec<_> =
        report.diagnostics.iter().filter(|d| d.finding.message.contains("reach this one-time work")).collect();
    assert_eq!(shared.len(), 1, "{:#?}", report.diagnostics.iter().map(|d| &d.finding.message).collect::<Vec<_>>());
    let d = shared[0];
    assert!(d.path.ends_with("api.py") && d.start.line == 13, "{}:{}", d.path, d.start.line);
    assert!(d.finding.message.contains("3 coroutine call sites"), "{}", d.finding.message);
    let related: Vec<(String, usize, String)> =
        d.related.iter().map(|h| (h.path.rsplit('/').next().unwrap().to_string(), h.line, h.name.clone())).collect();
    assert_eq!(
        related,
        [
            ("api.py".to_string(), 19, "also reached from `api.download`".to_string()),
            ("jobs.py".to_string(), 6, "also reached from `jobs.nightly`".to_string()),
        ]
    );
    let json: serde_json::Value = serde_json::from_str(&loopsafe::output::json(&report.diagnostics)).unwrap();
    let with_related: Vec<&serde_json::Value> =
        json.as_array().unwrap().iter().filter(|f| f.get("related").is_some()).collect();
    assert_eq!(with_related.len(), 1);
    assert_eq!(with_related[0]["related"][1]["line"], 6);
    // SARIF: the same places as the result's relatedLocations.
    let sarif: serde_json::Value = serde_json::from_str(&loopsafe::output::sarif(&report.diagnostics)).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let with_related: Vec<&serde_json::Value> =
        results.iter().filter(|r| r.get("relatedLocations").is_some()).collect();
    assert_eq!(with_related.len(), 1);
    let places = with_related[0]["relatedLocations"].as_array().unwrap();
    assert_eq!(places.len(), 2);
    assert_eq!(places[1]["id"], 1);
    assert_eq!(places[1]["message"]["text"], "also reached from `jobs.nightly`");
    assert_eq!(places[1]["physicalLocation"]["region"]["startLine"], 6);
}

/// When `per-file-ignores` turn the rule off in the file of the first call site of shared one-time
/// work, the finding moves to the first call site in a file that keeps it, still listing the others.
#[test]
fn one_time_work_moves_to_the_first_place_per_file_ignores_keep() {
    let project = common::repo_root().join("tests/projects/lazy_shared");
    let loaded = config::discover(&project).unwrap_or_else(|e| panic!("{e}"));
    let mut settings = loaded.settings.clone();
    settings.config_dir = Some(project.clone());
    settings.per_file_ignores =
        vec![loopsafe::settings::PerFileIgnore::parse("app/api.py", &["blocking-sdk".to_string()]).unwrap()];
    let paths = vec![project.clone()];
    let opts = CheckOptions { paths: &paths, settings: &settings, root: loaded.root(), follow: true, cache_dir: None };
    let report = check::check(&opts, Catalog::bundled()).unwrap();
    let messages =
        || report.diagnostics.iter().map(|d| format!("{}: {}", d.path, d.finding.message)).collect::<Vec<_>>();
    assert!(report.diagnostics.iter().all(|d| !d.path.ends_with("api.py")), "{:#?}", messages());
    let shared: Vec<_> =
        report.diagnostics.iter().filter(|d| d.finding.message.contains("reach this one-time work")).collect();
    assert_eq!(shared.len(), 1, "{:#?}", messages());
    let d = shared[0];
    assert!(d.path.ends_with("jobs.py") && d.start.line == 6, "{}:{}", d.path, d.start.line);
    assert!(d.finding.message.contains("3 coroutine call sites"), "{}", d.finding.message);
    let related: Vec<(String, usize)> =
        d.related.iter().map(|h| (h.path.rsplit('/').next().unwrap().to_string(), h.line)).collect();
    assert_eq!(related, [("api.py".to_string(), 13), ("api.py".to_string(), 19)]);
}
