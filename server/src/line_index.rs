//! Byte offsets ↔ lines and columns, used only at the edges (CLI output, the language server).
//! Lines break at `\n`, `\r\n` and `\r`, as in Python and LSP.

/// Which unit columns count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnUnit {
    /// Unicode scalar values (the CLI, LSP UTF-32).
    Chars,
    /// UTF-16 code units (LSP's default).
    Utf16,
    /// Bytes (LSP UTF-8).
    Utf8,
}

#[derive(Clone, Debug)]
pub struct LineIndex {
    /// Byte offset of the start of each line.
    starts: Vec<usize>,
    len: usize,
    /// The number of the first line in `starts` (0 unless the index covers only part of the text).
    first: usize,
}

/// A 0-based line and column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineCol {
    pub line: usize,
    pub col: usize,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        Self::lines(text, 0, 0, text.len())
    }

    /// An index of the lines from the one containing `from` (which is line `line`) to the one containing
    /// `to`: only offsets in that span may be asked about.
    pub fn from_line(text: &str, from: usize, line: usize, to: usize) -> LineIndex {
        let from = from.min(text.len());
        let bytes = text.as_bytes();
        let start = bytes[..from].iter().rposition(|&b| b == b'\n' || b == b'\r').map_or(0, |i| i + 1);
        // A `\r\n` split by `from` belongs to the line before.
        Self::lines(text, start, line, to.min(text.len()))
    }

    fn lines(text: &str, start: usize, first: usize, to: usize) -> LineIndex {
        let bytes = text.as_bytes();
        let mut starts = vec![start];
        let mut i = start;
        // Line breaks found with memchr (a whole file's index is built for every JSON run and every
        // edge conversion; a byte at a time cost 8.5 M instructions on a 500 KB file). A `\r\n` ends
        // one line, also when `to` falls between its two bytes.
        while i < to
            && let Some(k) = memchr::memchr2(b'\n', b'\r', &bytes[i..to])
        {
            let at = i + k;
            i = if bytes[at] == b'\r' && bytes.get(at + 1) == Some(&b'\n') { at + 2 } else { at + 1 };
            starts.push(i);
        }
        LineIndex { starts, len: text.len(), first }
    }

    pub fn line_count(&self) -> usize {
        self.first + self.starts.len()
    }

    /// The 0-based line containing `offset` (clamped to the text).
    pub fn line_of(&self, offset: usize) -> usize {
        self.first + self.slot(offset)
    }

    fn slot(&self, offset: usize) -> usize {
        let offset = offset.min(self.len);
        self.starts.partition_point(|&s| s <= offset).max(1) - 1
    }

    /// The byte range of a line, without its line break.
    pub fn line_range(&self, text: &str, line: usize) -> std::ops::Range<usize> {
        let line = line - self.first.min(line);
        let start = self.starts.get(line).copied().unwrap_or(self.len);
        let mut end = self.starts.get(line + 1).copied().unwrap_or(self.len);
        let bytes = text.as_bytes();
        while end > start && matches!(bytes[end - 1], b'\n' | b'\r') {
            end -= 1;
        }
        start..end
    }

    pub fn line_col(&self, text: &str, offset: usize, unit: ColumnUnit) -> LineCol {
        let mut offset = offset.min(self.len);
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_of(offset);
        let start = self.starts[self.slot(offset)];
        let prefix = &text[start..offset];
        let col = match unit {
            ColumnUnit::Chars => prefix.chars().count(),
            ColumnUnit::Utf16 => prefix.encode_utf16().count(),
            ColumnUnit::Utf8 => prefix.len(),
        };
        LineCol { line, col }
    }

    /// The 0-based line of `offset` and its column in characters, UTF-16 units and bytes, in one pass.
    pub fn all_columns(&self, text: &str, offset: usize) -> (usize, usize, usize, usize) {
        let mut offset = offset.min(self.len);
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_of(offset);
        let prefix = &text[self.starts[self.slot(offset)]..offset];
        let (mut chars, mut utf16) = (0, 0);
        for ch in prefix.chars() {
            chars += 1;
            utf16 += ch.len_utf16();
        }
        (line, chars, utf16, prefix.len())
    }

    /// The byte offset of a line and column; positions past the end of a line clamp to its end, lines
    /// past the end of the text clamp to the end of the text (as LSP asks).
    pub fn offset(&self, text: &str, pos: LineCol, unit: ColumnUnit) -> usize {
        if pos.line >= self.line_count() {
            return self.len;
        }
        let range = self.line_range(text, pos.line);
        let line = &text[range.clone()];
        let mut units = 0;
        for (i, ch) in line.char_indices() {
            if units >= pos.col {
                return range.start + i;
            }
            units += match unit {
                ColumnUnit::Chars => 1,
                ColumnUnit::Utf16 => ch.len_utf16(),
                ColumnUnit::Utf8 => ch.len_utf8(),
            };
            if units > pos.col {
                // Inside a character: LSP says to round to its start... its end is what editors send
                // after the character; pick the boundary at or after the position.
                return range.start + i + ch.len_utf8();
            }
        }
        range.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_breaks_and_columns() {
        let text = "a\r\nb😀c\rd\n";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line_count(), 4);
        let c = text.find('c').unwrap();
        assert_eq!(idx.line_col(text, c, ColumnUnit::Chars), LineCol { line: 1, col: 2 });
        assert_eq!(idx.line_col(text, c, ColumnUnit::Utf16), LineCol { line: 1, col: 3 });
        assert_eq!(idx.line_col(text, c, ColumnUnit::Utf8), LineCol { line: 1, col: 5 });
        assert_eq!(idx.offset(text, LineCol { line: 1, col: 3 }, ColumnUnit::Utf16), c);
        assert_eq!(idx.line_col(text, text.find('d').unwrap(), ColumnUnit::Chars), LineCol { line: 2, col: 0 });
        assert_eq!(idx.offset(text, LineCol { line: 9, col: 0 }, ColumnUnit::Chars), text.len());
    }

    /// The line starts are those of a byte-at-a-time scan, for every break (`\n`, `\r`, `\r\n`, runs
    /// of them, at the ends) and every span `from_line` is asked for, also one ending inside a `\r\n`.
    #[test]
    fn line_starts_match_a_scan_of_every_byte() {
        fn scan(text: &str, start: usize, to: usize) -> Vec<usize> {
            let b = text.as_bytes();
            let (mut starts, mut i) = (vec![start], start);
            while i < to {
                if b[i] == b'\n' || b[i] == b'\r' {
                    if b[i] == b'\r' && b.get(i + 1) == Some(&b'\n') {
                        i += 1;
                    }
                    starts.push(i + 1);
                }
                i += 1;
            }
            starts
        }
        for text in ["", "a", "\n", "\r", "\r\n", "a\r\n\r\nb\r\rc\n\n\r", "x\r\n", "\r\r\n\n\rz"] {
            for to in 0..=text.len() {
                assert_eq!(LineIndex::lines(text, 0, 0, to).starts, scan(text, 0, to), "{text:?} to {to}");
            }
        }
    }
}
