//! The rules loopsafe reports: stable codes, names, default tiers, the equivalent codes of other linters,
//! and each rule's documentation (a Markdown file beside this one).
//!
//! Which APIs belong to which rule is data in `queries/catalog/`; this table only names the rules.
//!
//! Numbering: `LS1xx` are blocking calls on the event loop (one code per catalog family, `LS190` for
//! what only a runtime recording shows, `LS199` for user-configured calls), `LS2xx` are coroutine-shape
//! rules, `LS3xx` are rules about code that runs in a worker thread. Codes are never reused or
//! renumbered.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How bad a finding is. Catalog entries and rules carry a tier; the CLI and the editor map it to their
/// own severities (critical → error, warning → warning, info → information, hint → hint).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Hint,
    Info,
    Warning,
    Critical,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Hint => "hint",
            Tier::Info => "info",
            Tier::Warning => "warning",
            Tier::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Tier> {
        [Tier::Hint, Tier::Info, Tier::Warning, Tier::Critical].into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    BlockingHttp,
    BlockingSleep,
    BlockingSubprocess,
    BlockingFile,
    BlockingInput,
    BlockingNetwork,
    BlockingDatabase,
    BlockingWait,
    BlockingSdk,
    BlockingCustom,
    AsyncWithoutAwait,
    LoopApiInThread,
    BlockingSeenAtRuntime,
}

pub struct RuleInfo {
    pub rule: Rule,
    pub name: &'static str,
    pub code: &'static str,
    /// One line: what the rule reports.
    pub summary: &'static str,
    pub default_tier: Tier,
    /// Codes of flake8-async and ruff that report (part of) the same thing; `# noqa: <equivalent>` works too.
    pub equivalents: &'static [&'static str],
    /// The rule's documentation: What it does / Why is this bad? / Example / Use instead / Fix safety.
    pub doc: &'static str,
    /// Whether the rule runs without being selected. Opt-in rules are noisy on purpose-built code.
    pub default_enabled: bool,
}

macro_rules! rule {
    ($rule:ident, $name:literal, $code:literal, $tier:ident, [$($eq:literal),*], $summary:literal) => {
        rule!($rule, $name, $code, $tier, [$($eq),*], $summary, true)
    };
    ($rule:ident, $name:literal, $code:literal, $tier:ident, [$($eq:literal),*], $summary:literal, $on:literal) => {
        RuleInfo {
            rule: Rule::$rule,
            name: $name,
            code: $code,
            summary: $summary,
            default_tier: Tier::$tier,
            equivalents: &[$($eq),*],
            doc: include_str!(concat!($name, ".md")),
            default_enabled: $on,
        }
    };
}

pub static RULES: &[RuleInfo] = &[
    rule!(
        BlockingHttp,
        "blocking-http",
        "LS101",
        Critical,
        ["ASYNC210", "ASYNC211", "ASYNC212"],
        "A synchronous HTTP request made on the event loop"
    ),
    rule!(BlockingSleep, "blocking-sleep", "LS102", Critical, ["ASYNC251"], "`time.sleep` called on the event loop"),
    rule!(
        BlockingSubprocess,
        "blocking-subprocess",
        "LS103",
        Critical,
        ["ASYNC220", "ASYNC221", "ASYNC222"],
        "A subprocess started or waited for synchronously on the event loop"
    ),
    rule!(
        BlockingFile,
        "blocking-file",
        "LS104",
        Warning,
        ["ASYNC230", "ASYNC231", "ASYNC232", "ASYNC240"],
        "Synchronous file or file-system I/O on the event loop"
    ),
    rule!(
        BlockingInput,
        "blocking-input",
        "LS105",
        Critical,
        ["ASYNC250"],
        "Reading from the terminal on the event loop"
    ),
    rule!(
        BlockingNetwork,
        "blocking-network",
        "LS106",
        Critical,
        [],
        "A blocking socket, DNS or mail/FTP protocol call on the event loop"
    ),
    rule!(
        BlockingDatabase,
        "blocking-database",
        "LS107",
        Critical,
        [],
        "A synchronous database driver call on the event loop"
    ),
    rule!(
        BlockingWait,
        "blocking-wait",
        "LS108",
        Critical,
        [],
        "Waiting on a thread primitive, a future, or a nested event loop on the event loop"
    ),
    rule!(
        BlockingSdk,
        "blocking-sdk",
        "LS109",
        Critical,
        [],
        "A synchronous cloud or service SDK call on the event loop"
    ),
    rule!(
        BlockingCustom,
        "blocking-custom",
        "LS199",
        Critical,
        ["ASYNC200"],
        "A call configured as blocking in `extend-blocking-calls`, made on the event loop"
    ),
    rule!(
        AsyncWithoutAwait,
        "async-without-await",
        "LS201",
        Info,
        ["RUF029", "ASYNC124"],
        "A coroutine that never awaits (opt-in)",
        false
    ),
    rule!(
        LoopApiInThread,
        "loop-api-in-thread",
        "LS301",
        Critical,
        [],
        "An event-loop API called from a sync route or dependency, which runs in a worker thread"
    ),
    rule!(
        BlockingSeenAtRuntime,
        "blocking-seen-at-runtime",
        "LS190",
        Critical,
        [],
        "A blocking call recorded on the event loop at runtime (`--runtime`) that no static finding covers"
    ),
];

impl Rule {
    pub fn info(self) -> &'static RuleInfo {
        RULES.iter().find(|r| r.rule == self).expect("every rule is in RULES")
    }
    pub fn name(self) -> &'static str {
        self.info().name
    }
    pub fn code(self) -> &'static str {
        self.info().code
    }
    /// Looks a rule up by name (`blocking-http`) or code (`LS101`), case-insensitively.
    pub fn from_name_or_code(s: &str) -> Option<Rule> {
        RULES.iter().find(|r| r.name.eq_ignore_ascii_case(s) || r.code.eq_ignore_ascii_case(s)).map(|r| r.rule)
    }
    pub fn all() -> impl Iterator<Item = Rule> {
        RULES.iter().map(|r| r.rule)
    }
    /// A blocking-call rule the static analysis reports (a catalog family or `blocking-custom`); not
    /// `blocking-seen-at-runtime`, which only a recording gives.
    pub fn is_blocking(self) -> bool {
        self.code().starts_with("LS1") && self != Rule::BlockingSeenAtRuntime
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a rule's documentation is published; editors link diagnostics here.
pub fn doc_url(rule: Rule) -> String {
    format!("https://github.com/loopsafe/loopsafe/blob/main/server/src/rules/{}.md", rule.name())
}
