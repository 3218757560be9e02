//! `# noqa` suppression: a bare `# noqa`, `# noqa: LS101`, a rule name, or an equivalent code of
//! flake8-async or ruff (`# noqa: ASYNC210`), on the first or the last line of the finding.

use std::ops::Range;

use super::Finding;
use crate::rules::Rule;
use crate::syntax::line_start;

pub fn is_suppressed(text: &str, f: &Finding) -> bool {
    is_suppressed_at(text, f.rule, &f.range)
}

/// Whether a `# noqa` on the first or last line of `range` suppresses `rule` (or, as in ruff, on the
/// line where the first line's multi-line string or backslash continuation ends: see `statement_line`).
pub fn is_suppressed_at(text: &str, rule: Rule, range: &Range<usize>) -> bool {
    let start = line_of(text, range.start);
    let end = line_of(text, range.end.saturating_sub(1).max(range.start));
    suppresses(start, rule) || (end != start && suppresses(end, rule)) || {
        let ruff = statement_line(text, range.start).unwrap_or(0..0);
        ruff.start > range.start && ruff.start != line_start(text, last_byte(range)) && suppresses(&text[ruff], rule)
    }
}

fn last_byte(range: &Range<usize>) -> usize {
    range.end.saturating_sub(1).max(range.start)
}

/// How far `statement_line` lexes past the finding's line before it gives up (bounded work).
const MAX_STATEMENT_SCAN: usize = 1 << 20;

/// The line ruff reads the `# noqa` of a finding starting at `offset` on: the finding's line, or, when
/// that line ends inside a multi-line string or with a backslash continuation, the line where the
/// string or continuation ends (lexed from the start of the finding's line). Returns the line's content
/// (without its line break); `None` when a string opened there is never closed (within a bound).
pub fn statement_line(text: &str, offset: usize) -> Option<Range<usize>> {
    let b = text.as_bytes();
    let offset = offset.min(text.len());
    let mut i = line_start(text, offset);
    let first = i..b[offset..].iter().position(|&c| c == b'\n' || c == b'\r').map_or(text.len(), |j| offset + j);
    let limit = first.end.saturating_add(MAX_STATEMENT_SCAN).min(b.len());
    let b = &b[..limit];
    let newline = |i: usize| match b.get(i) {
        Some(b'\r') if b.get(i + 1) == Some(&b'\n') => 2,
        Some(b'\n' | b'\r') => 1,
        _ => 0,
    };
    while i < b.len() {
        match b[i] {
            b'#' | b'\n' | b'\r' => break,
            b'\\' if newline(i + 1) > 0 => i += 1 + newline(i + 1),
            q @ (b'\'' | b'"') => {
                let triple = b.get(i + 1) == Some(&q) && b.get(i + 2) == Some(&q);
                i += if triple { 3 } else { 1 };
                loop {
                    match b.get(i) {
                        // Never closed (or closed past the bound).
                        None => return None,
                        Some(b'\\') => i += 1 + newline(i + 1).max(1),
                        Some(&c) if c == q && (!triple || (b.get(i + 1) == Some(&q) && b.get(i + 2) == Some(&q))) => {
                            i += if triple { 3 } else { 1 };
                            break;
                        }
                        // An unterminated one-line string ends with its line.
                        Some(b'\n' | b'\r') if !triple => break,
                        Some(_) => i += 1,
                    }
                }
            }
            _ => i += 1,
        }
    }
    let i = i.min(text.len());
    let end = text.as_bytes()[i..].iter().position(|&c| c == b'\n' || c == b'\r').map_or(text.len(), |j| i + j);
    Some(line_start(text, end)..end)
}

fn line_of(text: &str, offset: usize) -> &str {
    let offset = offset.min(text.len());
    let bytes = text.as_bytes();
    let start = bytes[..offset].iter().rposition(|&b| b == b'\n' || b == b'\r').map_or(0, |i| i + 1);
    let end = bytes[offset..].iter().position(|&b| b == b'\n' || b == b'\r').map_or(text.len(), |i| offset + i);
    text.get(start..end).unwrap_or("")
}

fn suppresses(line: &str, rule: Rule) -> bool {
    directive(line).is_some_and(|codes| matches(&codes, rule))
}

/// Whether a directive's codes (empty: a bare `# noqa`) cover `rule`.
pub fn matches(codes: &[String], rule: Rule) -> bool {
    let info = rule.info();
    codes.is_empty()
        || codes.iter().any(|c| {
            c.eq_ignore_ascii_case(info.code)
                || c.eq_ignore_ascii_case(info.name)
                || info.equivalents.iter().any(|e| c.eq_ignore_ascii_case(e))
        })
}

/// The `# noqa` directive on the first or last line of `range`: `None` without one, an empty list for a
/// bare `# noqa`, else the codes it names.
pub fn directive_at(text: &str, range: &Range<usize>) -> Option<Vec<String>> {
    let start = line_of(text, range.start);
    let end = line_of(text, range.end.saturating_sub(1).max(range.start));
    let ruff = statement_line(text, range.start).unwrap_or(0..0);
    let ruff = (ruff.start > range.start && ruff.start != line_start(text, last_byte(range)))
        .then(|| directive(&text[ruff]))
        .flatten();
    let merged = match (directive(start), if end != start { directive(end) } else { None }) {
        (None, None) => None,
        (Some(a), None) | (None, Some(a)) => Some(a),
        (Some(a), Some(b)) if a.is_empty() || b.is_empty() => Some(Vec::new()),
        (Some(mut a), Some(b)) => {
            a.extend(b);
            Some(a)
        }
    };
    match (merged, ruff) {
        (None, r) => r,
        (m, None) => m,
        (Some(a), Some(b)) if a.is_empty() || b.is_empty() => Some(Vec::new()),
        (Some(mut a), Some(b)) => {
            a.extend(b);
            Some(a)
        }
    }
}

/// Parses the `# noqa` comments of one line.
fn directive(line: &str) -> Option<Vec<String>> {
    let mut rest = line;
    let mut found: Option<Vec<String>> = None;
    while let Some(i) = rest.find('#') {
        let comment = rest[i + 1..].trim_start();
        rest = &rest[i + 1..];
        let Some(after) = comment.get(..4).filter(|p| p.eq_ignore_ascii_case("noqa")).map(|_| &comment[4..]) else {
            continue;
        };
        let Some(codes) = after.trim_start().strip_prefix(':') else {
            // A bare `# noqa` (anything but a colon after it) suppresses everything on the line.
            return Some(Vec::new());
        };
        let list = found.get_or_insert_with(Vec::new);
        list.extend(
            codes
                .split(|c: char| c == ',' || c.is_whitespace())
                .map(str::trim)
                .take_while(|c| !c.starts_with('#'))
                .filter(|c| !c.is_empty())
                .map(str::to_string),
        );
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statement_line_is_where_a_multi_line_string_or_a_continuation_ends() {
        let line = |text: &str, at: &str| statement_line(text, text.find(at).unwrap()).map(|l| text[l].to_string());
        assert_eq!(line("a = f()  # x \\\nb\n", "f"), Some("a = f()  # x \\".to_string()));
        assert_eq!(line("a = f('''x\n'y'\n''') + g()\nb\n", "f"), Some("''') + g()".to_string()));
        assert_eq!(line("a = f() + \\\r\n  '''\r\n''' + \\\n 1\nb\n", "f"), Some(" 1".to_string()));
        assert_eq!(line("a = f('x\\'', \"#\")\nb\n", "f"), Some("a = f('x\\'', \"#\")".to_string()));
        assert_eq!(line("a = f('''never closed\n\n", "f"), None);
        let text = "async def f():\n    g(\"\"\"\n\"\"\")  # noqa: LS101\n";
        let at = text.find("g(").unwrap();
        assert!(is_suppressed_at(text, Rule::BlockingHttp, &(at..at + 1)));
        assert!(!is_suppressed_at(text, Rule::BlockingSleep, &(at..at + 1)));
        assert_eq!(directive_at(text, &(at..at + 1)), Some(vec!["LS101".to_string()]));
    }
}
