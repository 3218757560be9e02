//! An open document: its text as a rope (for edits) and as a string (for the analysis), its syntax
//! tree (edited and reparsed incrementally), and its latest analysis.

use std::sync::Arc;

use ropey::Rope;
use tower_lsp_server::ls_types::{Position, TextDocumentContentChangeEvent};
use tree_sitter::{InputEdit, Point, Tree};

use crate::analysis::FileAnalysis;

/// How LSP positions count columns (negotiated at `initialize`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf16,
    Utf32,
}

pub struct Document {
    pub version: i32,
    pub rope: Rope,
    pub text: String,
    pub tree: Option<Tree>,
    pub analysis: Arc<FileAnalysis>,
}

impl Document {
    pub fn new(text: String, version: i32) -> Document {
        let tree = crate::syntax::parse(&text, None);
        Document { version, rope: Rope::from_str(&text), text, tree, analysis: Arc::default() }
    }

    /// Applies content changes in order: each range edit goes to the rope and, as an `InputEdit`, to the
    /// tree, which is then reparsed incrementally from the edited old tree.
    pub fn apply(&mut self, changes: &[TextDocumentContentChangeEvent], enc: Encoding) {
        for change in changes {
            match change.range {
                None => {
                    self.rope = Rope::from_str(&change.text);
                    self.tree = None;
                }
                Some(range) => {
                    let start = offset(&self.rope, range.start, enc);
                    let end = offset(&self.rope, range.end, enc).max(start);
                    let start_point = point(&self.rope, start);
                    let old_end_point = point(&self.rope, end);
                    let (sc, ec) = (self.rope.byte_to_char(start), self.rope.byte_to_char(end));
                    self.rope.remove(sc..ec);
                    self.rope.insert(sc, &change.text);
                    let new_end = start + change.text.len();
                    if let Some(tree) = &mut self.tree {
                        tree.edit(&InputEdit {
                            start_byte: start,
                            old_end_byte: end,
                            new_end_byte: new_end,
                            start_position: start_point,
                            old_end_position: old_end_point,
                            new_end_position: point(&self.rope, new_end),
                        });
                    }
                }
            }
        }
        self.text = self.rope.to_string();
        self.tree = crate::syntax::parse(&self.text, self.tree.as_ref());
    }
}

/// The byte offset of an LSP position. A line past the end is the end of the text; a character past
/// the end of its line is the end of the line (as the specification says).
pub fn offset(rope: &Rope, pos: Position, enc: Encoding) -> usize {
    let line = pos.line as usize;
    if line >= rope.len_lines() {
        return rope.len_bytes();
    }
    let line_start = rope.line_to_byte(line);
    let mut units = 0usize;
    let mut bytes = 0usize;
    for ch in rope.line(line).chars() {
        if ch == '\n' || ch == '\r' || units >= pos.character as usize {
            break;
        }
        units += match enc {
            Encoding::Utf8 => ch.len_utf8(),
            Encoding::Utf16 => ch.len_utf16(),
            Encoding::Utf32 => 1,
        };
        bytes += ch.len_utf8();
    }
    line_start + bytes
}

/// The LSP position of a byte offset.
pub fn position(rope: &Rope, offset: usize, enc: Encoding) -> Position {
    let mut offset = offset.min(rope.len_bytes());
    // Round down to a character boundary.
    while offset > 0 && rope.try_byte_to_char(offset).is_ok_and(|c| rope.char_to_byte(c) != offset) {
        offset -= 1;
    }
    let line = rope.byte_to_line(offset);
    let line_start = rope.line_to_byte(line);
    let prefix = rope.byte_slice(line_start..offset);
    let character: usize = match enc {
        Encoding::Utf8 => prefix.len_bytes(),
        Encoding::Utf16 => prefix.len_utf16_cu(),
        Encoding::Utf32 => prefix.len_chars(),
    };
    Position { line: line as u32, character: character as u32 }
}

fn point(rope: &Rope, offset: usize) -> Point {
    let row = rope.byte_to_line(offset);
    Point { row, column: offset - rope.line_to_byte(row) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_lsp_server::ls_types::Range;

    fn change(sl: u32, sc: u32, el: u32, ec: u32, text: &str) -> TextDocumentContentChangeEvent {
        TextDocumentContentChangeEvent {
            range: Some(Range { start: Position::new(sl, sc), end: Position::new(el, ec) }),
            range_length: None,
            text: text.into(),
        }
    }

    #[test]
    fn edits_after_wide_characters_in_both_encodings() {
        // "😀" is 2 UTF-16 units and 4 bytes; "日" is 1 UTF-16 unit and 3 bytes.
        let src = "x = '😀日'; y = 1\r\nz = 2\n";
        for (enc, col) in [(Encoding::Utf16, 15), (Encoding::Utf8, 19), (Encoding::Utf32, 14)] {
            let mut d = Document::new(src.to_string(), 1);
            d.apply(&[change(0, col, 0, col + 1, "42")], enc);
            assert_eq!(d.text, "x = '😀日'; y = 42\r\nz = 2\n", "{enc:?}");
            assert_eq!(
                d.tree.as_ref().unwrap().root_node().to_sexp(),
                crate::syntax::parse(&d.text, None).unwrap().root_node().to_sexp()
            );
            let z = d.text.find('z').unwrap();
            assert_eq!(position(&d.rope, z, enc), Position::new(1, 0));
        }
    }

    #[test]
    fn positions_past_the_end_clamp() {
        let rope = Rope::from_str("ab\ncd");
        assert_eq!(offset(&rope, Position::new(0, 99), Encoding::Utf16), 2);
        assert_eq!(offset(&rope, Position::new(9, 0), Encoding::Utf16), 5);
        // A lone \r breaks lines too.
        let rope = Rope::from_str("a\rb");
        assert_eq!(offset(&rope, Position::new(1, 0), Encoding::Utf16), 2);
    }
}
