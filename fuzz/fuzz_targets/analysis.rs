//! Arbitrary bytes, decoded lossily, through the analysis core: parse, analyse, summarize, link as a
//! one-file project. Then `didChange` notifications (one or several changes each, positions in UTF-16
//! or UTF-8 units, anywhere: past the end of a line or inside a character too) go through the language
//! server's document pipeline (`Document::apply`, then the comment-only, one-edit or whole-file path,
//! as `did_change` does), and after each the document's tree must equal a fresh parse of its text and
//! its analysis and facts a fresh analysis.

#![no_main]

use std::sync::Arc;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use loopsafe::analysis::{analyze_tree, analyze_with_broken, reanalyze_edit};
use loopsafe::catalog::Catalog;
use loopsafe::lsp::document::{Applied, Document, Encoding};
use loopsafe::project::{Project, ProjectFile};
use loopsafe::settings::Settings;
use tower_lsp_server::ls_types::{Position, Range, TextDocumentContentChangeEvent};
use tree_sitter::Tree;

#[derive(Arbitrary, Debug)]
struct Change {
    line: u16,
    character: u16,
    lines: u8,
    end_character: u16,
    text: Vec<u8>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    source: Vec<u8>,
    utf8: bool,
    notifications: Vec<Vec<Change>>,
}

/// Kind, flags, bytes and points of every node, in order.
fn nodes(tree: &Tree) -> Vec<(String, bool, bool, std::ops::Range<usize>, tree_sitter::Point)> {
    let mut out = Vec::new();
    loopsafe::syntax::walk_preorder(tree.root_node(), |n| {
        out.push((n.kind().to_string(), n.is_error(), n.is_missing(), n.byte_range(), n.start_position()));
        true
    });
    out
}

fn event(doc: &Document, c: &Change) -> TextDocumentContentChangeEvent {
    let lines = doc.rope.len_lines();
    let line = c.line as usize % lines;
    let end_line = (line + c.lines as usize).min(lines - 1);
    let width = |l: usize| doc.rope.line(l).len_utf16_cu() + 2;
    let start = Position::new(line as u32, (c.character as usize % width(line)) as u32);
    let end = if c.lines == 0 && c.end_character == c.character {
        start
    } else {
        Position::new(end_line as u32, (c.end_character as usize % width(end_line)) as u32)
    };
    let (start, end) =
        if (end.line, end.character) < (start.line, start.character) { (end, start) } else { (start, end) };
    TextDocumentContentChangeEvent {
        range: Some(Range { start, end }),
        range_length: None,
        text: String::from_utf8_lossy(&c.text).into_owned(),
    }
}

fuzz_target!(|input: Input| {
    let catalog = Catalog::bundled();
    let settings = Settings::default();
    let text = String::from_utf8_lossy(&input.source).into_owned();
    let Some(tree) = loopsafe::syntax::parse(&text, None) else { return };
    let (facts, analysis) = analyze_tree(&text, &tree, catalog, &settings);
    let file = ProjectFile {
        path: "/fuzz/app/main.py".into(),
        display: "app/main.py".into(),
        analysis: Arc::new(analysis.clone()),
    };
    let project = Project::new(vec![file], Some(std::path::Path::new("/fuzz")));
    let _ = project.chain_findings(&settings);

    let enc = if input.utf8 { Encoding::Utf8 } else { Encoding::Utf16 };
    let mut doc = Document::new(text, 1);
    doc.facts = Some(facts);
    doc.analysed_now(Arc::new(analysis));
    for notification in input.notifications.iter().take(8) {
        let changes: Vec<_> = notification.iter().take(4).map(|c| event(&doc, c)).collect();
        if changes.is_empty() {
            continue;
        }
        let whole = match doc.apply(&changes, enc) {
            Applied::Edit(edit) => {
                let mut facts = doc.facts.take().expect("facts");
                let result = reanalyze_edit(&mut facts, &doc.analysis, &doc.text, &edit, catalog, &settings);
                doc.facts = Some(facts);
                match result {
                    Ok(a) => {
                        doc.analysed_now(Arc::new(a));
                        false
                    }
                    Err(_) => true,
                }
            }
            Applied::Trivia(edits) => {
                let mut moved = (*doc.analysis).clone();
                for e in &edits {
                    loopsafe::analysis::shift::shift(&mut moved, e);
                    doc.facts.as_mut().expect("facts").moved(e.old_end, e.new_end);
                }
                doc.analysed_now(Arc::new(moved));
                false
            }
            Applied::Whole => true,
        };
        if whole {
            doc.reparse();
            let (facts, analysis) = analyze_tree(&doc.text, doc.tree.as_ref().expect("tree"), catalog, &settings);
            doc.facts = Some(facts);
            doc.analysed_now(Arc::new(analysis));
        }
        assert_eq!(doc.rope.to_string(), doc.text, "rope and text");
        let fresh = loopsafe::syntax::parse(&doc.text, None).expect("parse");
        let current = doc.current_tree().expect("tree");
        assert!(nodes(&current) == nodes(&fresh), "tree differs from a fresh parse after {changes:?}:\n{:?}", doc.text);
        // While a function analysed alone has syntax errors, the reference is `analyze_with_broken`.
        let broken = doc.facts.as_ref().map(|f| f.broken.clone()).unwrap_or_default();
        let (_, expected) = if broken.is_empty() {
            analyze_tree(&doc.text, &fresh, catalog, &settings)
        } else {
            analyze_with_broken(&doc.text, &broken, catalog, &settings).expect("broken functions placed")
        };
        assert_eq!(*doc.analysis, expected, "analysis differs after {changes:?}:\n{:?}", doc.text);
    }
});
