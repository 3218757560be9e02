//! Runs every fixture under tests/fixtures/: each `# expect: RULE[, RULE]` comment must match the
//! findings that start on its line, and no other line may have a finding; `RULE (TIER)` checks the
//! finding's tier too; `# related: RULE` marks a line holding an operation folded into a finding of
//! that rule that starts on another line (`Finding::related`), and no other line may hold one. See
//! tests/fixtures/README.md.

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
        let mut expected_related: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        // The rules after `tag`, up to the next comment on the line (`# expect: A  # related: B`).
        let listed = |line: &str, tag: &str| -> Option<Vec<String>> {
            let pos = line.find(tag)?;
            let rest = &line[pos + tag.len()..];
            let rest = rest.split('#').next().unwrap_or(rest);
            Some(rest.split(',').map(|r| r.trim().to_string()).filter(|r| !r.is_empty()).collect())
        };
        for (i, line) in text.lines().enumerate() {
            if let Some(rules) = listed(line, "# expect:") {
                expected.entry(i + 1).or_default().extend(rules);
            }
            if let Some(rules) = listed(line, "# related:") {
                let mut rules = rules;
                rules.sort();
                expected_related.insert(i + 1, rules);
            }
        }
        for rules in expected.values_mut() {
            rules.sort();
        }
        let mut actual: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        let mut messages: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        let mut related: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for f in common::findings(&text) {
            for r in &f.related {
                related.entry(common::line_of(&text, r.range.start)).or_default().push(f.rule.name().to_string());
            }
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
        for rules in related.values_mut() {
            rules.sort();
        }
        for line in expected_related.keys().chain(related.keys()).copied().collect::<std::collections::BTreeSet<_>>() {
            let want = expected_related.get(&line).cloned().unwrap_or_default();
            let got = related.get(&line).cloned().unwrap_or_default();
            if want != got {
                let src = text.lines().nth(line - 1).unwrap_or("").trim();
                failures.push(format!(
                    "{rel}:{line}: expected related [{}], got related [{}]\n    {src}",
                    want.join(", "),
                    got.join(", ")
                ));
            }
        }
        checked += 1;
    }
    assert!(failures.is_empty(), "{} fixture mismatches in {checked} files:\n{}", failures.len(), failures.join("\n"));
}
