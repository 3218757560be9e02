//! The analysis core: text + tree + catalog + settings in, findings out.
//!
//! Pure by contract: no I/O, no async, no global state beyond the compiled query. Positions are byte
//! offsets into the text; the CLI and the language server convert them at their edges. Broken code is
//! normal input: tree-sitter ERROR nodes are skipped over, and every walk is bounded so that deeply
//! nested input cannot exhaust the stack.

mod checks;
pub mod facts;
pub mod fingerprint;
pub mod noqa;
pub mod resolve;
pub mod shift;
pub mod summary;

use std::collections::HashMap;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use tree_sitter::Tree;

use self::checks::Part;
use self::facts::{Facts, ScopeId, ScopeKind};
use self::resolve::Resolver;
use self::shift::LineEdit;
use crate::catalog::{Catalog, FixKind};
use crate::line_index::LineIndex;
use crate::rules::{Rule, Tier};
use crate::settings::Settings;
use crate::syntax::line_start;

pub use checks::cli_note;
pub use noqa::{is_suppressed, is_suppressed_at, matches as noqa_matches};
pub use summary::FileSummary;

/// One step of the way from a coroutine to a blocking call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    /// The file of this hop; `None` for the file being analysed.
    pub path: Option<String>,
    pub range: Range<usize>,
    /// What is called at this hop (`requests.get`, `services.fetch_user`).
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: Rule,
    pub tier: Tier,
    /// What the finding points at: the callee expression of a call, or a function's name.
    pub range: Range<usize>,
    /// The whole call expression, for fixes.
    pub call_range: Option<Range<usize>>,
    pub message: String,
    /// The qualified name of the blocking API.
    pub callee: Option<String>,
    /// What to use instead.
    pub instead: Option<String>,
    /// Which fixes apply (from the catalog).
    pub fix_kinds: Vec<FixKind>,
    /// From the coroutine's call to the blocking call; one hop for a direct call.
    pub chain: Vec<Hop>,
    /// The coroutine (or sync route) the finding is in.
    pub function: Option<String>,
    /// The FastAPI/Starlette route that reaches it, as `GET /items/{id}`, when visible.
    pub route: Option<String>,
    /// Operations on what the reported call returned, in the same coroutine (`fh.read()` after
    /// `with open(p) as fh`): part of this finding, not findings of their own (`fold_handles`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<Related>,
}

/// A place that belongs to a finding: an operation on the handle its call returned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Related {
    /// The operation's callee expression (`fh.read`), in the finding's file.
    pub range: Range<usize>,
    /// The blocking API it calls (`io.TextIOWrapper.read`).
    pub name: String,
    /// For humans: what the operation does.
    pub message: String,
}

/// Everything the analysis learns from one file: its own findings and its summary for the
/// cross-module analysis.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileAnalysis {
    pub findings: Vec<Finding>,
    pub summary: FileSummary,
    /// Where a bound stopped the analysis from following the code, so that findings below it may be
    /// missing: the CLI prints these as warnings, the language server logs them.
    pub cuts: Vec<Cut>,
}

/// A place where the analysis stopped following the code (see `nesting_cuts`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cut {
    /// Where the code the analysis could not follow starts.
    pub offset: usize,
    /// What bound stopped it, for humans.
    pub message: String,
}

/// How many levels of indentation tree-sitter-python follows: its scanner saves its stack of indents
/// in a 1 KiB buffer, 2 bytes each (CPython itself refuses more than 100 levels). Deeper blocks come
/// out as syntax errors, and their code is not analysed.
pub const PARSER_MAX_INDENTS: usize = 500;

/// Where indentation goes deeper than the parser follows (`PARSER_MAX_INDENTS`), when the parse has
/// errors: the first line of each such stretch. A linear scan of the lines, as Python's tokenizer
/// stacks indents (brackets and strings are not tracked: a continuation line counts as a level).
pub fn nesting_cuts(text: &str, tree: &Tree) -> Vec<Cut> {
    let mut cuts = Vec::new();
    if !tree.root_node().has_error() {
        return cuts;
    }
    let mut stack: Vec<usize> = vec![0];
    let (mut offset, mut deep) = (0, false);
    for line in text.split_inclusive('\n') {
        let body = line.trim_start_matches([' ', '\t', '\x0c']);
        let code = body.trim_end();
        if !code.is_empty() && !code.starts_with('#') {
            let indent = line.len() - body.len();
            while stack.len() > 1 && indent < stack[stack.len() - 1] {
                stack.pop();
            }
            if indent > stack[stack.len() - 1] {
                stack.push(indent);
            }
            let now = stack.len() - 1 > PARSER_MAX_INDENTS;
            if now && !deep {
                cuts.push(Cut {
                    offset,
                    message: format!(
                        "blocks nested more than {PARSER_MAX_INDENTS} levels deep: the parser does not follow them, so \
                         findings in this code may be missing"
                    ),
                });
            }
            deep = now;
        }
        offset += line.len();
    }
    cuts
}

/// Analyses one parsed file. `text` must be the text `tree` was parsed from.
pub fn analyze(text: &str, tree: &Tree, catalog: &Catalog, settings: &Settings) -> Vec<Finding> {
    analyze_file(text, tree, catalog, settings, false).findings
}

/// Analyses one parsed file, and summarizes it for the cross-module analysis when `summarize` is set.
/// The summary does not depend on `select`/`ignore`/`severity`: the linker applies those.
pub fn analyze_file(text: &str, tree: &Tree, catalog: &Catalog, settings: &Settings, summarize: bool) -> FileAnalysis {
    let facts = Facts::extract(text, tree);
    let mut analysis = analyze_facts(text, &facts, catalog, settings, summarize);
    merge_cuts(&mut analysis.cuts, nesting_cuts(text, tree));
    analysis
}

/// Analyses and summarizes one parsed file, and keeps its facts so that an edit can be analysed by
/// `reanalyze_edit`.
pub fn analyze_tree(text: &str, tree: &Tree, catalog: &Catalog, settings: &Settings) -> (Facts, FileAnalysis) {
    let facts = Facts::extract(text, tree);
    let mut analysis = analyze_facts(text, &facts, catalog, settings, true);
    merge_cuts(&mut analysis.cuts, nesting_cuts(text, tree));
    (facts, analysis)
}

/// Adds `more` to `cuts`, in order of offset, one per offset.
fn merge_cuts(cuts: &mut Vec<Cut>, more: Vec<Cut>) {
    cuts.extend(more);
    cuts.sort_by_key(|c| c.offset);
    cuts.dedup_by_key(|c| c.offset);
}

/// Where resolution was cut short (`Resolver::cuts`), as cuts, those in `within` only.
fn resolution_cuts(r: &Resolver<'_>, within: Range<usize>) -> Vec<Cut> {
    use self::resolve::CutKind;
    r.cuts()
        .into_iter()
        .filter(|(offset, _)| within.contains(offset))
        .map(|(offset, kind)| Cut {
            offset,
            message: match kind {
                CutKind::DeepExpression => format!(
                    "an expression nested more than {} levels deep: what it refers to is not followed, so \
                     findings here may be missing",
                    facts::MAX_EXPR_DEPTH
                ),
                CutKind::DeepResolution => format!(
                    "resolving this takes more than {} steps (aliases, attributes, calls, base classes): what it \
                     refers to is not followed, so findings here may be missing",
                    resolve::MAX_DEPTH
                ),
            },
        })
        .collect()
}

fn analyze_facts(text: &str, facts: &Facts, catalog: &Catalog, settings: &Settings, summarize: bool) -> FileAnalysis {
    analyze_facts_endpoints(text, facts, catalog, settings, summarize, &mut None)
}

/// [`analyze_facts`], giving the file's [`endpoint_ranges`] in `ranges` when it is `Some`.
fn analyze_facts_endpoints(
    text: &str,
    facts: &Facts,
    catalog: &Catalog,
    settings: &Settings,
    summarize: bool,
    ranges: &mut Option<Vec<Range<usize>>>,
) -> FileAnalysis {
    let r = Resolver::new(facts, text, catalog);
    let part = Part::all(facts);
    let endpoints = checks::endpoints(&r);
    if let Some(out) = ranges {
        // The same list as `endpoint_ranges`: the routes and dependencies a web framework serves, not
        // command-line commands (a command is not run in a worker thread when made a plain `def`).
        out.extend(endpoints.iter().filter(|(_, e)| e.served()).map(|(&id, _)| facts.scopes[id].range.clone()));
        out.sort_by_key(|r| r.start);
    }
    let runs_in = checks::execution_scopes(&r, part.scopes.clone(), &facts.calls);
    let findings = findings(&r, settings, &endpoints, &runs_in, &part);
    let summary = if summarize {
        let index = LineIndex::new(text);
        let loc = |offset: usize| loc_in(&index, text, offset);
        let mut summary = summarize_part(&r, &part, &endpoints, &runs_in, &loc, text);
        summary.exports = summary::exports(&r);
        (summary.stars, summary.all) = summary::stars(&r);
        summary.registers = summary::registers(&r);
        summary.routing = checks::routing(&r, &endpoints);
        summary
    } else {
        FileSummary::default()
    };
    let cuts = resolution_cuts(&r, 0..usize::MAX);
    FileAnalysis { findings, summary, cuts }
}

fn findings(
    r: &Resolver<'_>,
    settings: &Settings,
    endpoints: &HashMap<ScopeId, checks::Endpoint>,
    runs_in: &[ScopeId],
    part: &Part,
) -> Vec<Finding> {
    let mut findings = checks::run(r, settings, endpoints, runs_in, part);
    findings.retain(|f| settings.enabled(f.rule));
    // Before `# noqa`: a directive on the opening's line silences its operations with it, and one on an
    // operation's line alone no longer has a finding of its own to silence.
    fold_handles(r, &mut findings);
    findings.retain(|f| !noqa::is_suppressed(r.text, f));
    for f in &mut findings {
        f.tier = settings.tier(f.rule, f.tier);
    }
    sort_findings(&mut findings);
    findings
}

/// One finding per problem: an operation on a handle whose opening is reported in the same coroutine
/// (`fh.read()` after `with open(p) as fh`, `cur.execute()` after `cur = sqlite3.connect(db).cursor()`,
/// `json.load(fh)`) becomes related information of the opening's finding, not a finding of its own.
/// The handle is followed through local names bound by assignment or `with ... as`, within the one
/// scope, and through what its methods return and its attributes hold (`conn.cursor()`,
/// `proc.stdout`), whatever the rule of the method; a call the handle is passed to folds when it is
/// of the opening's rule (`json.load(fh)`; a file sent by `requests.post(url, data=fh)` is still an
/// HTTP request). The opening's finding takes
/// the highest tier among what it absorbed. A handle from elsewhere (a parameter, `self.log`) has no
/// opening here: each use stays a finding. Findings of one scope only, so an analysis of one function
/// alone folds as the whole file's does.
fn fold_handles(r: &Resolver<'_>, findings: &mut Vec<Finding>) {
    let facts = r.facts;
    let direct = |f: &Finding| f.rule.is_blocking() && f.chain.len() == 1 && f.related.is_empty();
    let by_call: HashMap<Range<usize>, usize> = findings
        .iter()
        .enumerate()
        .filter(|(_, f)| direct(f))
        .filter_map(|(i, f)| f.call_range.clone().map(|c| (c, i)))
        .collect();
    if by_call.len() < 2 {
        return;
    }
    // The call fact of a finding: calls are in order of their start (an outer call first).
    let call_at = |range: &Range<usize>| {
        let first = facts.calls.partition_point(|c| c.range.start < range.start);
        facts.calls[first..].iter().take_while(|c| c.range.start == range.start).find(|c| c.range == *range)
    };
    // Openings: reported calls that return an instance of a class they are not a method of (`open` a
    // file object, `sqlite3.connect` a connection, `conn.execute` a cursor; not `Path.resolve`, a
    // path from a path, nor `os.listdir`, whose list the analysis does not type).
    let openers: std::collections::HashSet<usize> = by_call
        .iter()
        .filter_map(|(range, &i)| {
            let call = call_at(range)?;
            let callee = r.value_of(&call.func);
            let q = r.called(&callee)?;
            match r.call_result(callee, 0) {
                resolve::Value::Instance(t) if !q.starts_with(&format!("{t}.")) => Some(i),
                _ => None,
            }
        })
        .collect();
    if openers.is_empty() {
        return;
    }
    let mut parent: Vec<Option<usize>> = vec![None; findings.len()];
    for (range, &i) in &by_call {
        let Some(call) = call_at(range) else { continue };
        let scope = call.scope;
        let same_function = |j: usize| j != i && findings[j].function == findings[i].function;
        // A method of the handle, whatever its rule (`proc.stdout.read()` of a `subprocess.Popen`); a
        // call the handle is passed to, when of the opening's rule (`json.load(fh)`).
        let receiver = match &call.func.kind {
            facts::ExprKind::Attribute(obj, _) => {
                handle_opener(r, &by_call, &openers, obj, scope, range.start, 0).filter(|&j| same_function(j))
            }
            _ => None,
        };
        parent[i] = receiver.or_else(|| {
            call.args.iter().find_map(|a| {
                handle_opener(r, &by_call, &openers, &a.value, scope, range.start, 0)
                    .filter(|&j| same_function(j) && findings[j].rule == findings[i].rule)
            })
        });
    }
    // Each folded finding joins the root of its handle's derivation (`conn` for `cur.fetchall()`).
    let root: Vec<Option<usize>> = (0..findings.len())
        .map(|i| {
            let (mut at, mut steps) = (i, 0);
            while let Some(p) = parent[at] {
                at = p;
                steps += 1;
                if steps > findings.len() {
                    return None; // a cycle (cannot happen: a handle is bound before its use)
                }
            }
            (at != i).then_some(at)
        })
        .collect();
    if root.iter().all(Option::is_none) {
        return;
    }
    for (i, j) in root.iter().enumerate() {
        let Some(j) = *j else { continue };
        let op = &findings[i];
        let what = op.message.split("; ").next().unwrap_or(&op.message);
        let opener = findings[j].callee.clone().unwrap_or_default();
        let related = Related {
            range: op.range.clone(),
            name: op.callee.clone().unwrap_or_default(),
            message: format!("{what}, on what `{opener}` returned"),
        };
        let tier = op.tier;
        let f = &mut findings[j];
        f.related.push(related);
        f.tier = f.tier.max(tier);
    }
    // Offloading the opening call alone would leave the absorbed operations on the loop, and unreported
    // once the handle comes from a thread: offered only where the whole `with` block it enters moves
    // to a thread (`fix::block`).
    for f in findings.iter_mut() {
        if !f.related.is_empty()
            && !f.call_range.as_ref().is_some_and(|c| facts.enters.iter().any(|(m, _, _)| m.range == *c))
        {
            f.fix_kinds.retain(|k| *k != FixKind::Offload);
        }
    }
    let mut i = 0;
    findings.retain(|_| {
        i += 1;
        root[i - 1].is_none()
    });
}

/// The reported call (by its index in `by_call`'s findings) whose result `e` is, or was derived from
/// by a method call or an attribute, when `e` is that call, a method call or attribute of such a
/// result, or a name bound to one in the call's own scope `scope` before `at`.
fn handle_opener(
    r: &Resolver<'_>,
    by_call: &HashMap<Range<usize>, usize>,
    openers: &std::collections::HashSet<usize>,
    e: &facts::Expr,
    scope: ScopeId,
    at: usize,
    depth: u32,
) -> Option<usize> {
    if depth > 8 {
        return None;
    }
    match &e.kind {
        facts::ExprKind::Call(func) => {
            if let Some(&j) = by_call.get(&e.range).filter(|j| openers.contains(j)) {
                return Some(j);
            }
            match &func.kind {
                facts::ExprKind::Attribute(obj, _) => handle_opener(r, by_call, openers, obj, scope, at, depth + 1),
                _ => None,
            }
        }
        // What a handle holds is derived from it (`proc.stdout` of a reported `subprocess.Popen`).
        facts::ExprKind::Attribute(obj, _) => handle_opener(r, by_call, openers, obj, scope, at, depth + 1),
        facts::ExprKind::Name(name) => {
            let facts = r.facts;
            let id = r.binding_at(name, scope, at)?;
            let b = &facts.bindings[id];
            // Bound in this very scope, before the use (not a parameter, not an enclosing scope's name).
            if b.pos > at || !facts.scopes[scope].bindings.get(name).is_some_and(|l| l.contains(&id)) {
                return None;
            }
            match &b.kind {
                facts::BindingKind::Value(v) | facts::BindingKind::With(v) => {
                    handle_opener(r, by_call, openers, v, scope, v.range.start, depth + 1)
                }
                _ => None,
            }
        }
        _ => None,
    }
}

fn sort_findings(findings: &mut Vec<Finding>) {
    findings.sort_by(|a, b| a.range.start.cmp(&b.range.start).then(a.rule.cmp(&b.rule)));
    findings.dedup_by(|a, b| a.range == b.range && a.rule == b.rule);
}

fn summarize_part(
    r: &Resolver<'_>,
    part: &Part,
    endpoints: &HashMap<ScopeId, checks::Endpoint>,
    runs_in: &[ScopeId],
    loc: &dyn Fn(usize) -> summary::Loc,
    text: &str,
) -> FileSummary {
    summary::summarize_part(
        r,
        part,
        endpoints,
        runs_in,
        loc,
        &|rule, range| noqa::is_suppressed_at(text, rule, &range),
        &|range| noqa::directive_at(text, &range),
    )
}

fn loc_in(index: &LineIndex, text: &str, offset: usize) -> summary::Loc {
    let (line, col, col_utf16, col_utf8) = index.all_columns(text, offset);
    summary::Loc {
        offset: offset as u32,
        line: line as u32,
        col: col as u32,
        col_utf16: col_utf16 as u32,
        col_utf8: col_utf8 as u32,
    }
}

/// Why an edit could not be analysed on its own (the caller then parses and analyses the whole file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotLocal {
    /// The edit is not inside the body of a module function or method.
    Outside,
    /// The function, parsed alone, is no longer one function with a valid header whose errors (if any)
    /// stay inside its body.
    Syntax,
}

/// Analyses an edit inside the body of one function (a module function or a method) by parsing and
/// extracting that function alone (only the edited statement when its facts are its own, see
/// `Facts::splice_statement`): the rest of the file's facts and findings only move. `facts` and
/// `old` are those of the text before the edit, `text` is the text after it. On success `facts` are
/// those of the new text; on failure they are unchanged, and the whole file must be analysed again.
///
/// The function may be left with syntax errors (see `parse_unit`): it is then listed in `facts.broken`
/// and the rest of the file keeps its facts. The answer is what `analyze_tree` gives for the new text
/// when `facts.broken` is empty, what `analyze_with_broken` gives otherwise (the tests compare them
/// after every edit of their stress tests), as long as the rest of the file parsed without errors.
///
/// An edit of a module-level simple statement or import that no function path takes is spliced into
/// the facts alone (`Facts::splice_module_statement`: no parse or extraction of the whole file), and the
/// findings are recomputed from the facts; the whole file is parsed again only when the edit touches a
/// definition, a class or the module's structure.
pub fn reanalyze_edit(
    facts: &mut Facts,
    old: &FileAnalysis,
    text: &str,
    edit: &LineEdit,
    catalog: &Catalog,
    settings: &Settings,
) -> Result<FileAnalysis, NotLocal> {
    match reanalyze_function_edit(facts, old, text, edit, catalog, settings) {
        Err(why) => {
            // The code both module-level paths parse, parsed once (`facts::Parses`).
            let mut parses = facts::Parses::for_edit(facts, edit);
            let out = reanalyze_module_edit(facts, old, text, edit, catalog, settings, &mut parses)
                .or_else(|| reanalyze_module_region(facts, old, text, edit, catalog, settings, &mut parses))
                .ok_or(why);
            if out.is_ok() && parses.latest.is_some() {
                facts.region_tree = parses.latest;
            }
            out
        }
        done => done,
    }
}

/// An edit of module-level statements (see `Facts::splice_module_statement`): their facts spliced.
/// Module-level code decides what names resolve to, which calls register routes and what the module
/// exports; it has no findings of its own (nothing at module level runs on an event loop). When the
/// functions that are routes or commands are the same, the old findings and function summaries move,
/// the exports are computed again, and the functions in which a name whose bindings there changed
/// (`Facts::splice_module_statement`) occurs, directly or through a module-level value computed from
/// it, are checked again alone (`reading_units`, `recheck_unit`): what the other functions resolve to
/// is unchanged. When such a name occurs where what it decides reaches functions that do not name it
/// (a class body, a decorator, a function's header), the whole file's findings and summary are
/// computed from the facts. `None`, with the facts unchanged, when the edit is not such an edit.
fn reanalyze_module_edit(
    facts: &mut Facts,
    old: &FileAnalysis,
    text: &str,
    edit: &LineEdit,
    catalog: &Catalog,
    settings: &Settings,
    parses: &mut facts::Parses,
) -> Option<FileAnalysis> {
    let mut before = None;
    let old_served = served_functions(facts, catalog);
    let (stmt, names) =
        facts.splice_module_statement(text, (edit.start, edit.old_end, edit.new_end), &mut before, parses)?;
    let old_stmt = stmt.start..(stmt.end as isize - (edit.new_end as isize - edit.old_end as isize)) as usize;
    // The functions whose reads of those names (directly, or through module-level values computed from
    // them) may resolve otherwise now: checked again alone, as if they had been edited.
    if let Some((readers, leaking)) = reading_units(facts, text, &names, &stmt) {
        let r = Resolver::new(facts, text, catalog);
        // The statements hold no scope: scope ids are the same before and after.
        let same = |id: ScopeId| Some(id);
        let endpoints = checks::endpoints(&r);
        // The routes and commands, as the old summary lists them (its functions are the named ones, in
        // scope order; the statements hold no scope).
        let named: Vec<ScopeId> = (0..facts.scopes.len())
            .filter(|&id| facts.scopes[id].kind == ScopeKind::Function && facts.scopes[id].name.is_some())
            .collect();
        let same_endpoints = named.len() == old.summary.functions.len()
            && endpoints.keys().all(|id| named.binary_search(id).is_ok())
            && named.iter().zip(&old.summary.functions).zip(&old_served).all(|((id, f), &served)| {
                let e = endpoints.get(id);
                same_endpoint(e, f, served)
            });
        if same_endpoints && same_leaks(before.as_deref(), &r, &leaking, &same, &same, catalog) {
            let mut out = FileAnalysis {
                findings: old.findings.clone(),
                summary: FileSummary {
                    functions: old.summary.functions.clone(),
                    classes: old.summary.classes.clone(),
                    ..FileSummary::default()
                },
                cuts: Vec::new(),
            };
            shift::shift(&mut out, edit);
            out.summary.exports = summary::exports(&r);
            (out.summary.stars, out.summary.all) = summary::stars(&r);
            out.summary.registers = summary::registers(&r);
            out.summary.routing = checks::routing(&r, &endpoints);
            out.cuts = kept_cuts(old, &old_stmt, edit);
            for &unit in &readers {
                recheck_unit(&r, settings, &endpoints, unit, &mut out);
            }
            merge_cuts(&mut out.cuts, resolution_cuts(&r, stmt.clone()));
            for &unit in &readers {
                merge_cuts(&mut out.cuts, resolution_cuts(&r, facts.scopes[unit].range.clone()));
            }
            sort_findings(&mut out.findings);
            return Some(out);
        }
    }
    let mut whole = analyze_facts(text, facts, catalog, settings, true);
    let resolved = std::mem::replace(&mut whole.cuts, kept_cuts(old, &old_stmt, edit));
    merge_cuts(&mut whole.cuts, resolved);
    Some(whole)
}

/// An edit of module-level code that adds, changes or removes module-level functions or classes (see
/// `Facts::splice_module_region`): the facts of the code between the scopes around it spliced. The new
/// scopes are analysed and summarized alone (their summaries replace the old ones where they were), the
/// rest of the findings and summaries move, the exports are computed again, and the functions that
/// name what changed (a name bound there, a function or class defined there) are checked again alone
/// (`reading_units`, `recheck_unit`), as `reanalyze_module_edit` does. When
/// the routes and commands outside the code changed, or such a name occurs where what it decides
/// reaches functions that do not name it, the whole file's findings and summary are computed from the
/// facts. `None`, with the facts unchanged, when the edit is not such an edit.
/// Whether each named function of `facts` (in scope order, as the summary lists them) is served by the
/// web framework (a route or a dependency). The summaries say which functions are routes, commands and
/// lifespans, not which are dependencies (`Depends(f)` in another function's header, which an edit
/// there can stop naming): the module-level paths read it from the facts before their splice.
fn served_functions(facts: &Facts, catalog: &Catalog) -> Vec<bool> {
    // Resolution does not read the text, only offload messages do.
    let r = Resolver::new(facts, "", catalog);
    let endpoints = checks::endpoints(&r);
    (0..facts.scopes.len())
        .filter(|&id| facts.scopes[id].kind == ScopeKind::Function && facts.scopes[id].name.is_some())
        .map(|id| endpoints.get(&id).is_some_and(|e| e.served()))
        .collect()
}

/// Whether a function is the same endpoint as the old summary `f` (and `served`) says: the same route,
/// command, lifespan and whether the framework serves it.
fn same_endpoint(e: Option<&checks::Endpoint>, f: &summary::FunctionSummary, served: bool) -> bool {
    e.and_then(|e| e.label.as_ref()) == f.route.as_ref()
        && e.is_some_and(|e| e.cli) == f.cli
        && e.is_some_and(|e| e.lifespan) == f.lifespan
        && e.is_some_and(|e| e.served()) == served
}

fn reanalyze_module_region(
    facts: &mut Facts,
    old: &FileAnalysis,
    text: &str,
    edit: &LineEdit,
    catalog: &Catalog,
    settings: &Settings,
    parses: &mut facts::Parses,
) -> Option<FileAnalysis> {
    let mut before = None;
    let old_served = served_functions(facts, catalog);
    let sp = facts.splice_module_region(text, (edit.start, edit.old_end, edit.new_end), &mut before, parses)?;
    let facts = &*facts;
    let named_fn = |s: &facts::Scope| s.kind == ScopeKind::Function && s.name.is_some();
    let is_class = |s: &facts::Scope| s.kind == ScopeKind::Class;
    let whole = || {
        let mut whole = analyze_facts(text, facts, catalog, settings, true);
        let resolved = std::mem::replace(&mut whole.cuts, kept_cuts(old, &sp.old_span, edit));
        merge_cuts(&mut whole.cuts, resolved);
        Some(whole)
    };
    // The functions that name what changed: checked again alone.
    let Some((mut readers, leaking)) = reading_units(facts, text, &sp.names, &sp.span) else { return whole() };
    let r = Resolver::new(facts, text, catalog);
    // Scope ids outside the code's: those after it moved by as many scopes as it gained.
    let gained = facts.scopes.len() as isize - before.as_ref().map_or(0, |b| b.scopes.len()) as isize;
    let old_end = (sp.scopes.end as isize - gained) as usize;
    let to_new = |id: ScopeId| match id {
        id if id < sp.scopes.start => Some(id),
        id if id >= old_end => Some((id as isize + gained) as usize),
        _ => None,
    };
    let to_old = |id: ScopeId| {
        (!sp.scopes.contains(&id)).then(|| if id < sp.scopes.start { id } else { (id as isize - gained) as usize })
    };
    if !same_leaks(before.as_deref(), &r, &leaking, &to_old, &to_new, catalog) {
        return whole();
    }
    let endpoints = checks::endpoints(&r);
    // The routes and commands outside the code, as the old summary lists them (its functions are the
    // named ones, in scope order).
    let named: Vec<ScopeId> = (0..facts.scopes.len()).filter(|&id| named_fn(&facts.scopes[id])).collect();
    let fn_at = named.partition_point(|&id| id < sp.scopes.start);
    let fn_new = named[fn_at..].partition_point(|&id| id < sp.scopes.end);
    let class_at = facts.scopes[..sp.scopes.start].iter().filter(|s| is_class(s)).count();
    let old_functions = &old.summary.functions;
    if named.len() - fn_new + sp.old_functions != old_functions.len()
        || fn_at + sp.old_functions > old_functions.len()
        || !endpoints.keys().all(|id| named.binary_search(id).is_ok())
    {
        return whole();
    }
    let outside = named[..fn_at].iter().chain(&named[fn_at + fn_new..]);
    let old_outside = old_functions[..fn_at].iter().chain(&old_functions[fn_at + sp.old_functions..]);
    let old_ordinals = (0..fn_at).chain(fn_at + sp.old_functions..old_functions.len());
    let same_endpoints = outside
        .zip(old_outside)
        .zip(old_ordinals)
        .all(|((id, f), k)| same_endpoint(endpoints.get(id), f, old_served.get(k).copied().unwrap_or(false)));
    if !same_endpoints || class_at + sp.old_classes > old.summary.classes.len() {
        return whole();
    }
    // The functions elsewhere whose awaited `item.method()` iterates what a function of the new code or
    // of a reader returns (`summary::item_maker`): checked again too (as `reanalyze_function_edit` does).
    let makers = |id: ScopeId| sp.scopes.contains(&id) || readers.iter().any(|&u| facts.subtree(u).contains(&id));
    let item_readers: Option<Vec<ScopeId>> = facts
        .calls
        .iter()
        .filter(|c| c.awaited && !sp.span.contains(&c.range.start))
        .filter(|c| summary::item_maker(&r, c, c.scope).is_some_and(makers))
        .map(|c| facts.unit_at(c.range.start, c.range.start))
        .collect();
    let Some(item_readers) = item_readers else { return whole() };
    readers.extend(item_readers);
    readers.sort_unstable();
    readers.dedup();
    let in_old = |offset: usize| sp.old_span.contains(&offset);
    let mut functions = old_functions.clone();
    functions.drain(fn_at..fn_at + sp.old_functions);
    let mut classes = old.summary.classes.clone();
    classes.drain(class_at..class_at + sp.old_classes);
    let mut out = FileAnalysis {
        findings: old.findings.iter().filter(|f| !in_old(f.range.start)).cloned().collect(),
        summary: FileSummary { functions, classes, ..FileSummary::default() },
        cuts: Vec::new(),
    };
    shift::shift(&mut out, edit);
    out.cuts = kept_cuts(old, &sp.old_span, edit);
    // The new code: its scopes and its statements.
    let (calls, attributes, enters) = facts.items_starting_in(sp.span.clone());
    let part = Part { scopes: sp.scopes.clone(), calls, attributes, enters };
    let runs_in = checks::execution_scopes(&r, part.scopes.clone(), &facts.calls[part.calls.clone()]);
    out.findings.extend(findings(&r, settings, &endpoints, &runs_in, &part));
    // Lines counted from the last function summarized before the code (unchanged).
    let anchor =
        out.summary.functions[..fn_at].last().map_or((0, 0), |f| (f.name.offset as usize, f.name.line as usize));
    let index = LineIndex::from_line(text, anchor.0, anchor.1, sp.span.end);
    let loc = |offset: usize| loc_in(&index, text, offset);
    let summary = summarize_part(&r, &part, &endpoints, &runs_in, &loc, text);
    out.summary.functions.splice(fn_at..fn_at, summary.functions);
    out.summary.classes.splice(class_at..class_at, summary.classes);
    out.summary.exports = summary::exports(&r);
    (out.summary.stars, out.summary.all) = summary::stars(&r);
    out.summary.registers = summary::registers(&r);
    out.summary.routing = checks::routing(&r, &endpoints);
    for &unit in &readers {
        recheck_unit(&r, settings, &endpoints, unit, &mut out);
    }
    merge_cuts(&mut out.cuts, resolution_cuts(&r, sp.span.clone()));
    for &unit in &readers {
        merge_cuts(&mut out.cuts, resolution_cuts(&r, facts.scopes[unit].range.clone()));
    }
    sort_findings(&mut out.findings);
    Some(out)
}

/// The functions (module functions and methods, outermost first: the units `reanalyze_edit` analyses
/// alone) whose analysis may change when the module-level bindings of `names` changed (the statements
/// `span` of `text` replaced them): those in which a name of the closure occurs (as a whole word, in
/// code or a string; not in a comment, a docstring or as a string's prefix: `read_by_no_code`), where
/// the closure is `names` and, repeatedly, the module-level names
/// bound to a value (an assignment, a loop or `with` target, an annotation) whose expression holds one.
/// Sorted and without duplicates, with (second) those of them that bind names in other scopes (`self.x
/// = ...`, `global`: what they bind there reaches other functions without their naming it, see
/// `same_leaks`). `None` when an occurrence is anywhere else, where what it decides reaches other
/// functions without their naming it: at module level outside such a value (a decorator, a call, a
/// function's header), in a class body, in a lambda outside any function.
fn reading_units(
    facts: &Facts,
    text: &str,
    names: &[Box<str>],
    span: &Range<usize>,
) -> Option<(Vec<ScopeId>, Vec<ScopeId>)> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80;
    let bytes = text.as_bytes();
    let module = facts.scopes.first()?;
    let mut todo: Vec<&str> = names.iter().map(|n| &**n).collect();
    let mut seen: std::collections::HashSet<&str> = todo.iter().copied().collect();
    let mut units: Vec<ScopeId> = Vec::new();
    let mut leaking: Vec<ScopeId> = Vec::new();
    while let Some(name) = todo.pop() {
        for (i, _) in text.match_indices(name) {
            let end = i + name.len();
            if (span.start <= i && end <= span.end)
                || (i > 0 && word(bytes[i - 1]))
                || (end < bytes.len() && word(bytes[end]))
                || read_by_no_code(facts, text, i, end)
            {
                continue;
            }
            // The outermost function around the occurrence, through lambdas and nested functions and
            // classes; a class body or a lambda met before any function is not a function's.
            let mut id = facts.scope_at(i);
            // In the header of a module function or method (its decorators, parameters, defaults and
            // annotations are outside its body): read by that function. A parameter's name, default or
            // annotation decides names inside it only; a decorator or the return annotation may decide
            // what its callers see (`f()` typed by its annotation, a route), so the functions that name
            // it are checked again too; a dunder method's callers need not name it.
            if let Some(f) = header_of(facts, id, i, end) {
                let s = &facts.scopes[f];
                let header = &text[s.range.start..s.body.start.max(s.range.start)];
                let returns = header.rfind("->").is_some_and(|a| i > s.range.start + a);
                if i < s.range.start || returns {
                    let fname = s.name.as_ref().map(|n| &*n.text)?;
                    if fname.starts_with("__") && fname.ends_with("__") {
                        return None;
                    }
                    if seen.insert(fname) {
                        todo.push(fname);
                    }
                }
                id = f;
            }
            let mut unit = None;
            loop {
                let s = &facts.scopes[id];
                match s.kind {
                    ScopeKind::Function => unit = Some(id),
                    ScopeKind::Class | ScopeKind::Lambda if unit.is_none() => return None,
                    _ => {}
                }
                match s.parent {
                    Some(p) => id = p,
                    None => break,
                }
            }
            if let Some(unit) = unit {
                let s = &facts.scopes[unit];
                s.name.as_ref()?;
                if facts.scopes[facts.subtree(unit)].iter().any(|s| s.leaks || s.has_global) {
                    leaking.push(unit);
                }
                units.push(unit);
                continue;
            }
            // At module level: in the value of a module-level binding (whose name joins the closure), or
            // the target of a plain assignment `name = value`.
            let mut held = false;
            for (bound, ids) in &module.bindings {
                for &b in ids {
                    let value = match &facts.bindings[b].kind {
                        facts::BindingKind::Value(e) | facts::BindingKind::With(e) | facts::BindingKind::Iter(e) => {
                            Some(e.range.clone())
                        }
                        facts::BindingKind::Annotation(a) => ann_span(a),
                        _ => None,
                    };
                    let Some(value) = value else { continue };
                    if value.start <= i && end <= value.end {
                        held = true;
                        if seen.insert(bound) {
                            todo.push(bound);
                        }
                    } else if **bound == *name && end <= value.start && text[end..value.start].trim() == "=" {
                        held = true;
                    }
                }
            }
            if !held {
                return None;
            }
        }
    }
    units.sort_unstable();
    units.dedup();
    leaking.sort_unstable();
    leaking.dedup();
    Some((units, leaking))
}

/// The module function or method (a function directly in scope `parent`, a module or a class body)
/// whose header (decorators, parameters, annotations) holds `at..end`.
fn header_of(facts: &Facts, parent: ScopeId, at: usize, end: usize) -> Option<ScopeId> {
    if !matches!(facts.scopes[parent].kind, ScopeKind::Module | ScopeKind::Class) {
        return None;
    }
    facts.subtree(parent).skip(1).find(|&id| {
        let s = &facts.scopes[id];
        let first = s.decorators.iter().map(|d| d.expr.range.start).fold(s.range.start, usize::min);
        s.kind == ScopeKind::Function && s.parent == Some(parent) && first <= at && end <= s.body.start
    })
}

/// Whether the functions `leaking` (of the new facts, resolved by `r`; they bind names in other
/// scopes: `self.x = ...`, `global`) bind there what they bound before a module-level splice (`before`:
/// the facts then, whose scope ids `to_new` maps to the new ones, `to_old` the other way): then the
/// names other functions read through them resolve as before, and checking them again alone is the
/// whole file's answer, as for an edit inside them (`reanalyze_function_edit`). `false` when they may
/// differ, or when no copy of the facts before was kept.
fn same_leaks(
    before: Option<&Facts>,
    r: &Resolver<'_>,
    leaking: &[ScopeId],
    to_old: &dyn Fn(ScopeId) -> Option<ScopeId>,
    to_new: &dyn Fn(ScopeId) -> Option<ScopeId>,
    catalog: &Catalog,
) -> bool {
    if leaking.is_empty() {
        return true;
    }
    let Some(before) = before else { return false };
    // Resolution does not read the text, only offload messages do (as `reanalyze_function_edit`).
    let old_r = Resolver::new(before, "", catalog);
    leaking.iter().all(|&unit| {
        let Some(old_unit) = to_old(unit) else { return false };
        let old = leaked_values(&old_r, old_unit, &before.leak_span(old_unit), to_new);
        let new = leaked_values(r, unit, &r.facts.leak_span(unit), &Some);
        let old = old.and_then(|v| {
            v.into_iter()
                .map(|(s, kind, name, value)| Some((to_new(s)?, kind, name, Some(value))))
                .collect::<Option<Vec<Leaked>>>()
        });
        let new = new.map(|v| v.into_iter().map(|(s, k, n, v)| (s, k, n, Some(v))).collect::<Vec<Leaked>>());
        match (old, new) {
            (Some(old), Some(new)) => old == new || same_self_attrs(r.facts, &old, &new),
            _ => false,
        }
    })
}

/// How far `read_by_no_code` lexes before it gives up (and takes the word for a read).
const MAX_NO_CODE_SCAN: usize = 1 << 16;

/// Whether the whole word `at..end` of `text` is read by no code: it is in a comment, in a string that
/// is a statement of its own (a docstring: no annotation, no argument), or it is a string's prefix
/// (`f"..."`). Lexed as Python's tokenizer does from the nearest point before it where the facts put a
/// token start outside any bracket, string or comment: the start of the body of a function or class
/// holding it, the end of a function or class before it, or the file's start. `false` (a read) whenever
/// the lexing is unsure: an f-string on the way (its `{}` may nest quotes and read names), a closing
/// bracket never opened, a string not closed on its line, more than `MAX_NO_CODE_SCAN` bytes to lex.
fn read_by_no_code(facts: &Facts, text: &str, at: usize, end: usize) -> bool {
    // Where to start, and whether a logical line starts there.
    let (mut from, mut logical) = (0, true);
    let before = 1 + facts.scopes[1..].partition_point(|s| s.body.start <= at);
    for s in facts.scopes[1..before].iter().filter(|s| s.kind != ScopeKind::Lambda) {
        if s.range.end <= at {
            if s.range.end > from {
                (from, logical) = (s.range.end, false);
            }
        } else if s.body.start > from {
            (from, logical) = (s.body.start, true);
        }
    }
    if at - from > MAX_NO_CODE_SCAN {
        return false;
    }
    let b = text.as_bytes();
    let newline = |i: usize| match b.get(i) {
        Some(b'\r') if b.get(i + 1) == Some(&b'\n') => 2,
        Some(b'\n' | b'\r') => 1,
        _ => 0,
    };
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80;
    let prefix =
        |w: &[u8]| w.len() <= 2 && w.iter().all(|c| matches!(c.to_ascii_lowercase(), b'r' | b'b' | b'u' | b'f'));
    let mut depth = 0usize;
    let mut i = from;
    while i < at {
        match b[i] {
            b' ' | b'\t' | b'\x0c' => i += 1,
            b'\\' if newline(i + 1) > 0 => i += 1 + newline(i + 1),
            b'\n' | b'\r' => {
                i += newline(i);
                logical |= depth == 0;
            }
            b'#' => {
                let stop = b[i..].iter().position(|&c| c == b'\n' || c == b'\r').map_or(b.len(), |j| i + j);
                if at < stop {
                    return true;
                }
                i = stop;
            }
            c if word(c) || c == b'\'' || c == b'"' => {
                // A word, and the string it prefixes.
                let token = i;
                while i < b.len() && word(b[i]) {
                    i += 1;
                }
                let Some(&q) = b.get(i).filter(|&&q| q == b'\'' || q == b'"') else {
                    logical = false;
                    continue;
                };
                if !prefix(&b[token..i]) || b[token..i].iter().any(|c| c.eq_ignore_ascii_case(&b'f')) || i >= at {
                    return false;
                }
                let triple = b.get(i..i + 3) == Some(&[q, q, q][..]);
                let opened = i;
                i += if triple { 3 } else { 1 };
                loop {
                    match b.get(i) {
                        None => return false,
                        Some(b'\\') => i += 1 + newline(i + 1).max(1),
                        Some(&c) if c == q && (!triple || b.get(i..i + 3) == Some(&[q, q, q][..])) => {
                            i += if triple { 3 } else { 1 };
                            break;
                        }
                        Some(b'\n' | b'\r') if !triple => return false,
                        Some(_) => i += 1,
                    }
                }
                if opened < at && end <= i {
                    // Inside it: a docstring when it starts a logical line and ends it.
                    let rest = &b[i..];
                    let rest = &rest[rest.iter().position(|&c| c != b' ' && c != b'\t').unwrap_or(rest.len())..];
                    return logical && depth == 0 && matches!(rest.first(), None | Some(b'\n' | b'\r' | b'#'));
                }
                logical = false;
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                logical = false;
                i += 1;
            }
            b')' | b']' | b'}' => {
                let Some(d) = depth.checked_sub(1) else { return false };
                depth = d;
                i += 1;
            }
            _ => {
                logical = false;
                i += 1;
            }
        }
    }
    // At the word, in code: a read, unless it prefixes a string.
    i == at && matches!(b.get(end), Some(b'\'' | b'"')) && prefix(&b[at..end])
}

/// The bytes an annotation's parts span; `None` when it holds none the facts locate.
fn ann_span(a: &facts::Ann) -> Option<Range<usize>> {
    match a {
        facts::Ann::Expr(e) => Some(e.range.clone()),
        facts::Ann::Generic { base, first, second } => {
            let mut r = base.range.clone();
            for part in [first, second].into_iter().flatten() {
                let p = ann_span(part)?;
                r = r.start.min(p.start)..r.end.max(p.end);
            }
            Some(r)
        }
        facts::Ann::Union(members) => members.iter().map(ann_span).reduce(|a, b| match (a, b) {
            (Some(a), Some(b)) => Some(a.start.min(b.start)..a.end.max(b.end)),
            _ => None,
        })?,
        facts::Ann::Str { content, at } => Some(*at..at + content.len() + 2),
        facts::Ann::Other => None,
    }
}

/// Checks function `unit` again alone (its facts unchanged, what its names resolve to may not be), in
/// `out`, an analysis of the current text: its findings, its summaries and the cuts inside it replaced,
/// as `reanalyze_function_edit` does for the function an edit was in. `out.findings` is left unsorted.
fn recheck_unit(
    r: &Resolver<'_>,
    settings: &Settings,
    endpoints: &HashMap<ScopeId, checks::Endpoint>,
    unit: ScopeId,
    out: &mut FileAnalysis,
) {
    let facts = r.facts;
    let range = facts.scopes[unit].range.clone();
    let scopes = facts.subtree(unit);
    let (calls, attributes, enters) = facts.items_starting_in(range.clone());
    let part = Part { scopes: scopes.clone(), calls, attributes, enters };
    let named_fn = |s: &facts::Scope| s.kind == ScopeKind::Function && s.name.is_some();
    let is_class = |s: &facts::Scope| s.kind == ScopeKind::Class;
    let fn_at = facts.scopes[..unit].iter().filter(|s| named_fn(s)).count();
    let fn_count = facts.scopes[scopes.clone()].iter().filter(|s| named_fn(s)).count();
    let class_at = facts.scopes[..unit].iter().filter(|s| is_class(s)).count();
    let class_count = facts.scopes[scopes].iter().filter(|s| is_class(s)).count();
    let anchor = out.summary.functions[fn_at].name;
    let runs_in = checks::execution_scopes(r, part.scopes.clone(), &facts.calls[part.calls.clone()]);
    let new_findings = findings(r, settings, endpoints, &runs_in, &part);
    let index = LineIndex::from_line(r.text, anchor.offset as usize, anchor.line as usize, range.end);
    let loc = |offset: usize| loc_in(&index, r.text, offset);
    let summary = summarize_part(r, &part, endpoints, &runs_in, &loc, r.text);
    out.findings.retain(|f| !range.contains(&f.range.start));
    out.findings.extend(new_findings);
    out.summary.functions.splice(fn_at..fn_at + fn_count, summary.functions);
    out.summary.classes.splice(class_at..class_at + class_count, summary.classes);
    out.cuts.retain(|c| !range.contains(&c.offset));
}

/// `reanalyze_edit` of an edit inside a function's body or after its last line.
fn reanalyze_function_edit(
    facts: &mut Facts,
    old: &FileAnalysis,
    text: &str,
    edit: &LineEdit,
    catalog: &Catalog,
    settings: &Settings,
) -> Result<FileAnalysis, NotLocal> {
    // Inside a function's body, or after its last line (only blank text replaced): what is typed there
    // is parsed with the function, which it may extend.
    let (unit, after) = match facts.unit_at(edit.start, edit.old_end) {
        Some(unit) => (unit, false),
        // Nothing may follow the edit on its line: code there is not the function's.
        None if edit.blank
            && facts.broken_statement.is_none()
            && text[edit.new_end..].bytes().take_while(|&b| b != b'\n' && b != b'\r').all(|b| b == b' ') =>
        {
            (facts.unit_before(text, edit.start).ok_or(NotLocal::Outside)?, true)
        }
        None => return Err(NotLocal::Outside),
    };
    let old_range = facts.scopes[unit].range.clone();
    // A function whose facts come from broken module-level statements (`def f(x):` then `    return
    // a.`, see `Facts::place_broken_statement`) is parsed again with them.
    if facts.broken_statement.as_ref().is_some_and(|r| r.start < old_range.end && old_range.start < r.end) {
        return Err(NotLocal::Outside);
    }
    let moved_end = edit.offset(old_range.end);
    let unit_parse =
        parse_unit(text, old_range.start, moved_end.max(edit.new_end), facts, edit).ok_or(NotLocal::Syntax)?;
    let UnitParse { range: parsed, tree, before, broken, masked } = unit_parse;
    // Lines left of the `def` typed after it are code of their own (a module-level statement, a string
    // opened there): not the function's, even with the function's text masked.
    if after && masked.is_some() {
        return Err(NotLocal::Syntax);
    }
    // Where the function ends now, when not where the edit moved its end (see `ends_before_code`).
    let end = match function_end(&tree) {
        Some(end) if end == moved_end => None,
        Some(end) if masked.is_none() && (!broken || end == parsed.end) && ends_before_code(text, end) => Some(end),
        _ if after => return Err(NotLocal::Syntax),
        _ => None,
    };
    // Typed after the function's last line but not its own (a comment or code left of its body): it
    // may be the text of a class or function around it that ends where it ends (a comment at a
    // method's column after a class's last method ends the class, not the method), and where that one
    // ends follows the whole file's parse.
    if after && end.unwrap_or(moved_end) < edit.new_end && !text[edit.start..edit.new_end].trim().is_empty() {
        let mut up = facts.scopes[unit].parent;
        while let Some(p) = up.filter(|&p| facts.scopes[p].kind != ScopeKind::Module) {
            if facts.scopes[p].range.end == old_range.end {
                return Err(NotLocal::Syntax);
            }
            up = facts.scopes[p].parent;
        }
    }

    // Where the function's summaries are: functions and classes are summarized in scope order.
    let named_fn = |s: &facts::Scope| s.kind == ScopeKind::Function && s.name.is_some();
    let is_class = |s: &facts::Scope| s.kind == ScopeKind::Class;
    let old_scopes = facts.subtree(unit);
    let fn_at = facts.scopes[..unit].iter().filter(|s| named_fn(s)).count();
    let fn_old = facts.scopes[old_scopes.clone()].iter().filter(|s| named_fn(s)).count();
    let class_at = facts.scopes[..unit].iter().filter(|s| is_class(s)).count();
    let class_old = facts.scopes[old_scopes.clone()].iter().filter(|s| is_class(s)).count();
    let Some(anchor) = old.summary.functions.get(fn_at).map(|f| f.name) else { return Err(NotLocal::Outside) };
    let leaked_before = facts.scopes[old_scopes.clone()].iter().any(|s| s.leaks);
    let yields_before = facts.scopes[unit].has_yield;
    let (old_endpoints, old_leaked, loop_before) = {
        // Resolution does not read the text, only offload messages do.
        let r = Resolver::new(facts, "", catalog);
        let moved = |id: ScopeId| (!old_scopes.contains(&id)).then_some(id);
        let leaked =
            if leaked_before { leaked_values(&r, unit, &facts.leak_span(unit), &moved) } else { Some(Vec::new()) };
        (checks::endpoints(&r), leaked, summary::calls_current_loop(&r, old_range.clone()))
    };

    // One statement's facts when only they can have changed, else the whole function's.
    let at = (edit.start, edit.old_end, edit.new_end);
    let spliced = before
        .filter(|_| !broken)
        .and_then(|before| facts.splice_statement(unit, at, text, &tree, &before))
        .or_else(|| facts.splice_unit(unit, at, masked.as_deref().unwrap_or(text), &tree, end))
        .ok_or(NotLocal::Outside)?;
    // A function whose lines tree-sitter reads against Python's indentation rule: module-level
    // statements are no longer spliced alone until the whole file is analysed again.
    let root = tree.root_node();
    if root.named_children(&mut root.walk()).any(|def| crate::syntax::misaligned(text, def)) {
        facts.parsed_with_errors = true;
    }
    // The function's range in the new facts; it is listed in `broken` while its text has errors.
    let def_range = facts.scopes[unit].range.clone();
    facts.broken.retain(|r| r.end <= def_range.start || def_range.end <= r.start);
    if broken {
        let at = facts.broken.partition_point(|r| r.start < def_range.start);
        facts.broken.insert(at, def_range.clone());
    } else {
        // Only a tree without errors is the base of the next incremental parse (see `parse_unit`).
        facts.unit_tree = Some((parsed, tree));
    }
    let r = Resolver::new(facts, text, catalog);
    let endpoints = checks::endpoints(&r);
    let moved = |id: ScopeId| {
        if id < old_scopes.start {
            Some(id)
        } else if id >= old_scopes.end {
            Some(id + spliced.scopes.len() - old_scopes.len())
        } else {
            None
        }
    };
    let same_endpoints_elsewhere = {
        let outside = |m: &HashMap<ScopeId, checks::Endpoint>, moved: &dyn Fn(ScopeId) -> Option<ScopeId>| {
            let mut v: Vec<(ScopeId, Option<String>, bool)> =
                m.iter().filter_map(|(id, e)| moved(*id).map(|id| (id, e.label.clone(), e.cli))).collect();
            v.sort();
            v
        };
        let new_outside = |id: ScopeId| (!spliced.scopes.contains(&id)).then_some(id);
        outside(&old_endpoints, &moved) == outside(&endpoints, &new_outside)
    };
    // What the function binds in other scopes (`self.x = ...`, `global x`), as other scopes see it.
    let same_leaks = !spliced.leaks || {
        let inside = |id: ScopeId| (!spliced.scopes.contains(&id)).then_some(id);
        let new = leaked_values(&r, unit, &facts.leak_span(unit), &inside);
        let old = old_leaked.map(|v| {
            v.into_iter()
                .map(|(s, kind, name, value)| (moved(s).unwrap_or(s), kind, name, map_value(value, &moved)))
                .collect::<Vec<Leaked>>()
        });
        let new = new.map(|v| v.into_iter().map(|(s, k, n, v)| (s, k, n, Some(v))).collect::<Vec<_>>());
        match (old, new) {
            (Some(old), Some(new)) => old == new || same_self_attrs(facts, &old, &new),
            _ => false,
        }
    };
    // The functions elsewhere whose awaited `item.method()` iterates what a function of this one returns
    // (`summary::item_maker`): their summaries read its return statement, so they are checked again
    // alone (`None`: such a call outside any function that can be checked alone).
    let item_readers: Option<Vec<ScopeId>> = facts
        .calls
        .iter()
        .filter(|c| c.awaited && !def_range.contains(&c.range.start))
        .filter(|c| summary::item_maker(&r, c, c.scope).is_some_and(|m| spliced.scopes.contains(&m)))
        .map(|c| facts.unit_at(c.range.start, c.range.start))
        .collect();
    if !same_leaks
        || !same_endpoints_elsewhere
        || yields_before != facts.scopes[unit].has_yield
        || item_readers.is_none()
        || loop_before
        || summary::calls_current_loop(&r, def_range.clone())
    {
        // The edit changed what other functions' names resolve to (what a call of the function returns
        // depends on whether it yields), or which functions are routes, or it may be a helper that gives
        // the running loop, which other functions' summaries read: the whole file is checked.
        let mut whole = analyze_facts(text, facts, catalog, settings, true);
        let resolved = std::mem::replace(&mut whole.cuts, kept_cuts(old, &old_range, edit));
        merge_cuts(&mut whole.cuts, resolved);
        return Ok(whole);
    }

    let part = Part {
        scopes: spliced.scopes.clone(),
        calls: spliced.calls.clone(),
        attributes: spliced.attributes.clone(),
        enters: spliced.enters.clone(),
    };
    let runs_in = checks::execution_scopes(&r, part.scopes.clone(), &facts.calls[part.calls.clone()]);
    let new_findings = findings(&r, settings, &endpoints, &runs_in, &part);
    let index = LineIndex::from_line(text, anchor.offset as usize, anchor.line as usize, facts.scopes[unit].range.end);
    let loc = |offset: usize| loc_in(&index, text, offset);
    let new_summary = summarize_part(&r, &part, &endpoints, &runs_in, &loc, text);
    let new_cuts = resolution_cuts(&r, facts.scopes[unit].range.clone());

    let mut out = FileAnalysis {
        findings: Vec::with_capacity(old.findings.len()),
        summary: FileSummary::default(),
        cuts: kept_cuts(old, &old_range, edit),
    };
    out.findings.extend(old.findings.iter().filter(|f| !old_range.contains(&f.range.start)).cloned());
    let mut functions = old.summary.functions.clone();
    functions.splice(fn_at..fn_at + fn_old, std::iter::empty());
    out.summary.functions = functions;
    out.summary.exports = old.summary.exports.clone();
    out.summary.stars = old.summary.stars.clone();
    out.summary.all = old.summary.all.clone();
    // An import inside the edited function may name an implementation of the module's protocol.
    out.summary.registers = summary::registers(&r);
    out.summary.routing = checks::routing(&r, &endpoints);
    let cuts = std::mem::take(&mut out.cuts);
    shift::shift(&mut out, edit);
    out.cuts = cuts;
    merge_cuts(&mut out.cuts, new_cuts);
    out.findings.extend(new_findings);
    sort_findings(&mut out.findings);
    out.summary.functions.splice(fn_at..fn_at, new_summary.functions);
    let mut classes = old.summary.classes.clone();
    classes.splice(class_at..class_at + class_old, new_summary.classes);
    out.summary.classes = classes;
    let mut item_readers = item_readers.unwrap_or_default();
    item_readers.sort_unstable();
    item_readers.dedup();
    if !item_readers.is_empty() {
        for &reader in &item_readers {
            recheck_unit(&r, settings, &endpoints, reader, &mut out);
            merge_cuts(&mut out.cuts, resolution_cuts(&r, facts.scopes[reader].range.clone()));
        }
        sort_findings(&mut out.findings);
    }
    Ok(out)
}

/// The cuts outside the function an edit was in (which parsed alone without errors, so it has none),
/// moved along with the edit.
fn kept_cuts(old: &FileAnalysis, unit: &Range<usize>, edit: &LineEdit) -> Vec<Cut> {
    let mut kept = FileAnalysis {
        cuts: old.cuts.iter().filter(|c| !unit.contains(&c.offset)).cloned().collect(),
        ..Default::default()
    };
    shift::shift(&mut kept, edit);
    kept.cuts
}

/// What a function binds in another scope: `(scope, self attribute, name, value)`.
type Leaked = (ScopeId, bool, Box<str>, Option<resolve::Value>);

/// A function's bindings in other scopes (`leaked_values`, before and after an edit) that differ only
/// by `self.x` assignments the analysis cannot type (`self.x = False`) leave every other function's
/// analysis as it was: a class member resolves to its first typed `self.x` assignment
/// (`Resolver::member`), so untyped ones only matter when they are all there is, or when the name has
/// no assignment left (its bases are then looked up).
fn same_self_attrs(facts: &Facts, old: &[Leaked], new: &[Leaked]) -> bool {
    let untyped = |e: &&Leaked| e.1 && e.3 == Some(resolve::Value::Unknown);
    let typed = |v: &[Leaked]| v.iter().filter(|e| !untyped(e)).cloned().collect::<Vec<_>>();
    if typed(old) != typed(new) {
        return false;
    }
    let count = |v: &[Leaked], s: ScopeId, n: &str| v.iter().filter(|e| e.1 && e.0 == s && *e.2 == *n).count();
    old.iter().chain(new).filter(untyped).all(|(s, _, name, _)| {
        let now = facts.scopes.get(*s).and_then(|c| c.self_attrs.get(name)).map_or(0, Vec::len);
        now > 0 && now + count(old, *s, name) > count(new, *s, name)
    })
}

/// The values of what function `unit` (whose statements bind in `range`) binds in its ancestors' scopes, in a
/// stable order, with scope ids mapped by `map`; `None` when one refers to a scope `map` drops.
#[allow(clippy::type_complexity)]
fn leaked_values(
    r: &Resolver<'_>,
    unit: ScopeId,
    range: &Range<usize>,
    map: &dyn Fn(ScopeId) -> Option<ScopeId>,
) -> Option<Vec<(ScopeId, bool, Box<str>, resolve::Value)>> {
    let facts = r.facts;
    let mut out: Vec<(ScopeId, bool, Box<str>, usize, usize)> = Vec::new();
    let mut up = facts.scopes[unit].parent;
    while let Some(p) = up {
        let s = &facts.scopes[p];
        let start = out.len();
        for (attrs, map_) in [(false, &s.bindings), (true, &s.self_attrs)] {
            for (name, list) in map_ {
                for (i, &id) in list.iter().enumerate() {
                    if range.contains(&facts.bindings[id].pos) {
                        out.push((p, attrs, name.clone(), i, id));
                    }
                }
            }
        }
        out[start..].sort_by(|a, b| (a.1, &a.2, a.3).cmp(&(b.1, &b.2, b.3)));
        up = s.parent;
    }
    out.into_iter().map(|(p, attrs, name, _, id)| Some((p, attrs, name, map_value(r.binding(id), map)?))).collect()
}

/// A value with its scope ids mapped; `None` when `map` drops its scope.
fn map_value(v: resolve::Value, map: &dyn Fn(ScopeId) -> Option<ScopeId>) -> Option<resolve::Value> {
    use resolve::Value;
    Some(match v {
        Value::Def(s) => Value::Def(map(s)?),
        Value::Class(s) => Value::Class(map(s)?),
        Value::Object(s) => Value::Object(map(s)?),
        other => other,
    })
}

/// A function parsed alone (see `parse_unit`).
struct UnitParse {
    /// The bytes parsed: from the start of the `def`'s line to the end of the function's last line.
    range: Range<usize>,
    tree: Tree,
    /// The simple statement of the previous parse that held the edit, when that parse was reused.
    before: Option<facts::StatementBefore>,
    /// The function has syntax errors (inside its body: its header parsed).
    broken: bool,
    /// The text actually parsed, when lines of the function were blanked (see `mask_unit`).
    masked: Option<String>,
}

/// Parses the function that starts at `start` and ends at `end` alone, from the start of its line (its
/// indentation decides its body's). When the function was the last one parsed alone (`facts.unit_tree`,
/// kept only when it had no syntax errors), that tree is edited by `edit` and parsed again incrementally,
/// and the simple statement of that old tree holding the edit is returned too.
///
/// The function may have syntax errors (`broken`: typing passes through `x =`, `a.`, an open `(`) as
/// long as its header parsed and the parse is one `function_definition` holding everything up to `end`:
/// an error never reaches the rest of the file, whose facts stay as they were. A broken function is
/// parsed from scratch (tree-sitter's recovery from an edited tree may differ from a fresh parse's), and
/// when its parse does not hold its whole extent because a line in it starts at or left of the `def`'s
/// column (a character typed at column 0 of a body line), such lines are blanked (`mask_unit`) and it is
/// parsed again: those lines are left out of the analysis until the function parses whole again. This is
/// a function of the text and the function's extent alone (`analyze_with_broken` computes it from
/// scratch, which `tests/proptest_edits.rs` compares with). `None` when no parse is one function.
fn parse_unit(text: &str, start: usize, end: usize, facts: &mut Facts, edit: &LineEdit) -> Option<UnitParse> {
    let bytes = text.as_bytes();
    if end > text.len() {
        return None;
    }
    let line_start = crate::syntax::line_start(text, start);
    if !bytes[line_start..start].iter().all(|&b| b == b' ' || b == b'\t') {
        return None;
    }
    // To the end of its last line: a comment there belongs to it, with the `\r` of a `\r\n` (a
    // comment token runs to the `\n`: in a file with CRLF line endings, the whole file's parse ends a
    // function whose last line is a comment after that `\r`).
    let end = match bytes[end..].iter().position(|&b| b == b'\n' || b == b'\r') {
        Some(i) if bytes[end + i] == b'\r' && bytes.get(end + i + 1) == Some(&b'\n') => end + i + 1,
        Some(i) => end + i,
        None => text.len(),
    };
    // Its indentation must say where it ends, as it does in consistently indented code: every statement
    // in it is indented deeper than its `def` (checked on the tree below), and the next line of code no
    // deeper. Where code is indented inconsistently, the whole file's parse may nest it otherwise than a
    // parse of the function alone.
    let indent = start - line_start;
    let lead = |l: &str| l.len() - l.trim_start().len();
    let code = |l: &&str| !l.trim().is_empty() && !l.trim_start().starts_with('#');
    let next = text[end..].split(['\n', '\r']).find(code);
    if bytes[line_start..start].contains(&b'\t')
        || next.is_some_and(|l| l[..lead(l)].contains('\t') || lead(l) > indent)
    {
        return None;
    }
    // Brackets too deep to parse in reasonable time are blanked by a whole-file analysis only.
    if !blank_deep_brackets(&text[line_start..end]).1.is_empty() {
        return None;
    }
    let delta = edit.new_end as isize - edit.old_end as isize;
    let mut old = match facts.unit_tree.take() {
        Some((range, tree)) if range.start == line_start && range.end as isize + delta == end as isize => Some(tree),
        _ => None,
    };
    let before = old.as_ref().and_then(|t| facts::StatementBefore::find(t, edit.start, edit.old_end));
    if let Some(tree) = &mut old {
        // Rows count from the function's first line (see `parse_range`); the old end's row and column
        // follow from the new end's and what the edit added.
        let lines = LineIndex::from_line(text, line_start, 0, end);
        let point = |offset: usize| {
            let at = lines.line_col(text, offset, crate::line_index::ColumnUnit::Utf8);
            tree_sitter::Point::new(at.line, at.col)
        };
        let new_end_point = point(edit.new_end);
        let old_end_point = tree_sitter::Point::new(
            (new_end_point.row as i64 - edit.lines).max(0) as usize,
            (new_end_point.column as i64 - edit.utf8).max(0) as usize,
        );
        tree.edit(&tree_sitter::InputEdit {
            start_byte: edit.start,
            old_end_byte: edit.old_end,
            new_end_byte: edit.new_end,
            start_position: point(edit.start),
            old_end_position: old_end_point,
            new_end_position: new_end_point,
        });
    }
    let old = old.filter(|t| !t.root_node().has_error());
    let tree = crate::syntax::parse_range(text, line_start..end, old.as_ref())?;
    if !tree.root_node().has_error() {
        return one_function(&tree, start, indent, false).then_some(UnitParse {
            range: line_start..end,
            tree,
            before,
            broken: false,
            masked: None,
        });
    }
    // Without the spaces that end its last line (typing `resp = `): the function ends before them,
    // and a parse of it alone to its end (`analyze_with_broken`) is then the same parse.
    let trimmed = end - text.as_bytes()[start..end].iter().rev().take_while(|&&b| b == b' ').count();
    parse_broken_unit(text, line_start, start, trimmed)
}

/// What the language server's analysis of `text` is while the functions `broken` (their ranges, as
/// `Facts::broken` lists them) have syntax errors: each of them analysed from its own parse alone (as
/// `parse_unit` parses a broken function), the rest of the file from a parse in which each of them has
/// a body without errors of the same extent (its lines blanked, a `0` at the end of its last line);
/// the broken module-level statements `statement` (as `Facts::broken_statement` lists them, whole
/// lines) from a parse of their lines alone, the rest of the file from a parse with them blank.
/// Computed from scratch, for tests to compare the incremental path with; `None` when a function cannot
/// be placed so (the incremental path then does not analyse it alone either).
pub fn analyze_with_broken(
    text: &str,
    broken: &[Range<usize>],
    statement: Option<Range<usize>>,
    catalog: &Catalog,
    settings: &Settings,
) -> Option<(Facts, FileAnalysis)> {
    let mut placeholder = text.as_bytes().to_vec();
    for r in broken {
        let line_start = line_start(text, r.start);
        let unit = parse_broken_unit(text, line_start, r.start, r.end)?;
        blank_body(&mut placeholder, &unit.tree, r.start - line_start, r.end)?;
    }
    // Broken module-level statements are blank (line breaks kept) in the rest of the file's parse.
    if let Some(r) = &statement {
        for b in placeholder.get_mut(r.clone())? {
            if *b != b'\n' && *b != b'\r' {
                *b = b' ';
            }
        }
    }
    let placeholder = String::from_utf8(placeholder).ok()?;
    let tree = crate::syntax::parse(&placeholder, None)?;
    let mut facts = Facts::extract(&placeholder, &tree);
    for r in broken {
        let unit = facts.scopes.iter().position(|s| s.kind == ScopeKind::Function && s.range == *r)?;
        let parse = parse_broken_unit(text, line_start(text, r.start), r.start, r.end)?;
        let at = (r.start, r.end, r.end);
        facts.splice_unit(unit, at, parse.masked.as_deref().unwrap_or(text), &parse.tree, None)?;
    }
    facts.broken = broken.to_vec();
    if let Some(r) = statement {
        facts.place_broken_statement(text, r, &mut facts::Parses::default())?;
    }
    let mut analysis = analyze_facts(text, &facts, catalog, settings, true);
    analysis.cuts = nesting_cuts(&placeholder, &tree);
    Some((facts, analysis))
}

/// The end of the function a parse of one function holds (see `one_function`).
fn function_end(tree: &Tree) -> Option<usize> {
    let root = tree.root_node();
    let def = root.named_children(&mut root.walk()).find(|n| n.kind() != "comment")?;
    (def.kind() == "function_definition").then(|| def.end_byte())
}

/// Whether only spaces and line breaks follow `end` up to the next line that is not blank (or the end
/// of the text), which is code, not a comment: a function parsed alone that ends at `end` then ends
/// there in the whole file's parse too, when that line is indented no deeper than its `def` (which
/// `parse_unit` checks). Where a comment there goes depends on what follows it.
fn ends_before_code(text: &str, end: usize) -> bool {
    let rest = &text.as_bytes()[end..];
    match rest.iter().position(|&b| !matches!(b, b' ' | b'\n' | b'\r')) {
        None => true,
        Some(i) => !matches!(rest[i], b'#' | b'\t' | b'\\') && rest[..i].iter().any(|&b| matches!(b, b'\n' | b'\r')),
    }
}

/// Replaces the body of the function `tree` holds (parsed alone, ending at `end`, its `def` at column
/// `indent`) by a body without errors of the same extent, in `bytes`: everything after the header's
/// `:` blanked (line breaks kept), then a `0` as the last byte of its last line. `None` when that line
/// is too short to be indented deeper than the `def`, or when the body starts on the header's line and
/// goes on below it.
fn blank_body(bytes: &mut [u8], tree: &Tree, indent: usize, end: usize) -> Option<()> {
    let colon = body_placeable(bytes, tree, indent, end)?;
    for b in &mut bytes[colon..end] {
        if *b != b'\n' && *b != b'\r' {
            *b = b' ';
        }
    }
    bytes[end - 1] = b'0';
    Some(())
}

/// Whether `blank_body` can replace the body of the function `tree` holds in `bytes` (read only); the
/// end of its header's `:` when it can.
fn body_placeable(bytes: &[u8], tree: &Tree, indent: usize, end: usize) -> Option<usize> {
    let root = tree.root_node();
    let def = root.named_children(&mut root.walk()).find(|n| n.kind() == "function_definition")?;
    let colon = def.children(&mut def.walk()).filter(|c| c.kind() == ":").last()?.end_byte();
    let last_line = bytes[..end].iter().rposition(|&b| b == b'\n' || b == b'\r').map_or(0, |i| i + 1);
    if end <= colon {
        return None;
    }
    let header_end = bytes[colon..end].iter().position(|&b| b == b'\n' || b == b'\r').map_or(end, |i| colon + i);
    let on_header = bytes[colon..header_end].iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|&b| b != b'#');
    if last_line > colon && (on_header || end - last_line <= indent + 1) {
        return None;
    }
    Some(colon)
}

/// `parse_unit` of a function whose text has syntax errors: parsed from scratch, then with the lines
/// left of its `def` blanked when that does not give one function.
fn parse_broken_unit(text: &str, line_start: usize, start: usize, end: usize) -> Option<UnitParse> {
    let indent = start - line_start;
    let tree = crate::syntax::parse_range(text, line_start..end, None)?;
    // Checked on the text itself: a copy of everything before the function cost each keystroke in a
    // broken function of a large file a copy of the file.
    let placed = |tree: &Tree| body_placeable(text.as_bytes(), tree, indent, end).is_some();
    if one_function(&tree, start, indent, true) {
        return placed(&tree).then_some(UnitParse {
            range: line_start..end,
            tree,
            before: None,
            broken: true,
            masked: None,
        });
    }
    let masked = mask_unit(text, line_start, start, end)?;
    let tree = crate::syntax::parse_range(&masked, line_start..end, None)?;
    let broken = tree.root_node().has_error();
    (one_function(&tree, start, indent, broken) && placed(&tree)).then_some(UnitParse {
        range: line_start..end,
        tree,
        before: None,
        broken: true,
        masked: Some(masked),
    })
}

/// Whether a parse of a function alone is one `function_definition` starting at `start` whose statements
/// are indented deeper than `indent` (see `statements_deeper_than`). With `broken`, it may hold syntax
/// errors in its body, not in its header (name, parameters, return annotation), and must end where the
/// parse does (its extent is the one the rest of the file gave it).
fn one_function(tree: &Tree, start: usize, indent: usize, broken: bool) -> bool {
    let root = tree.root_node();
    let mut c = root.walk();
    let mut defs = root.named_children(&mut c).filter(|n| n.kind() != "comment");
    let Some(d) = defs.next() else { return false };
    if defs.next().is_some() || d.kind() != "function_definition" || d.start_byte() != start {
        return false;
    }
    if broken {
        let clean = |field: &str| d.child_by_field_name(field).is_none_or(|n| !n.has_error() && !n.is_missing());
        let header = d.child_by_field_name("name").is_some_and(|n| !n.is_missing())
            && d.child_by_field_name("parameters").is_some()
            && clean("parameters")
            && clean("return_type")
            && clean("type_parameters");
        // Errors inside its body only: what an error node right under the `def` holds would belong to
        // the enclosing scope, and change what the rest of the file sees.
        let mut c = d.walk();
        if !header
            || d.child_by_field_name("body").is_none()
            || d.children(&mut c).any(|n| n.is_error() || n.is_missing())
        {
            return false;
        }
    }
    statements_deeper_than(d, indent)
}

/// The text up to `end` with every line of the function `start..end` (after its `def` line) that starts
/// at or left of the `def`'s column blanked (spaces; line breaks kept, so offsets stay): code there would end the
/// function. `None` when there is no such line.
fn mask_unit(text: &str, line_start: usize, start: usize, end: usize) -> Option<String> {
    let indent = start - line_start;
    let bytes = text.as_bytes();
    let first = bytes[start..end].iter().position(|&b| b == b'\n').map(|i| start + i + 1)?;
    let mut out: Option<Vec<u8>> = None;
    let mut at = first;
    while at < end {
        let line_end = bytes[at..end].iter().position(|&b| b == b'\n').map_or(end, |i| at + i);
        let line = &bytes[at..line_end];
        let lead = line.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
        let blank = line[lead..].iter().all(|b| b.is_ascii_whitespace());
        if !blank && lead <= indent {
            // The text up to the function's end only: what is parsed and extracted from it (offsets
            // kept) ends there, and a copy of the whole file per keystroke is what a broken function
            // near the top of a large file cost.
            let out = out.get_or_insert_with(|| bytes[..end].to_vec());
            for b in &mut out[at..line_end] {
                if *b != b'\r' {
                    *b = b' ';
                }
            }
        }
        at = line_end + 1;
    }
    // Only whole lines of bytes were replaced by spaces, so the text is still UTF-8 ... unless a
    // multi-byte character was cut: every byte of the line is replaced, so none is.
    out.map(|o| String::from_utf8(o).expect("whole lines replaced by ASCII"))
}

/// Whether every statement in the blocks under `def` starts in a column after `indent` (and is not
/// indented with tabs, whose width the two parses might see differently), and no block is empty (one at
/// the end of the text parses, but where it ends then depends on what follows it).
fn statements_deeper_than(def: tree_sitter::Node<'_>, indent: usize) -> bool {
    let mut blocks = vec![def];
    let mut c = def.walk();
    while let Some(node) = blocks.pop() {
        for child in node.named_children(&mut c) {
            match child.kind() {
                "block" => {
                    if !child.named_children(&mut child.walk()).any(|s| s.kind() != "comment") {
                        return false;
                    }
                    for stmt in child.named_children(&mut child.walk()) {
                        if stmt.kind() != "comment" && stmt.start_position().column <= indent {
                            return false;
                        }
                        blocks.push(stmt);
                    }
                }
                k if k.ends_with("_clause") || k == "decorated_definition" || k.ends_with("_definition") => {
                    blocks.push(child)
                }
                _ => {}
            }
            if blocks.len() > 4096 {
                return false;
            }
        }
    }
    true
}

/// The byte ranges of the `function_definition`s that FastAPI or Starlette run as routes or dependencies
/// (for fixes: such a function can become a plain `def`, which the framework runs in its threadpool).
pub fn endpoint_ranges(text: &str, tree: &Tree, catalog: &Catalog) -> Vec<Range<usize>> {
    let facts = Facts::extract(text, tree);
    let r = Resolver::new(&facts, text, catalog);
    let mut out: Vec<Range<usize>> = checks::endpoints(&r)
        .iter()
        .filter(|(_, e)| e.served())
        .map(|(&id, _)| facts.scopes[id].range.clone())
        .collect();
    out.sort_by_key(|r| r.start);
    out
}

/// [`analyze`] and [`endpoint_ranges`] of one parsed file, from one extraction of its facts (each round
/// of fixes needs both: the query is most of the cost of either).
pub fn analyze_with_endpoints(
    text: &str,
    tree: &Tree,
    catalog: &Catalog,
    settings: &Settings,
) -> (Vec<Finding>, Vec<Range<usize>>) {
    let facts = Facts::extract(text, tree);
    let mut ranges = Some(Vec::new());
    let analysis = analyze_facts_endpoints(text, &facts, catalog, settings, false, &mut ranges);
    (analysis.findings, ranges.unwrap_or_default())
}

/// Parses and analyses source text: the convenience entry point for tests and the CLI.
pub fn analyze_source(text: &str, catalog: &Catalog, settings: &Settings) -> Vec<Finding> {
    match crate::syntax::parse(text, None) {
        Some(tree) => analyze(text, &tree, catalog, settings),
        None => Vec::new(),
    }
}

/// Parses, analyses and summarizes source text. Brackets nested deeper than `MAX_BRACKETS` are
/// blanked out first (with a cut saying so), as tree-sitter slows down to minutes on them.
pub fn analyze_source_file(text: &str, catalog: &Catalog, settings: &Settings, summarize: bool) -> FileAnalysis {
    let (shallow, bracket_cuts) = blank_deep_brackets(text);
    match crate::syntax::parse(&shallow, None) {
        Some(tree) => {
            let mut a = analyze_file(&shallow, &tree, catalog, settings, summarize);
            a.cuts.extend(bracket_cuts);
            a.cuts.sort_by_key(|c| c.offset);
            a
        }
        None => FileAnalysis::default(),
    }
}

/// A file's tree and the ranges of its endpoints ([`endpoint_ranges`]).
pub type TreeAndEndpoints = (Tree, Vec<Range<usize>>);

/// [`analyze_source_file`] that also gives the file's tree and its [`endpoint_ranges`] (found by the same
/// analysis, not a second one), for the fixes of its findings; `None` for them when the text was blanked
/// (`blank_deep_brackets`: the tree is not one of the text).
pub fn analyze_source_file_for_fixes(
    text: &str,
    catalog: &Catalog,
    settings: &Settings,
    summarize: bool,
) -> (FileAnalysis, Option<TreeAndEndpoints>) {
    let (shallow, bracket_cuts) = blank_deep_brackets(text);
    if !bracket_cuts.is_empty() {
        return (analyze_source_file(text, catalog, settings, summarize), None);
    }
    let Some(tree) = crate::syntax::parse(text, None) else { return (FileAnalysis::default(), None) };
    drop(shallow);
    let facts = Facts::extract(text, &tree);
    let mut ranges = Some(Vec::new());
    let mut a = analyze_facts_endpoints(text, &facts, catalog, settings, summarize, &mut ranges);
    merge_cuts(&mut a.cuts, nesting_cuts(text, &tree));
    (a, ranges.map(|r| (tree, r)))
}

/// Parses an editor's document (`old`: its previous parse, edited like the text): as in
/// `analyze_source_file`, brackets nested deeper than `MAX_BRACKETS` are blanked first, so that no text
/// holds tree-sitter for minutes. Returns the tree and whether it is a parse of the blanked text (then
/// `old` is not reused, and the caller must not reuse this tree as an `old` either: it does not describe
/// the text's brackets). Normal text costs one scan of its bytes more, and parses incrementally; when
/// that parse has syntax errors it is parsed again from scratch: tree-sitter's recovery, reusing the
/// old tree's nodes around the error, may otherwise give another tree than a fresh parse (and other
/// findings than `loopsafe check`: the random edits of `tests/proptest_edits.rs` found `日本(la)mbda: ...)`
/// read as one assignment incrementally and as two fresh).
pub fn parse_document(text: &str, old: Option<&Tree>) -> (Option<Tree>, bool) {
    let (shallow, cuts) = blank_deep_brackets(text);
    if cuts.is_empty() {
        let tree = crate::syntax::parse(text, old);
        if old.is_some() && tree.as_ref().is_some_and(|t| t.root_node().has_error()) {
            return (crate::syntax::parse(text, None), false);
        }
        (tree, false)
    } else {
        (crate::syntax::parse(&shallow, None), true)
    }
}

/// `analyze_tree` of a document parsed by `parse_document`: when that blanked brackets (`blanked`), the
/// analysis is of the blanked text, with cuts where they start, as `analyze_source_file` gives.
pub fn analyze_document(
    text: &str,
    tree: &Tree,
    blanked: bool,
    catalog: &Catalog,
    settings: &Settings,
) -> (Facts, FileAnalysis) {
    if !blanked {
        return analyze_tree(text, tree, catalog, settings);
    }
    let (shallow, cuts) = blank_deep_brackets(text);
    let (facts, mut analysis) = analyze_tree(&shallow, tree, catalog, settings);
    analysis.cuts.extend(cuts);
    analysis.cuts.sort_by_key(|c| c.offset);
    (facts, analysis)
}

/// How deep brackets may nest before `analyze_source_file` leaves what is inside out (CPython itself
/// refuses more than 200 levels): tree-sitter parses 30,000 levels in a fraction of a second, and
/// 50,000 in most of a minute.
pub const MAX_BRACKETS: usize = 20_000;

/// `text` with everything inside brackets nested deeper than `MAX_BRACKETS` replaced by spaces (line
/// breaks kept, so every offset and line stays where it was), and a cut where each such stretch
/// starts; `text` itself when there is none. One pass over the bytes; strings and comments are skipped
/// as Python's tokenizer skips them (brackets in them do not count).
pub fn blank_deep_brackets(text: &str) -> (std::borrow::Cow<'_, str>, Vec<Cut>) {
    let b = text.as_bytes();
    let mut deep: Vec<Range<usize>> = Vec::new();
    let (mut depth, mut i, mut from) = (0usize, 0usize, 0usize);
    while i < b.len() {
        match b[i] {
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            q @ (b'"' | b'\'') => {
                let triple = b.get(i..i + 3) == Some(&[q, q, q][..]);
                i += if triple { 3 } else { 1 };
                while i < b.len() {
                    if b[i] == b'\\' {
                        i += 2;
                    } else if triple && b.get(i..i + 3) == Some(&[q, q, q][..]) {
                        i += 3;
                        break;
                    } else if !triple && (b[i] == q || b[i] == b'\n') {
                        i += 1;
                        break;
                    } else {
                        i += 1;
                    }
                }
                continue;
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth == MAX_BRACKETS + 1 {
                    from = i;
                }
            }
            b')' | b']' | b'}' if depth > 0 => {
                if depth == MAX_BRACKETS + 1 {
                    deep.push(from..i + 1);
                }
                depth -= 1;
            }
            _ => {}
        }
        i += 1;
    }
    if depth > MAX_BRACKETS {
        deep.push(from..b.len());
    }
    if deep.is_empty() {
        return (std::borrow::Cow::Borrowed(text), Vec::new());
    }
    let mut out = b.to_vec();
    let mut cuts = Vec::with_capacity(deep.len());
    for r in deep {
        for byte in &mut out[r.clone()] {
            if *byte != b'\n' && *byte != b'\r' {
                *byte = b' ';
            }
        }
        cuts.push(Cut {
            offset: r.start,
            message: format!(
                "brackets nested more than {MAX_BRACKETS} levels deep: what is inside them is not analysed, so \
                 findings there may be missing"
            ),
        });
    }
    let out = String::from_utf8(out).expect("only ASCII bytes replace whole characters");
    (std::borrow::Cow::Owned(out), cuts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Which occurrences of `s` in `text` `read_by_no_code` takes for no read.
    fn no_reads(text: &str) -> Vec<usize> {
        let tree = crate::syntax::parse(text, None).expect("parsed");
        let facts = Facts::extract(text, &tree);
        let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        let b = text.as_bytes();
        text.match_indices('s')
            .map(|(i, _)| i)
            .filter(|&i| (i == 0 || !word(b[i - 1])) && !b.get(i + 1).is_some_and(|&c| word(c)))
            .filter(|&i| read_by_no_code(&facts, text, i, i + 1))
            .collect()
    }

    #[test]
    fn comments_docstrings_and_string_prefixes_are_no_reads() {
        // A class docstring, a comment in a class body, a method's docstring: no reads.
        let text =
            "class C:\n    \"\"\"C's s.\"\"\"\n    # s here\n    def m(self):\n        'its s'\n        return s\n";
        let at = |p: &str| text.find(p).unwrap();
        assert_eq!(no_reads(text), [at("s s."), at("s s.") + 2, at("s here"), at("s'\n")]);
        // Implicitly joined strings are no statement of their own to this lexer: a read.
        assert_eq!(no_reads("def m():\n    'it' 's'\n"), Vec::<usize>::new());
        // Read: a string annotation, an argument, code after a comment line, a string after `=`.
        for text in [
            "x: 's' = 1\n",
            "class C:\n    x: \"int | s\"\n",
            "f(\n    's'\n)\n",
            "# c\ns = 1\n",
            "x = \\\n    's'\n",
            "def g():\n    return 1\nx = f'{s}'\n",
        ] {
            assert_eq!(no_reads(text), Vec::<usize>::new(), "{text}");
        }
        // A string's prefix.
        let text = "x = [s\"a\", 1]\n";
        assert_eq!(no_reads(text), Vec::<usize>::new(), "s is no prefix");
        let text = "x = (f\"a\", s)\n";
        assert_eq!(no_reads(text), Vec::<usize>::new());
    }
}
