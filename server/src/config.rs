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
    Ok(Loaded { settings, source: Some(path.to_path_buf()) })
}

/// The nearest `pyproject.toml` with a `[tool.loopsafe]` table, from `start` upwards.
pub fn discover(start: &Path) -> Result<Loaded, String> {
    match find_config(start) {
        Some(path) => load_file(&path),
        None => Ok(Loaded { settings: Settings::default(), source: None }),
    }
}

/// The `[tool.loopsafe]` table that `discover` would read, with the context its errors are reported in
/// (empty when there is none): for callers that lay other settings over the project's, key by key.
pub fn discover_table(start: &Path) -> Result<(toml::Table, String), String> {
    let Some(path) = find_config(start) else { return Ok((toml::Table::new(), String::new())) };
    let doc = read_toml(&path)?;
    let table = match doc.get("tool").and_then(|t| t.get("loopsafe")) {
        Some(toml::Value::Table(t)) => t.clone(),
        Some(_) => return Err(format!("{}: `tool.loopsafe` must be a table", path.display())),
        None => toml::Table::new(),
    };
    Ok((table, format!("{}: [tool.loopsafe]", path.display())))
}

fn read_toml(path: &Path) -> Result<toml::Table, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    text.parse().map_err(|e: toml::de::Error| format!("{}: invalid TOML: {}", path.display(), e.to_string().trim_end()))
}

/// The nearest `pyproject.toml`, from `start` upwards, that has a `[tool.loopsafe]` table.
fn find_config(start: &Path) -> Option<PathBuf> {
    let start = std::fs::canonicalize(start).unwrap_or_else(|_| start.to_path_buf());
    let mut dir = if start.is_dir() { Some(start.as_path()) } else { start.parent() };
    while let Some(d) = dir {
        let candidate = d.join("pyproject.toml");
        if candidate.is_file() && has_loopsafe_table(&std::fs::read_to_string(&candidate).unwrap_or_default()) {
            return Some(candidate);
        }
        dir = d.parent();
    }
    None
}

fn has_loopsafe_table(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim();
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
            if let Ok(doc) = std::fs::read_to_string(&candidate).unwrap_or_default().parse::<toml::Table>() {
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
