//! Finding and reading configuration: `[tool.loopsafe]` in the nearest `pyproject.toml` that has one
//! (or the file given with `--config`). I/O lives here, not in the analysis core.

use std::path::{Path, PathBuf};

use crate::settings::Settings;

#[derive(Debug, Clone)]
pub struct Loaded {
    pub settings: Settings,
    /// The file the settings came from, if any.
    pub source: Option<PathBuf>,
}

impl Loaded {
    /// The directory relative to which `exclude` globs are matched.
    pub fn root(&self) -> Option<&Path> {
        self.source.as_deref().and_then(Path::parent)
    }
}

/// Reads settings from a `pyproject.toml` (its `[tool.loopsafe]` table) or a `loopsafe.toml` (the table's
/// keys at top level).
pub fn load_file(path: &Path) -> Result<Loaded, String> {
    let doc = read_toml(path)?;
    let name = path.display().to_string();
    let settings = if path.file_name().is_some_and(|n| n == "pyproject.toml") {
        Settings::from_pyproject(&doc, &name)?
    } else {
        Settings::from_table(&doc, &name)?
    };
    let mut settings = settings;
    settings.config_dir = Some(config_dir(path));
    Ok(Loaded { settings, source: Some(path.to_path_buf()) })
}

/// The nearest `pyproject.toml` with a `[tool.loopsafe]` table, from `start` upwards.
pub fn discover(start: &Path) -> Result<Loaded, String> {
    match find_config(start)? {
        Some(path) => load_file(&path),
        None => Ok(Loaded { settings: Settings::default(), source: None }),
    }
}

/// The `[tool.loopsafe]` table that `discover` would read, with the context its errors are reported in
/// (empty when there is none): for callers that lay other settings over the project's, key by key.
pub fn discover_table(start: &Path) -> Result<(toml::Table, String), String> {
    let Some(path) = find_config(start)? else { return Ok((toml::Table::new(), String::new())) };
    let doc = read_toml(&path)?;
    let table = match doc.get("tool").and_then(|t| t.get("loopsafe")) {
        Some(toml::Value::Table(t)) => t.clone(),
        Some(_) => return Err(format!("{}: `tool.loopsafe` must be a table", path.display())),
        None => toml::Table::new(),
    };
    Ok((table, format!("{}: [tool.loopsafe]", path.display())))
}

/// `discover_table`, with the directory of the file read (`per-file-ignores` globs are relative to it).
pub fn discover_table_dir(start: &Path) -> Result<(toml::Table, String, Option<PathBuf>), String> {
    let dir = find_config(start)?.map(|p| config_dir(&p));
    let (table, ctx) = discover_table(start)?;
    Ok((table, ctx, dir))
}

/// The directory of a configuration file, canonical when it exists.
fn config_dir(path: &Path) -> PathBuf {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

fn read_toml(path: &Path) -> Result<toml::Table, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let text = utf8(path, &bytes)?;
    text.parse().map_err(|e: toml::de::Error| format!("{}: invalid TOML: {}", path.display(), e.to_string().trim_end()))
}

/// A TOML file's text (TOML is UTF-8; a BOM is allowed and dropped); an error naming the file and the
/// first invalid byte's line and column otherwise.
fn utf8<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str, String> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(body).map_err(|e| {
        let good = &body[..e.valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        let col = good.len() - good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) + 1;
        format!(
            "{}: not valid UTF-8 (byte 0x{:02x} at line {line}, column {col}); TOML files must be UTF-8",
            path.display(),
            body[e.valid_up_to()]
        )
    })
}

/// The nearest `pyproject.toml`, from `start` upwards, that has a `[tool.loopsafe]` table. A
/// `pyproject.toml` that cannot be read or is not UTF-8 where its text shows such a table is an error,
/// not a file without one: the user's settings must not be ignored silently.
fn find_config(start: &Path) -> Result<Option<PathBuf>, String> {
    let start = crate::check::absolute(start).unwrap_or_else(|| start.to_path_buf());
    let mut dir = if start.is_dir() { Some(start.as_path()) } else { start.parent() };
    while let Some(d) = dir {
        let candidate = d.join("pyproject.toml");
        if candidate.is_file() {
            let bytes = match std::fs::read(&candidate) {
                Ok(b) => b,
                // Deleted since `is_file`: there is none.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(format!("{}: cannot read: {e}", candidate.display())),
            };
            if has_loopsafe_table(&String::from_utf8_lossy(&bytes)) {
                utf8(&candidate, &bytes)?;
                return Ok(Some(candidate));
            }
        }
        dir = d.parent();
    }
    Ok(None)
}

fn has_loopsafe_table(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start_matches('\u{feff}').trim();
        l.starts_with("[tool.loopsafe") || l.starts_with("[ tool.loopsafe")
    })
}

/// Whether the project around `start` declares a dependency on one of `names` (normalized, lowercase):
/// in the nearest `pyproject.toml` (`[project] dependencies` and `optional-dependencies`, Poetry's
/// dependency tables) or a `requirements*.txt` beside it. Used by fixes that write a library's API.
pub fn project_depends_on(start: &Path, names: &[&str]) -> bool {
    let start = std::fs::canonicalize(start).unwrap_or_else(|_| start.to_path_buf());
    let mut dir = if start.is_dir() { Some(start.as_path()) } else { start.parent() };
    while let Some(d) = dir {
        let candidate = d.join("pyproject.toml");
        if candidate.is_file() {
            let mut deps = Vec::new();
            let bytes = std::fs::read(&candidate).unwrap_or_default();
            if let Ok(doc) = utf8(&candidate, &bytes).unwrap_or_default().parse::<toml::Table>() {
                pyproject_dependencies(&doc, &mut deps);
            }
            if let Ok(entries) = std::fs::read_dir(d) {
                for e in entries.flatten() {
                    let name = e.file_name().to_string_lossy().to_string();
                    if name.starts_with("requirements") && name.ends_with(".txt") {
                        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                        deps.extend(text.lines().map(str::to_string));
                    }
                }
            }
            return deps.iter().any(|d| names.contains(&normalize_requirement(d).as_str()));
        }
        dir = d.parent();
    }
    false
}

fn pyproject_dependencies(doc: &toml::Table, out: &mut Vec<String>) {
    let strings = |v: Option<&toml::Value>, out: &mut Vec<String>| {
        if let Some(a) = v.and_then(|v| v.as_array()) {
            out.extend(a.iter().filter_map(|x| x.as_str().map(str::to_string)));
        }
    };
    if let Some(project) = doc.get("project").and_then(|p| p.as_table()) {
        strings(project.get("dependencies"), out);
        if let Some(opt) = project.get("optional-dependencies").and_then(|o| o.as_table()) {
            for v in opt.values() {
                strings(Some(v), out);
            }
        }
    }
    let poetry = doc.get("tool").and_then(|t| t.get("poetry")).and_then(|p| p.as_table());
    if let Some(poetry) = poetry {
        for key in ["dependencies", "dev-dependencies"] {
            if let Some(t) = poetry.get(key).and_then(|d| d.as_table()) {
                out.extend(t.keys().cloned());
            }
        }
    }
}

/// `Foo_Bar[extra]>=1.0 ; python_version<'3.12'` → `foo-bar`.
fn normalize_requirement(req: &str) -> String {
    req.trim()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .map(|c| if c == '_' || c == '.' { '-' } else { c.to_ascii_lowercase() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pyproject_that_is_not_utf8_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pyproject.toml");
        std::fs::write(&path, b"[tool.loopsafe]\n# caf\xe9\nselect = [\"LS1\"]\n").unwrap();
        let err = discover(dir.path()).unwrap_err();
        assert_eq!(
            err,
            format!(
                "{}: not valid UTF-8 (byte 0xe9 at line 2, column 6); TOML files must be UTF-8",
                std::fs::canonicalize(&path).unwrap().display()
            )
        );
        assert!(discover_table(dir.path()).is_err());
        assert!(load_file(&path).unwrap_err().contains("not valid UTF-8"));
    }

    #[test]
    fn a_bom_is_allowed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pyproject.toml"), b"\xEF\xBB\xBF[tool.loopsafe]\nignore = [\"LS1\"]\n")
            .unwrap();
        let loaded = discover(dir.path()).unwrap();
        assert!(!loaded.settings.ignore.is_empty());
    }
}
