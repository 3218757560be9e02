//! `[tool.loopsafe]` settings: which rules run, their severity, extra blocking calls, excluded paths.
//! Parsing is strict and every error names the key and what was expected, like ruff's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::catalog::CustomCall;
use crate::rules::{RULES, Rule, Tier};

/// A rule selector: a rule name, a code, a code prefix (`LS1`) or `ALL`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector(String, Implicit);

/// Whether a selector comes from the defaults; implicit selectors lose to any explicit one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Implicit(bool);

impl Selector {
    pub fn parse(s: &str) -> Result<Selector, String> {
        let s = s.trim();
        let ok = s.eq_ignore_ascii_case("ALL")
            || RULES.iter().any(|r| {
                r.name.eq_ignore_ascii_case(s)
                    || (s.len() >= 2 && r.code.len() >= s.len() && r.code[..s.len()].eq_ignore_ascii_case(s))
            });
        if ok {
            Ok(Selector(s.to_string(), Implicit(false)))
        } else {
            Err(format!(
                "unknown rule selector `{s}` (expected a rule name such as `blocking-http`, a code such as `LS101`, a code prefix such as `LS1`, or `ALL`)"
            ))
        }
    }

    pub fn matches(&self, rule: Rule) -> bool {
        let info = rule.info();
        let s = self.0.as_str();
        s.eq_ignore_ascii_case("ALL")
            || info.name.eq_ignore_ascii_case(s)
            || (info.code.len() >= s.len() && info.code[..s.len()].eq_ignore_ascii_case(s))
    }

    /// How specific the selector is: a rule name or full code beats a prefix, which beats `ALL`.
    fn specificity(&self) -> usize {
        if self.0.eq_ignore_ascii_case("ALL") || self.1.0 {
            0
        } else if self.0.contains('-') {
            100
        } else {
            self.0.len()
        }
    }
}

/// Which offloader the offload fix writes (`offload` key).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OffloadFlavor {
    /// `run_in_threadpool` in FastAPI/Starlette files, `anyio`/`trio` in files using them, else `asyncio`.
    #[default]
    Auto,
    RunInThreadpool,
    Asyncio,
    Anyio,
}

impl OffloadFlavor {
    pub const NAMES: &[&str] = &["auto", "run_in_threadpool", "asyncio", "anyio"];

    pub fn parse(s: &str) -> Option<OffloadFlavor> {
        Some(match s {
            "auto" => OffloadFlavor::Auto,
            "run_in_threadpool" => OffloadFlavor::RunInThreadpool,
            "asyncio" => OffloadFlavor::Asyncio,
            "anyio" => OffloadFlavor::Anyio,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub select: Vec<Selector>,
    pub ignore: Vec<Selector>,
    pub exclude: Vec<String>,
    pub extend_blocking_calls: Vec<CustomCall>,
    pub severity: HashMap<Rule, Tier>,
    /// The offloader the offload fix writes.
    pub offload: OffloadFlavor,
    /// Globs of paths not to walk, added to `exclude` (`extend-exclude`).
    pub extend_exclude: Vec<String>,
    /// `per-file-ignores` then `extend-per-file-ignores`: rules off in the files a glob matches.
    pub per_file_ignores: Vec<PerFileIgnore>,
    /// The directory `per-file-ignores` globs are relative to (the configuration file's, set by whoever
    /// read it); `None`: the current directory.
    pub config_dir: Option<PathBuf>,
    /// Rules off whatever the selection: the per-file ignores of one file (see `for_file`).
    pub file_ignores: Vec<Selector>,
    /// The baseline file `loopsafe check` applies (relative to the configuration file's directory).
    pub baseline: Option<String>,
    /// The language server hides the findings the baseline holds (instead of showing them as hints).
    pub hide_baselined: bool,
    /// The runtime recording the language server merges into its diagnostics (`runtime`; relative to
    /// the configuration file's directory). `loopsafe check` takes `--runtime FILE` instead.
    pub runtime: Option<String>,
}

/// One `per-file-ignores` entry, as ruff has it: a glob matched against the file's path relative to
/// the configuration file's directory, or against its file name; `!glob` applies to the files it does
/// not match.
#[derive(Clone, Debug)]
pub struct PerFileIgnore {
    pub pattern: String,
    pub rules: Vec<Selector>,
    negated: bool,
    matcher: globset::GlobMatcher,
}

impl PartialEq for PerFileIgnore {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern && self.rules == other.rules
    }
}

impl PerFileIgnore {
    /// `pattern = [rules]`; errors say which part is wrong (the caller names the key).
    pub fn parse(pattern: &str, rules: &[String]) -> Result<PerFileIgnore, String> {
        let (negated, glob) = match pattern.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        let glob = glob.strip_prefix("./").unwrap_or(glob);
        let matcher =
            globset::Glob::new(glob).map_err(|e| format!("`{pattern}` is not a valid glob: {e}"))?.compile_matcher();
        let rules = rules
            .iter()
            .map(|r| Selector::parse(r).map_err(|e| format!("`{pattern}`: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PerFileIgnore { pattern: pattern.to_string(), rules, negated, matcher })
    }

    /// Whether the entry applies to a file: `rel` is its path relative to the configuration
    /// directory (`None` outside it), `abs` its absolute path.
    fn applies(&self, rel: Option<&Path>, abs: &Path) -> bool {
        let name = abs.file_name().map(Path::new);
        let hit = name.is_some_and(|n| self.matcher.is_match(n))
            || rel.is_some_and(|r| self.matcher.is_match(r))
            || (Path::new(self.pattern.trim_start_matches('!')).is_absolute() && self.matcher.is_match(abs));
        hit != self.negated
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            select: default_select(),
            ignore: Vec::new(),
            exclude: Vec::new(),
            extend_blocking_calls: Vec::new(),
            severity: HashMap::new(),
            offload: OffloadFlavor::Auto,
            extend_exclude: Vec::new(),
            per_file_ignores: Vec::new(),
            config_dir: None,
            file_ignores: Vec::new(),
            baseline: None,
            hide_baselined: false,
            runtime: None,
        }
    }
}

/// The rules that run when `select` is not set: every rule but the opt-in ones.
pub fn default_select() -> Vec<Selector> {
    RULES.iter().filter(|r| r.default_enabled).map(|r| Selector(r.name.to_string(), Implicit(true))).collect()
}

/// Keys accepted in `[tool.loopsafe]`, for error messages.
pub const KEYS: &[&str] = &[
    "select",
    "extend-select",
    "ignore",
    "exclude",
    "extend-blocking-calls",
    "severity",
    "offload",
    "extend-exclude",
    "per-file-ignores",
    "extend-per-file-ignores",
    "baseline",
    "baseline-in-editor",
    "runtime",
];

impl Settings {
    /// Whether a rule is on: the most specific matching selector wins; at equal specificity `ignore`
    /// beats `select` (as in ruff).
    pub fn enabled(&self, rule: Rule) -> bool {
        if self.file_ignores.iter().any(|s| s.matches(rule)) {
            return false;
        }
        let best = |sel: &[Selector]| sel.iter().filter(|s| s.matches(rule)).map(Selector::specificity).max();
        match (best(&self.select), best(&self.ignore)) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(s), Some(i)) => s > i,
        }
    }

    /// The rules `per-file-ignores` turn off in the file at `path` (absolute, or relative to the
    /// current directory).
    pub fn ignored_in(&self, path: &Path) -> Vec<Selector> {
        if self.per_file_ignores.is_empty() {
            return Vec::new();
        }
        let cwd = || std::env::current_dir().unwrap_or_default();
        let abs = crate::check::absolute(path)
            .unwrap_or_else(|| normalize(&if path.is_absolute() { path.to_path_buf() } else { cwd().join(path) }));
        let dir = normalize(&self.config_dir.clone().unwrap_or_else(cwd));
        let rel = abs.strip_prefix(&dir).ok();
        self.per_file_ignores.iter().filter(|p| p.applies(rel, &abs)).flat_map(|p| p.rules.iter().cloned()).collect()
    }

    /// The settings for one file: its per-file ignores turn rules off whatever the selection.
    pub fn for_file(&self, path: &Path) -> std::borrow::Cow<'_, Settings> {
        let off = self.ignored_in(path);
        if off.is_empty() {
            return std::borrow::Cow::Borrowed(self);
        }
        let mut s = self.clone();
        s.file_ignores = off;
        std::borrow::Cow::Owned(s)
    }

    pub fn tier(&self, rule: Rule, default: Tier) -> Tier {
        self.severity.get(&rule).copied().unwrap_or(default)
    }

    /// Reads the `[tool.loopsafe]` table of a parsed `pyproject.toml` (absent: defaults). `source` names
    /// the file in errors.
    pub fn from_pyproject(doc: &toml::Table, source: &str) -> Result<Settings, String> {
        let table = doc.get("tool").and_then(|t| t.as_table()).and_then(|t| t.get("loopsafe"));
        match table {
            None => Ok(Settings::default()),
            Some(toml::Value::Table(t)) => Settings::from_table(t, &format!("{source}: [tool.loopsafe]")),
            Some(_) => Err(format!("{source}: `tool.loopsafe` must be a table")),
        }
    }

    /// Reads settings from a table with the `[tool.loopsafe]` keys. `ctx` prefixes errors.
    pub fn from_table(t: &toml::Table, ctx: &str) -> Result<Settings, String> {
        let mut s = Settings::default();
        let mut extend = Vec::new();
        let mut per_file: [Vec<PerFileIgnore>; 2] = Default::default();
        for (key, value) in t {
            let err = |what: &str| format!("{ctx} `{key}`: {what}");
            match key.as_str() {
                "select" | "extend-select" | "ignore" => {
                    let list = string_list(value).map_err(|e| err(&e))?;
                    let sel =
                        list.iter().map(|x| Selector::parse(x)).collect::<Result<Vec<_>, _>>().map_err(|e| err(&e))?;
                    match key.as_str() {
                        "select" => s.select = sel,
                        "extend-select" => extend.extend(sel),
                        _ => s.ignore = sel,
                    }
                }
                "exclude" | "extend-exclude" => {
                    let list = string_list(value).map_err(|e| err(&e))?;
                    for g in &list {
                        globset::Glob::new(g).map_err(|e| err(&format!("`{g}` is not a valid glob: {e}")))?;
                    }
                    match key.as_str() {
                        "exclude" => s.exclude = list,
                        _ => s.extend_exclude = list,
                    }
                }
                "per-file-ignores" | "extend-per-file-ignores" => {
                    let table = value.as_table().ok_or_else(|| {
                        err("expected a table of glob = [rules], e.g. { \"tests/**\" = [\"blocking-file\"] }")
                    })?;
                    let mut entries = Vec::new();
                    for (pattern, rules) in table {
                        let rules = string_list(rules).map_err(|e| err(&format!("`{pattern}`: {e}")))?;
                        entries.push(PerFileIgnore::parse(pattern, &rules).map_err(|e| err(&e))?);
                    }
                    per_file[usize::from(key == "extend-per-file-ignores")] = entries;
                }
                "extend-blocking-calls" => {
                    let table = value.as_table().ok_or_else(|| {
                        err("expected a table of qualified name = rule, e.g. { \"mylib.fetch\" = \"blocking-custom\" }")
                    })?;
                    for (name, v) in table {
                        s.extend_blocking_calls.push(custom_call(name, v).map_err(|e| err(&e))?);
                    }
                }
                "severity" => {
                    let table = value
                        .as_table()
                        .ok_or_else(|| err("expected a table of rule = tier, e.g. { blocking-file = \"info\" }"))?;
                    for (rule, tier) in table {
                        let r = Rule::from_name_or_code(rule).ok_or_else(|| err(&format!("unknown rule `{rule}`")))?;
                        let t = tier.as_str().and_then(Tier::parse).ok_or_else(|| {
                            err(&format!("`{rule}`: expected one of \"critical\", \"warning\", \"info\", \"hint\""))
                        })?;
                        s.severity.insert(r, t);
                    }
                }
                "offload" => {
                    let expected = || {
                        let names: Vec<String> = OffloadFlavor::NAMES.iter().map(|n| format!("\"{n}\"")).collect();
                        format!("expected one of {}", names.join(", "))
                    };
                    let v = value.as_str().ok_or_else(|| err(&expected()))?;
                    s.offload = OffloadFlavor::parse(v).ok_or_else(|| err(&format!("`{v}`: {}", expected())))?;
                }
                "baseline" => {
                    let v = value.as_str().filter(|v| !v.is_empty()).ok_or_else(|| err("expected a file path"))?;
                    s.baseline = Some(v.to_string());
                }
                "runtime" => {
                    let v = value.as_str().filter(|v| !v.is_empty()).ok_or_else(|| err("expected a file path"))?;
                    s.runtime = Some(v.to_string());
                }
                "baseline-in-editor" => match value.as_str() {
                    Some("hint") => s.hide_baselined = false,
                    Some("hide") => s.hide_baselined = true,
                    _ => return Err(err("expected \"hint\" or \"hide\"")),
                },
                _ => {
                    return Err(format!("{ctx}: unknown key `{key}` (known keys: {})", KEYS.join(", ")));
                }
            }
        }
        s.select.extend(extend);
        s.per_file_ignores = per_file.concat();
        Ok(s)
    }
}

/// `path` without `.` and `..` components (lexically: no file system access).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn string_list(v: &toml::Value) -> Result<Vec<String>, String> {
    let arr = v.as_array().ok_or("expected a list of strings")?;
    arr.iter().map(|x| x.as_str().map(str::to_string).ok_or_else(|| "expected a list of strings".to_string())).collect()
}

fn custom_call(name: &str, v: &toml::Value) -> Result<CustomCall, String> {
    let valid = !name.is_empty()
        && name
            .trim_end_matches('*')
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'));
    if !valid {
        return Err(format!("`{name}` is not a qualified name such as `package.module.function`"));
    }
    let parse_rule = |r: &str| -> Result<Rule, String> {
        match Rule::from_name_or_code(r) {
            Some(rule) if rule.is_blocking() => Ok(rule),
            _ => Err(format!(
                "`{name}`: `{r}` is not a blocking rule (use `blocking-custom` or another `blocking-*` rule)"
            )),
        }
    };
    match v {
        toml::Value::String(r) => Ok(CustomCall { name: name.to_string(), rule: parse_rule(r)?, message: None }),
        toml::Value::Table(t) => {
            let mut rule = Rule::BlockingCustom;
            let mut message = None;
            for (k, v) in t {
                match (k.as_str(), v) {
                    ("rule", toml::Value::String(r)) => rule = parse_rule(r)?,
                    ("message", toml::Value::String(m)) => message = Some(m.clone()),
                    _ => return Err(format!("`{name}`: expected `rule` and `message` strings, found `{k}`")),
                }
            }
            Ok(CustomCall { name: name.to_string(), rule, message })
        }
        _ => Err(format!("`{name}`: expected a rule name or {{ rule = \"...\", message = \"...\" }}")),
    }
}
