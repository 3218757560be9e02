//! Runs every fixture under tests/fixtures/: each `# expect: RULE[, RULE]` comment must match the
//! findings that start on its line, and no other line may have a finding; `RULE (TIER)` checks the
//! finding's tier too. See tests/fixtures/README.md.

mod common;

use std::collections::BTreeMap;

#[test]
fn fixtures_match_their_inline_expectations() {
    let dir = common::repo_root().join("tests/fixtures");
    let files = common::python_files(&dir);
    assert!(!files.is_empty(), "no fixtures found under {}", dir.display());
    let mut failures = Vec::new();
    let mut checked = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).expect("fixtures are UTF-8");
        let rel = path.strip_prefix(common::repo_root()).unwrap_or(path).display().to_string();
        let mut expected: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            if let Some(pos) = line.find("# expect:") {
                let rules = line[pos + "# expect:".len()..].split(',').map(|r| r.trim().to_string());
                expected.entry(i + 1).or_default().extend(rules.filter(|r| !r.is_empty()));
            }
        }
        for rules in expected.values_mut() {
            rules.sort();
        }
        let mut actual: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        let mut messages: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for f in common::findings(&text) {
            let line = common::line_of(&text, f.range.start);
            actual.entry(line).or_default().push(format!("{} ({})", f.rule.name(), f.tier));
            messages.entry(line).or_default().push(f.message.clone());
        }
        for rules in actual.values_mut() {
            rules.sort();
        }
        // An expectation without a tier accepts any.
        for (line, want) in &expected {
            if let Some(got) = actual.get_mut(line)
                && got.len() == want.len()
            {
                for (g, w) in got.iter_mut().zip(want) {
                    if !w.contains('(') && g.split(" (").next() == Some(w.as_str()) {
                        *g = w.clone();
                    }
                }
            }
        }
        let lines: std::collections::BTreeSet<usize> = expected.keys().chain(actual.keys()).copied().collect();
        for line in lines {
            let want = expected.get(&line).cloned().unwrap_or_default();
            let got = actual.get(&line).cloned().unwrap_or_default();
            if want != got {
                let src = text.lines().nth(line - 1).unwrap_or("").trim();
                failures.push(format!(
                    "{rel}:{line}: expected [{}], got [{}]\n    {src}\n    {}",
                    want.join(", "),
                    got.join(", "),
                    messages.get(&line).map(|m| m.join(" | ")).unwrap_or_default()
                ));
            }
        }
        checked += 1;
    }
    assert!(failures.is_empty(), "{} fixture mismatches in {checked} files:\n{}", failures.len(), failures.join("\n"));
}
