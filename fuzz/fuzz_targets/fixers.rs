//! Arbitrary bytes, decoded lossily, as a Python file: every fix offered for each finding applies and
//! leaves no more syntax errors than the file had; `--fix --unsafe-fixes` (`fix_all`) neither; nothing
//! panics.

#![no_main]

use libfuzzer_sys::fuzz_target;
use loopsafe::analysis::analyze;
use loopsafe::catalog::Catalog;
use loopsafe::fix::{self, FileContext, Options, Target};
use loopsafe::settings::Settings;

fn errors(text: &str) -> usize {
    loopsafe::syntax::parse(text, None).map_or(usize::MAX, |t| fix::error_count(&t))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let catalog = Catalog::bundled();
    let settings = Settings::default();
    let Some(tree) = loopsafe::syntax::parse(&text, None) else { return };
    let before = fix::error_count(&tree);
    for anyio in [false, true] {
        let options = Options::new(&settings, anyio);
        let ctx = FileContext::new(&text, &tree, catalog, &options);
        // A bounded number of findings per input keeps executions fast (the corpus holds small files).
        for finding in analyze(&text, &tree, catalog, &settings).into_iter().take(16) {
            for chain in [false, true] {
                for f in ctx.fixes(&Target::from_finding(&finding, chain)).fixes {
                    let new = fix::apply(&text, &f.edits).expect("a fix's edits do not overlap");
                    assert!(errors(&new) <= before, "fix {:?} ({}) adds a syntax error:\n{new}", f.id, f.title);
                }
            }
        }
    }
    let options = Options::new(&settings, true);
    let fixed = fix::fix_all(&text, Vec::new(), catalog, &settings, &options, true);
    assert!(errors(&fixed.text) <= before, "fix_all adds a syntax error:\n{}", fixed.text);
});
