//! Reads of files shipped with the package (`checks::package_data`): a path built from `__file__` is a
//! hint, through names bound in the function or at module level. Module-level names are followed
//! through their facts only (`Binding::file`, the value's `Expr`), so an edit of a module-level statement
//! lists the name as changed and the functions reading it (directly or through a module-level value
//! built from it) are checked again: each keystroke's analysis alone must equal a fresh one.

mod common;

use loopsafe::analysis::shift::LineEdit;
use loopsafe::analysis::{FileAnalysis, analyze_tree, reanalyze_edit};
use loopsafe::catalog::Catalog;
use loopsafe::rules::Tier;
use loopsafe::settings::Settings;

const TEXT: &str = "import json\nimport os\nfrom pathlib import Path\n\nHERE = Path(__file__).parent\nCONFIG = HERE / \"config.json\"\nDATA = os.path.join(os.path.dirname(__file__), \"data.json\")\n\n\nasync def config():\n    return CONFIG.read_text()\n\n\nasync def data():\n    with open(DATA) as f:\n        return json.load(f)\n\n\nclass Api:\n    async def here(self):\n        return (HERE / \"x.json\").read_bytes()\n";

fn fresh(text: &str) -> (loopsafe::analysis::facts::Facts, FileAnalysis, bool) {
    let tree = loopsafe::syntax::parse(text, None).expect("parses");
    let clean = !tree.root_node().has_error();
    let (facts, analysis) = analyze_tree(text, &tree, Catalog::bundled(), &Settings::default());
    (facts, analysis, clean)
}

/// Applies `edits` (offset, bytes removed, text inserted) in order; each one analysed alone (when the
/// one-edit path takes it, after a clean parse) must equal a fresh analysis of the text, facts included.
/// Returns the last analysis and how many edits were analysed alone.
fn apply(text: &str, edits: &[(usize, usize, &str)]) -> (String, FileAnalysis, usize) {
    let (catalog, settings) = (Catalog::bundled(), Settings::default());
    let mut text = text.to_string();
    let (mut facts, mut analysis, mut clean) = fresh(&text);
    let mut local = 0;
    for (i, &(start, removed, insert)) in edits.iter().enumerate() {
        let old = text.clone();
        text.replace_range(start..start + removed, insert);
        let edit = LineEdit::between(&old, &text, start, start + removed, start + insert.len());
        let alone =
            if clean { reanalyze_edit(&mut facts, &analysis, &text, &edit, catalog, &settings).ok() } else { None };
        match alone {
            Some(a) if facts.broken.is_empty() && facts.broken_statement.is_none() => {
                let (expected_facts, expected, _) = fresh(&text);
                assert_eq!(common::normalized_facts(&facts), common::normalized_facts(&expected_facts), "edit {i}");
                assert_eq!(a, expected, "edit {i}:\n{text}");
                analysis = a;
                local += 1;
            }
            _ => (facts, analysis, clean) = fresh(&text),
        }
    }
    (text, analysis, local)
}

/// The tiers of the findings in function `f`.
fn tiers(a: &FileAnalysis, f: &str) -> Vec<Tier> {
    a.findings.iter().filter(|x| x.function.as_deref() == Some(f)).map(|x| x.tier).collect()
}

#[test]
fn reads_of_paths_built_from_file_are_hints() {
    let (_, a, _) = fresh(TEXT);
    assert_eq!(tiers(&a, "config"), vec![Tier::Hint], "{:?}", a.findings);
    // `open` and the `json.load` of what it returned: one finding, the read its related information.
    assert_eq!(tiers(&a, "data"), vec![Tier::Hint], "{:?}", a.findings);
    assert!(a.findings.iter().any(|x| x.function.as_deref() == Some("data") && x.related.len() == 1));
    assert_eq!(tiers(&a, "Api.here"), vec![Tier::Hint], "{:?}", a.findings);
}

/// `__file__` replaced by a name of the same length: the value's `Expr` (no arguments) is the same,
/// the binding's `file` is not, so the name is listed as changed and its readers checked again, also
/// those reading a module-level value built from it (`CONFIG = HERE / ...`).
#[test]
fn an_edit_of_the_file_argument_rechecks_the_readers() {
    for (stmt, readers) in
        [("HERE = Path(__file__)", &["config", "Api.here"][..]), ("os.path.dirname(__file__)", &["data"][..])]
    {
        let at = TEXT.find(stmt).unwrap() + stmt.find("__file__").unwrap();
        let edits = [(at + 6, 1, "x"), (at + 6, 1, "_")];
        let (text, a, local) = apply(TEXT, &edits[..1]);
        assert_eq!(local, 1, "analysed alone");
        for f in readers {
            assert!(tiers(&a, f).iter().all(|&t| t != Tier::Hint), "{f} in\n{text}\n{:?}", a.findings);
        }
        let (text, a, local) = apply(TEXT, &edits);
        assert_eq!(local, 2, "analysed alone");
        assert_eq!(text, TEXT);
        for f in readers {
            assert!(tiers(&a, f).iter().all(|&t| t == Tier::Hint), "{f}: {:?}", a.findings);
        }
    }
}

/// `__file__` typed into a string of the value, one character at a time, and erased: a string or a
/// comment naming it builds no path from it (`checks::names_file`), and every keystroke analysed alone
/// equals a fresh analysis.
#[test]
fn a_file_in_a_string_or_comment_is_no_package_path() {
    let text = TEXT.replace("HERE = Path(__file__).parent", "HERE = Path(\"/srv/\").parent  # x");
    let (_, a, _) = fresh(&text);
    assert!(tiers(&a, "config").iter().all(|&t| t != Tier::Hint), "{:?}", a.findings);
    for (anchor, offset) in [("\"/srv/", 6), ("# x", 3)] {
        let at = text.find(anchor).unwrap() + offset;
        let mut edits: Vec<(usize, usize, &str)> = Vec::new();
        for (i, c) in "__file__".char_indices() {
            edits.push((at + i, 0, &"__file__"[i..i + c.len_utf8()]));
        }
        let (typed, a, _) = apply(&text, &edits);
        let (_, fresh_a, _) = fresh(&typed);
        assert_eq!(a.findings, fresh_a.findings, "in\n{typed}");
        assert!(tiers(&a, "config").iter().all(|&t| t != Tier::Hint), "{typed}\n{:?}", a.findings);
    }
}

/// Typing and erasing module-level statements that rebind the names (`HERE`, `CONFIG`, `DATA`) one
/// character at a time: every keystroke analysed alone equals a fresh analysis.
#[test]
fn module_level_statements_typed_and_erased_match_a_fresh_analysis() {
    for (after, typed) in [
        ("\"config.json\"\n", "HERE = Path(\"/etc\")"),
        ("HERE = Path(__file__).parent\n", "CONFIG = Path(\"/etc/app.json\")"),
        ("\"data.json\")\n", "DATA = os.path.join(HERE, \"d.json\")"),
        ("\"data.json\")\n", "CONFIG = HERE.joinpath(\"c.json\")"),
    ] {
        let at = TEXT.find(after).unwrap() + after.len();
        let mut edits: Vec<(usize, usize, &str)> = Vec::new();
        for (i, ch) in typed.char_indices() {
            edits.push((at + i, 0, &typed[i..i + ch.len_utf8()]));
        }
        edits.push((at + typed.len(), 0, "\n"));
        let (_, a, _) = apply(TEXT, &edits);
        let (_, expected, _) = fresh(&(TEXT[..at].to_string() + typed + "\n" + &TEXT[at..]));
        assert_eq!(a, expected);
        for i in (0..=typed.len()).rev() {
            edits.push((at + i, 1, ""));
        }
        let (text, a, _) = apply(TEXT, &edits);
        assert_eq!(text, TEXT);
        assert_eq!(a, fresh(TEXT).1);
    }
}

/// A module-level path joined with `os.path.join(NAME, ...)` keeps its tier: the facts keep no
/// arguments, so following them would read text an edit of that statement need not list as changed.
#[test]
fn a_module_level_join_of_a_name_keeps_its_tier() {
    let text = TEXT.replace("DATA = os.path.join(os.path.dirname(__file__), ", "DATA = os.path.join(HERE, ");
    let (_, a, _) = fresh(&text);
    assert!(tiers(&a, "data").iter().all(|&t| t != Tier::Hint), "{:?}", a.findings);
}
