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
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let doc: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| format!("{}: invalid TOML: {}", path.display(), e.to_string().trim_end()))?;
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
    let start = std::fs::canonicalize(start).unwrap_or_else(|_| start.to_path_buf());
    let mut dir = if start.is_dir() { Some(start.as_path()) } else { start.parent() };
    while let Some(d) = dir {
        let candidate = d.join("pyproject.toml");
        if candidate.is_file() {
            let text = std::fs::read_to_string(&candidate).unwrap_or_default();
            if has_loopsafe_table(&text) {
                return load_file(&candidate);
            }
        }
        dir = d.parent();
    }
    Ok(Loaded { settings: Settings::default(), source: None })
}

fn has_loopsafe_table(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim();
        l.starts_with("[tool.loopsafe") || l.starts_with("[ tool.loopsafe")
    })
}
