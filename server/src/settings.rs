//! `[tool.loopsafe]` settings: which rules run, their severity, extra blocking calls, excluded paths.
//! Parsing is strict and every error names the key and what was expected, like ruff's.

use std::collections::HashMap;

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
    /// The baseline file `loopsafe check` applies (relative to the configuration file's directory).
    pub baseline: Option<String>,
    /// The language server hides the findings the baseline holds (instead of showing them as hints).
    pub hide_baselined: bool,
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
            baseline: None,
            hide_baselined: false,
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
    "baseline",
    "baseline-in-editor",
];

impl Settings {
    /// Whether a rule is on: the most specific matching selector wins; at equal specificity `ignore`
    /// beats `select` (as in ruff).
    pub fn enabled(&self, rule: Rule) -> bool {
        let best = |sel: &[Selector]| sel.iter().filter(|s| s.matches(rule)).map(Selector::specificity).max();
        match (best(&self.select), best(&self.ignore)) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(s), Some(i)) => s > i,
        }
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
                "exclude" => {
                    let list = string_list(value).map_err(|e| err(&e))?;
                    for g in &list {
                        globset::Glob::new(g).map_err(|e| err(&format!("`{g}` is not a valid glob: {e}")))?;
                    }
                    s.exclude = list;
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
        Ok(s)
    }
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
