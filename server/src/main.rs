use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use loopsafe::autofix;
use loopsafe::catalog::Catalog;
use loopsafe::check::{self, CheckOptions};
use loopsafe::config;
use loopsafe::fix::Target;
use loopsafe::output::{self, Format};
use loopsafe::rules::{RULES, Rule};
use loopsafe::settings::Selector;

// jemalloc: the analysis allocates many small, short-lived vectors and strings (facts, findings, JSON);
// glibc's malloc spent about a sixth of a language-server edit's CPU time in malloc and free. It
// replaced mimalloc for the server's memory (issue 18): with mimalloc, RSS was 50-60 MB for 6-8 MB of
// live data and grew 10-30 % over a soak (huge pages khugepaged refills, pages held by idle threads,
// fragmentation); with jemalloc configured as in `malloc_conf`, 23-24 MB, growing 2-7 %.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read before `main` (tikv-jemalloc-sys builds jemalloc with the `_rjem_` prefix,
/// so the symbol is `_rjem_malloc_conf` and the environment variable `_RJEM_MALLOC_CONF`, which still
/// overrides them). Its `background_threads` feature adds `background_thread:true`: a thread of
/// jemalloc's returns freed pages on time even while every other thread is idle.
/// - `narenas:1`: one arena for all threads. With the default (4 per core), each thread's frees
///   scatter over arenas of their own and the freed pages of one cannot serve another: RSS grew
///   +12..15 % in the pull soak (+6..7 % with one arena). Threads keep their small-object caches.
/// - `dirty_decay_ms:1000`, `muzzy_decay_ms:0`: freed pages go back to the system within about a
///   second (default: 10 s, then 10 s more as lazily freed pages that still count in RSS until the
///   kernel needs them). `dirty_decay_ms:0` (purged at every free) gave no lower RSS and slower hovers.
#[allow(non_upper_case_globals)]
#[unsafe(export_name = "_rjem_malloc_conf")]
static malloc_conf: &[u8; 47] = b"narenas:1,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

/// Threads of the runtime's blocking pool (analysis jobs, code actions, indexing, tokio's stdin and
/// stdout when they are not pipes): see `main`.
const MAX_BLOCKING_THREADS: usize = 8;

/// How long an idle thread of the blocking pool lives (tokio's default: 10 s). A thread that stops
/// returns its allocator cache (jemalloc flushes it as the thread exits).
const BLOCKING_KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(1);

// The server's memory (issue 18). Its live heap is small (5-6.5 MB in the soak over 50 documents:
// 4-5.5 MB of Rust data, about 2.2 MB of tree-sitter trees, counted by a counting allocator; flat from
// 1,000 to 40,000 messages). With mimalloc, RSS was 50-78 MB and grew 10-30 % in some soaks: huge pages
// (mimalloc asks for them and khugepaged refills what it purged), pages held by idle threads (what
// other threads freed in a thread's pages is taken back only when that thread allocates again) and
// fragmentation (+14..25 % without huge pages). jemalloc (`malloc_conf`) asks for no huge pages, frees
// into one arena shared by all threads, and its background thread purges freed pages after a second.

/// tree-sitter's C library allocates through libc's malloc unless given other functions. Parsing, the
/// largest part of indexing, makes and frees a great many small nodes: it gets jemalloc too (one
/// allocator, one arena: what a tree frees serves the next Rust allocation). Must run before any
/// tree-sitter call.
fn tree_sitter_uses_jemalloc() {
    use std::ffi::c_void;
    use tikv_jemalloc_sys as je;
    // tree-sitter's own defaults abort when an allocation fails; so do these.
    fn checked(p: *mut c_void, size: usize) -> *mut c_void {
        if p.is_null() && size != 0 {
            std::process::abort();
        }
        p
    }
    unsafe extern "C" fn malloc(size: usize) -> *mut c_void {
        checked(unsafe { je::malloc(size) }, size)
    }
    unsafe extern "C" fn calloc(n: usize, size: usize) -> *mut c_void {
        let Some(total) = n.checked_mul(size) else { std::process::abort() };
        checked(unsafe { je::calloc(1, total) }, total)
    }
    unsafe extern "C" fn realloc(p: *mut c_void, size: usize) -> *mut c_void {
        checked(unsafe { je::realloc(p, size) }, size)
    }
    unsafe extern "C" fn free(p: *mut c_void) {
        unsafe { je::free(p) }
    }
    // SAFETY: one allocator family, aligned like malloc, never null for a non-zero size; called first
    // thing in `main`, before any tree-sitter object exists and before other threads start.
    unsafe { tree_sitter::set_allocator(Some(tree_sitter::Allocator { malloc, calloc, realloc, free })) };
}

/// Finds blocking calls that stall Python event loops.
#[derive(Parser)]
#[command(name = "loopsafe", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run: the size of the `check` arguments does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Check Python files for blocking calls made on the event loop.
    Check(CheckArgs),
    /// Run the language server on stdin/stdout (logs go to stderr).
    Server {
        /// Log level: error, warn, info, debug or trace (also: LOOPSAFE_LOG, as a tracing filter).
        #[arg(long, default_value = "info")]
        log_level: String,
    },
    /// Show a rule's documentation, or list every rule.
    Rule {
        /// A rule name (`blocking-http`) or code (`LS101`).
        name: Option<String>,
        /// List every rule with its code and summary.
        #[arg(long, conflicts_with = "name")]
        all: bool,
    },
}

#[derive(Args)]
struct CheckArgs {
    /// Files or directories to check (directories are walked, respecting .gitignore).
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    output_format: Format,
    /// Rules to enable (names, codes or code prefixes, comma-separated); replaces the configured list.
    #[arg(long, value_delimiter = ',')]
    select: Option<Vec<String>>,
    /// Rules to enable in addition to the selected ones (comma-separated).
    #[arg(long, value_delimiter = ',')]
    extend_select: Option<Vec<String>>,
    /// Rules to disable (names, codes or code prefixes, comma-separated); replaces the configured list.
    #[arg(long, value_delimiter = ',')]
    ignore: Option<Vec<String>>,
    /// Exit with status 0 even when there are findings.
    #[arg(long)]
    exit_zero: bool,
    /// A pyproject.toml (its [tool.loopsafe] table) or loopsafe.toml to use instead of discovering one.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Check each file on its own: do not follow calls into other functions and modules.
    #[arg(long)]
    no_follow: bool,
    /// Do not read or write the analysis cache.
    #[arg(long)]
    no_cache: bool,
    /// Where to keep the analysis cache (default: `.loopsafe_cache` at the project root; also
    /// LOOPSAFE_CACHE_DIR).
    #[arg(long, env = "LOOPSAFE_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Never use colours in text output (also: NO_COLOR).
    #[arg(long)]
    no_color: bool,
    /// Apply the safe fixes, then report what remains.
    #[arg(long)]
    fix: bool,
    /// With --fix or --diff: the unsafe fixes too. Alone it changes nothing (as ruff's).
    #[arg(long)]
    unsafe_fixes: bool,
    /// Print the fixes as a unified diff instead of writing them (exit status 1 when there is one).
    #[arg(long)]
    diff: bool,
    /// Add a `# noqa: LSxxx` directive to the line of every finding (merged with an existing one).
    #[arg(long, conflicts_with_all = ["fix", "unsafe_fixes", "diff"])]
    add_noqa: bool,
    /// Print how many findings each rule and each root cause (blocking API) has, instead of the findings.
    #[arg(long)]
    statistics: bool,
    /// Write the output to FILE (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    output_file: Option<PathBuf>,
    /// Print the findings only: no summary line and no warnings.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Check the text on stdin as the file PATH (which need not exist): its project, imports and
    /// settings are those of PATH's location. With --fix, the fixed text goes to stdout and the report
    /// to stderr.
    #[arg(long, value_name = "PATH", conflicts_with = "add_noqa")]
    stdin_filename: Option<PathBuf>,
    /// Report (and fail on) only findings not recorded in this baseline file (also: `baseline` in
    /// [tool.loopsafe]).
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Write the current findings to the baseline file, replacing what it held.
    #[arg(long)]
    update_baseline: bool,
    /// A runtime recording (`python -m loopsafe.record`, `pytest --loopsafe-record`): findings it hit
    /// are marked confirmed, blocking calls it saw that no finding covers are reported
    /// (`blocking-seen-at-runtime`).
    #[arg(long, value_name = "FILE")]
    runtime: Option<PathBuf>,
    /// With --runtime: report only the findings the recording confirms.
    #[arg(long, requires = "runtime")]
    confirmed_only: bool,
}

fn main() -> ExitCode {
    tree_sitter_uses_jemalloc();
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => match run_check(args) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("loopsafe: error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Rule { name, all } => run_rule(name, all),
        Command::Server { log_level } => run_server(&log_level),
    }
}

fn run_check(mut args: CheckArgs) -> Result<ExitCode, String> {
    // `--stdin-filename`: the buffer read now is checked as that one file.
    let stdin = match &args.stdin_filename {
        Some(path) => {
            args.paths = vec![path.clone()];
            Some(read_stdin(path)?)
        }
        None => None,
    };
    let loaded = match &args.config {
        Some(path) => config::load_file(path)?,
        None => config::discover(args.paths.first().map_or(std::path::Path::new("."), |p| p.as_path()))?,
    };
    let mut settings = loaded.settings.clone();
    let parse_list = |list: &[String], flag: &str| -> Result<Vec<Selector>, String> {
        list.iter().map(|s| Selector::parse(s).map_err(|e| format!("--{flag}: {e}"))).collect()
    };
    if let Some(sel) = &args.select {
        settings.select = parse_list(sel, "select")?;
    }
    if let Some(ext) = &args.extend_select {
        settings.select.extend(parse_list(ext, "extend-select")?);
    }
    if let Some(ign) = &args.ignore {
        settings.ignore = parse_list(ign, "ignore")?;
    }
    let catalog = Catalog::bundled().extended(&settings.extend_blocking_calls);
    let cache_dir = if args.no_cache {
        None
    } else {
        args.cache_dir.clone().or_else(|| {
            let start = args.paths.first().map_or(std::path::Path::new("."), |p| p.as_path());
            let root = check::project_root(start)
                .or_else(|| std::env::current_dir().ok().and_then(|c| std::fs::canonicalize(c).ok()));
            root.map(|r| r.join(loopsafe::cache::DIR_NAME))
        })
    };
    // A cache directory the user chose must be loopsafe's (missing, empty or marked): never a project's.
    if !args.no_cache
        && let Some(dir) = &args.cache_dir
    {
        loopsafe::cache::ensure_owned(dir)?;
    }
    let opts = CheckOptions {
        paths: &args.paths,
        settings: &settings,
        root: loaded.root(),
        follow: !args.no_follow,
        cache_dir,
    };
    let baseline_path = args
        .baseline
        .clone()
        .or_else(|| settings.baseline.as_ref().map(|b| loaded.root().map_or_else(|| PathBuf::from(b), |r| r.join(b))));
    if args.update_baseline && baseline_path.is_none() {
        return Err("--update-baseline needs --baseline FILE (or `baseline` in [tool.loopsafe])".to_string());
    }
    let baseline = baseline_path.map(|p| loopsafe::baseline::Cli::prepare(p, args.update_baseline)).transpose()?;
    let recording = args.runtime.as_deref().map(loopsafe::runtime::load).transpose()?;
    let mut report = if args.output_format == Format::Json && !args.statistics {
        // The fixes are listed: the check keeps what they need of its analysis.
        check::check_for_fixes(&opts, &catalog, stdin.as_ref().map(|i| i.text.as_str()))?
    } else {
        match &stdin {
            Some(input) => check::check_stdin(&opts, &catalog, &input.text)?,
            None => check::check(&opts, &catalog)?,
        }
    };
    // With `--fix` on a buffer, stdout carries the fixed text: the report goes to stderr (as in ruff).
    let mut report_to_stderr = false;
    // The files `--fix` rewrote: a recording's lines in them are stale.
    let mut fixed_files: Vec<PathBuf> = Vec::new();
    let fix_options = autofix::options(&settings, &args.paths);
    let mut stderr = std::io::stderr().lock();
    let apply_recording = |report: &mut check::Report, fixed: &[PathBuf]| {
        if let Some(recording) = &recording {
            let start = args.paths.first().map_or(std::path::Path::new("."), |p| p.as_path());
            let root = check::project_root(start)
                .or_else(|| std::env::current_dir().ok().and_then(|c| std::fs::canonicalize(c).ok()))
                .unwrap_or_default();
            let mut kept;
            let mut recording = recording;
            if !fixed.is_empty() {
                let rel: Vec<String> = fixed
                    .iter()
                    .filter_map(|p| std::fs::canonicalize(p).ok())
                    .filter_map(|a| a.strip_prefix(&root).ok().map(|r| r.to_string_lossy().replace('\\', "/")))
                    .collect();
                kept = recording.clone();
                let dropped = loopsafe::runtime::forget(&mut kept, &rel);
                if dropped > 0 && !args.quiet {
                    let _ = writeln!(
                        std::io::stderr(),
                        "loopsafe: warning: --runtime: {} in files --fix changed left out (their lines are stale: record again)",
                        autofix::plural(dropped, "recorded call", "recorded calls")
                    );
                }
                recording = &kept;
            }
            loopsafe::runtime::apply(report, recording, &settings, &root);
            if args.confirmed_only {
                loopsafe::runtime::confirmed_only(report);
            }
        }
    };
    if args.add_noqa {
        // With --runtime, the merged findings get their directive: a call seen only at runtime on its
        // coroutine frame's line, where its `blocking-seen-at-runtime` finding is and where the
        // directive suppresses it next time (--fix has nothing to fix there: it fixes the static ones).
        apply_recording(&mut report, &[]);
        let mut warnings = std::mem::take(&mut report.warnings);
        let added = loopsafe::add_noqa::run(&report, &mut warnings);
        for w in warnings.iter().filter(|_| !args.quiet) {
            let _ = writeln!(stderr, "loopsafe: warning: {w}");
        }
        let added = added?;
        // Nothing to say when nothing was added (as ruff).
        if added > 0 && !args.quiet {
            let _ = writeln!(stderr, "Added {}.", autofix::plural(added, "noqa directive", "noqa directives"));
        }
        return Ok(ExitCode::SUCCESS);
    }
    // What the baseline holds is neither reported nor fixed.
    let held = |d: &check::Diagnostic| baseline.as_ref().is_some_and(|b| b.holds(d));
    if let Some(input) = stdin.as_ref().filter(|_| args.fix || args.diff) {
        let path = &args.paths[0];
        let (skip, fixable): (Vec<_>, Vec<_>) = report.diagnostics.iter().partition(|d| held(d));
        let chains = fixable.iter().filter(|d| d.is_chain()).map(|d| Target::from_finding(&d.finding, true));
        let skip = skip.iter().map(|d| Target::from_finding(&d.finding, d.is_chain())).collect();
        let file_settings = settings.for_file(path);
        let fixed = loopsafe::fix::fix_all_except(
            &input.text,
            chains.collect(),
            skip,
            &catalog,
            &file_settings,
            &fix_options,
            args.unsafe_fixes,
        );
        let applied = fixed.applied;
        let mut stdout = std::io::stdout().lock();
        if args.diff {
            let changed = fixed.text != input.text;
            let display = check::display_path(path);
            let fixes: Vec<autofix::FileFix> = if changed {
                vec![autofix::FileFix { path: display, original: input.text.clone(), fixed, hash: 0, group: None }]
            } else {
                Vec::new()
            };
            let _ = stdout.write_all(autofix::diff(&fixes).as_bytes()).and_then(|_| stdout.flush());
            if !args.quiet {
                let _ = writeln!(stderr, "loopsafe: would apply {}", autofix::plural(applied, "fix", "fixes"));
            }
            return Ok(if !changed || args.exit_zero { ExitCode::SUCCESS } else { ExitCode::from(1) });
        }
        let body = autofix::with_line_endings_of(&input.text, &fixed.text);
        let bom: &[u8] = if input.bom { b"\xEF\xBB\xBF" } else { b"" };
        if let Err(e) =
            stdout.write_all(bom).and_then(|_| stdout.write_all(body.as_bytes())).and_then(|_| stdout.flush())
            && e.kind() != std::io::ErrorKind::BrokenPipe
        {
            return Err(format!("cannot write output: {e}"));
        }
        if !args.quiet {
            let _ = writeln!(stderr, "loopsafe: applied {}", autofix::plural(applied, "fix", "fixes"));
        }
        if fixed.text != input.text {
            fixed_files.push(path.clone());
        }
        report = check::check_stdin(&opts, &catalog, &fixed.text)?;
        report_to_stderr = true;
    } else if args.fix || args.diff {
        let mut warnings = std::mem::take(&mut report.warnings);
        let run = autofix::FixRun {
            skipped: &held,
            catalog: &catalog,
            settings: &settings,
            options: &fix_options,
            allow_unsafe: args.unsafe_fixes,
            workspace: Some(&opts),
            overlay: None,
        };
        if args.diff {
            // What `--fix` would write over all its rounds, computed in memory.
            let fixes = autofix::diff_until_converged(&report, &run, &mut warnings)?;
            let applied: usize = fixes.iter().map(|f| f.fixed.applied).sum();
            for w in warnings.iter().filter(|_| !args.quiet) {
                let _ = writeln!(stderr, "loopsafe: warning: {w}");
            }
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout.write_all(autofix::diff(&fixes).as_bytes()).and_then(|_| stdout.flush())
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                return Err(format!("cannot write output: {e}"));
            }
            if !args.quiet {
                let _ = writeln!(
                    stderr,
                    "loopsafe: would apply {} in {}",
                    autofix::plural(applied, "fix", "fixes"),
                    autofix::plural(fixes.len(), "file", "files")
                );
            }
            return Ok(if fixes.is_empty() || args.exit_zero { ExitCode::SUCCESS } else { ExitCode::from(1) });
        }
        // Round after round until nothing changes.
        let converged = autofix::fix_until_converged(&report, &run, &mut warnings)?;
        let written = converged.written;
        fixed_files.extend(converged.paths.iter().map(PathBuf::from));
        let rechecked = converged.report;
        for w in warnings.iter().filter(|_| !args.quiet) {
            let _ = writeln!(stderr, "loopsafe: warning: {w}");
        }
        if !args.quiet {
            let _ = writeln!(
                stderr,
                "loopsafe: applied {} in {}",
                autofix::plural(written.fixes, "fix", "fixes"),
                autofix::plural(written.files, "file", "files")
            );
        }
        for e in &written.errors {
            let _ = writeln!(stderr, "loopsafe: error: {e}");
        }
        if let Some(signal) = written.interrupted {
            let _ = writeln!(stderr, "loopsafe: interrupted: the files not fixed yet are unchanged");
            loopsafe::atomic_write::reraise(signal);
            return Ok(ExitCode::from(128 + signal.clamp(0, 127) as u8));
        }
        if !written.errors.is_empty() {
            // Never "All checks passed" after a failed write.
            return Err(format!(
                "{} could not be written (unchanged)",
                autofix::plural(written.errors.len(), "fixed file", "fixed files")
            ));
        }
        // Report what remains (the last round's check, when it wrote something).
        report = match rechecked {
            Some(r) => r,
            None => check::check(&opts, &catalog)?,
        };
    }
    for w in report.warnings.iter().filter(|_| !args.quiet) {
        let _ = writeln!(stderr, "loopsafe: warning: {w}");
    }
    apply_recording(&mut report, &fixed_files);
    let mut hidden = None;
    if let Some(b) = baseline {
        let path = b.path.clone();
        let start = args.paths.first().map_or(std::path::Path::new("."), |p| p.as_path());
        let root = check::project_root(start)
            .or_else(|| std::env::current_dir().ok().and_then(|c| std::fs::canonicalize(c).ok()))
            .unwrap_or_default();
        let outcome = b.finish(&mut report, &root, &settings)?;
        if let Some(n) = outcome.written {
            let _ =
                writeln!(stderr, "loopsafe: wrote {} to {}", autofix::plural(n, "finding", "findings"), path.display());
        }
        hidden = (outcome.hidden > 0).then(|| loopsafe::baseline::hidden_message(outcome.hidden));
    }
    // Outside the text format the baseline's note goes to stderr.
    if let Some(m) = hidden.as_ref().filter(|_| args.output_format != Format::Text || args.statistics)
        && !args.quiet
    {
        let _ = writeln!(stderr, "loopsafe: {m}");
    }
    if args.output_format == Format::Json && !args.statistics {
        // Through the fix cache (not for a buffer: its fixes are those of the file on disk).
        let fix_cache = opts.cache_dir.as_deref().filter(|_| stdin.is_none());
        if let Some(w) =
            loopsafe::cache::attach_fixes(&mut report, &catalog, &fix_options, &settings, fix_cache, opts.follow)
            && !args.quiet
        {
            let _ = writeln!(stderr, "loopsafe: warning: {w}");
        }
        // A call seen only at runtime has no fix: its line is not a call loopsafe resolved.
        report
            .diagnostics
            .iter_mut()
            .filter(|d| d.finding.rule == Rule::BlockingSeenAtRuntime)
            .for_each(|d| d.fixes.clear());
    }
    let render = |w: &mut dyn Write| -> std::io::Result<()> {
        let diags = &report.diagnostics;
        if args.statistics {
            return w.write_all(output::statistics(diags, args.output_format == Format::Json).as_bytes());
        }
        match args.output_format {
            Format::Text => {
                let color = !args.no_color
                    && args.output_file.is_none()
                    && std::env::var_os("NO_COLOR").is_none()
                    && std::io::stdout().is_terminal();
                let mut text = if args.quiet {
                    output::text_findings(diags, color)
                } else {
                    output::text(diags, report.files_checked, color)
                };
                if let Some(m) = hidden.as_ref().filter(|_| !args.quiet) {
                    text.push_str(&format!("{m}.\n"));
                }
                w.write_all(text.as_bytes())
            }
            // Streamed: no whole document in memory.
            Format::Json => output::write_json(diags, &mut &mut *w),
            Format::Sarif => w.write_all(output::sarif(diags).as_bytes()),
            Format::Github => w.write_all(output::github(diags).as_bytes()),
        }
    };
    if let Some(file) = &args.output_file {
        let mut bytes = Vec::new();
        render(&mut bytes).map_err(|e| format!("cannot render output: {e}"))?;
        output::write_output_file(file, &bytes)?;
    } else if report_to_stderr {
        let _ = render(&mut stderr);
    } else {
        let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        if let Err(e) = render(&mut stdout).and_then(|_| stdout.flush())
            && e.kind() != std::io::ErrorKind::BrokenPipe
        {
            return Err(format!("cannot write output: {e}"));
        }
    }
    Ok(if report.diagnostics.is_empty() || args.exit_zero { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The buffer of `--stdin-filename`.
struct Stdin {
    text: String,
    bom: bool,
}

fn read_stdin(path: &std::path::Path) -> Result<Stdin, String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::io::stdin().read_to_end(&mut bytes).map_err(|e| format!("cannot read stdin: {e}"))?;
    match check::decode_source(path, &bytes) {
        check::Source::Text { text } => Ok(Stdin { text, bom: bytes.starts_with(b"\xEF\xBB\xBF") }),
        check::Source::Skipped(why) => Err(format!("stdin: {why}")),
    }
}

fn run_server(log_level: &str) -> ExitCode {
    use tracing_subscriber::prelude::*;
    let explicit = std::env::var("LOOPSAFE_LOG").ok();
    let directives = |level: &str| format!("loopsafe={level},warn");
    let filter = match tracing_subscriber::EnvFilter::try_new(explicit.clone().unwrap_or_else(|| directives(log_level)))
    {
        Ok(f) => f,
        Err(e) => {
            eprintln!("loopsafe: error: --log-level `{log_level}`: {e}");
            return ExitCode::from(2);
        }
    };
    let (filter, handle) = tracing_subscriber::reload::Layer::new(filter);
    // stdout carries the protocol: logs go to stderr only.
    tracing_subscriber::registry()
        .with(filter)
        // Once a client is connected, logs go to it as `window/logMessage` (with their level as the
        // message type) instead of stderr, which editors show as errors.
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(false)
                .with_filter(tracing_subscriber::filter::filter_fn(|_| !loopsafe::lsp::log::to_client())),
        )
        .with(loopsafe::lsp::log::layer())
        .init();
    // The client's `trace` setting raises the level (never lowers it below --log-level); LOOPSAFE_LOG,
    // when set, is the user's explicit choice and stays.
    let base = log_level.to_ascii_lowercase();
    loopsafe::lsp::set_log_control(move |level| {
        if explicit.is_some() {
            return;
        }
        const ORDER: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
        let rank = |l: &str| ORDER.iter().position(|o| *o == l).unwrap_or(2);
        let level = match level {
            Some(l) if rank(l) > rank(&base) => l,
            _ => base.as_str(),
        };
        if let Ok(f) = tracing_subscriber::EnvFilter::try_new(directives(level)) {
            let _ = handle.reload(f);
        }
    });
    // One thread: tower-lsp polls every handler inside its serve future, on the thread that runs
    // `block_on`, and `lsp::stdio` polls stdin and stdout there too, so a message is read, handled and
    // answered without a hand-over between threads. Long work (indexing) runs on blocking threads.
    //
    // The blocking pool is bounded: under a flood of edits tokio's default (512) let it grow to 40+
    // threads, each keeping its own allocator heap and stack resident (RSS doubled over a 20,000-message
    // soak) while 2 cores run them no faster. Jobs beyond the bound wait in tokio's FIFO queue; the
    // bound leaves room for a stdin/stdout reader (when they are not pipes) and an indexing pass.
    // Measured on the soak (2 busy cores): 8 keeps hover/quickfix latency at or below the unbounded
    // pool's; 4 made the push session's hovers queue (p50 ~440 ms).
    //
    // A blocking thread idle for `BLOCKING_KEEP_ALIVE` stops, and its allocator cache goes back to the
    // arena. Under load the threads stay; after a burst (the editor is idle) they give it back.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .thread_keep_alive(BLOCKING_KEEP_ALIVE)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("loopsafe: error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let ended = runtime.block_on(loopsafe::lsp::serve_stdio());
    // Without waiting for a read of stdin in flight (tokio's stdin reads on a blocking thread that
    // cannot be cancelled) or background indexing: the session is over.
    runtime.shutdown_background();
    // 0 after `shutdown`; 1 for `exit` (or the end of input) without it, as the specification says.
    ExitCode::from(ended.exit_code())
}

fn run_rule(name: Option<String>, all: bool) -> ExitCode {
    if all || name.is_none() {
        println!("{:<7} {:<22} {:<9} summary", "code", "rule", "tier");
        for r in RULES {
            println!("{:<7} {:<22} {:<9} {}", r.code, r.name, r.default_tier.as_str(), r.summary);
        }
        return ExitCode::SUCCESS;
    }
    let name = name.unwrap_or_default();
    match Rule::from_name_or_code(&name) {
        Some(rule) => {
            print!("{}", rule.info().doc);
            ExitCode::SUCCESS
        }
        None => {
            let names: Vec<&str> = RULES.iter().map(|r| r.name).collect();
            eprintln!("loopsafe: error: unknown rule `{name}`; rules: {}", names.join(", "));
            ExitCode::from(2)
        }
    }
}
