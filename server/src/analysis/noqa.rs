//! `# noqa` suppression: a bare `# noqa`, `# noqa: LS101`, a rule name, or an equivalent code of
//! flake8-async or ruff (`# noqa: ASYNC210`), on the first or the last line of the finding.

use super::Finding;

pub fn is_suppressed(text: &str, f: &Finding) -> bool {
    let start = line_of(text, f.range.start);
    let end = line_of(text, f.range.end.saturating_sub(1).max(f.range.start));
    suppresses(start, f) || (end != start && suppresses(end, f))
}

fn line_of(text: &str, offset: usize) -> &str {
    let offset = offset.min(text.len());
    let bytes = text.as_bytes();
    let start = bytes[..offset].iter().rposition(|&b| b == b'\n' || b == b'\r').map_or(0, |i| i + 1);
    let end = bytes[offset..].iter().position(|&b| b == b'\n' || b == b'\r').map_or(text.len(), |i| offset + i);
    text.get(start..end).unwrap_or("")
}

fn suppresses(line: &str, f: &Finding) -> bool {
    let info = f.rule.info();
    let lower = line.to_ascii_lowercase();
    let mut rest = lower.as_str();
    while let Some(i) = rest.find('#') {
        let comment = rest[i + 1..].trim_start();
        rest = &rest[i + 1..];
        let Some(after) = comment.strip_prefix("noqa") else { continue };
        let after = after.trim_start();
        let Some(codes) = after.strip_prefix(':') else {
            // A bare `# noqa` (anything but a colon after it) suppresses everything on the line.
            return true;
        };
        let matched = codes
            .split(|c: char| c == ',' || c.is_whitespace())
            .map(str::trim)
            .take_while(|c| !c.starts_with('#'))
            .filter(|c| !c.is_empty())
            .any(|c| {
                c.eq_ignore_ascii_case(info.code)
                    || c.eq_ignore_ascii_case(info.name)
                    || info.equivalents.iter().any(|e| c.eq_ignore_ascii_case(e))
            });
        if matched {
            return true;
        }
    }
    false
}
