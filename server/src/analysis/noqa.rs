//! `# noqa` suppression: a bare `# noqa`, `# noqa: LS101`, a rule name, or an equivalent code of
//! flake8-async or ruff (`# noqa: ASYNC210`), on the first or the last line of the finding.

use std::ops::Range;

use super::Finding;
use crate::rules::Rule;

pub fn is_suppressed(text: &str, f: &Finding) -> bool {
    is_suppressed_at(text, f.rule, &f.range)
}

/// Whether a `# noqa` on the first or last line of `range` suppresses `rule`.
pub fn is_suppressed_at(text: &str, rule: Rule, range: &Range<usize>) -> bool {
    let start = line_of(text, range.start);
    let end = line_of(text, range.end.saturating_sub(1).max(range.start));
    suppresses(start, rule) || (end != start && suppresses(end, rule))
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
    match (directive(start), if end != start { directive(end) } else { None }) {
        (None, None) => None,
        (Some(a), None) | (None, Some(a)) => Some(a),
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
