//! Parse-limit baseline for the benchmark harness (`bench/run.sh`).
//!
//! Walks DIR for `.py` files and, on N threads, parses each with tree-sitter-python and runs a single
//! query (every call with its callee, and every function definition) over the tree, counting captures.
//! This is roughly the least work any tree-sitter based checker must do per file, so `loopsafe check`
//! time divided by this time says how much loopsafe adds on top of parsing.
//!
//! ```text
//! cargo run --release -p loopsafe --example parse_baseline -- DIR [DIR...] [--threads N] [--json] [--list-errors]
//! ```
//!
//! The walk applies no ignore rules (no .gitignore, no hidden-file filter): every `*.py` under DIR counts,
//! so a corpus inside a gitignored directory (bench/.corpus) is still seen in full.

use std::cell::RefCell;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use rayon::prelude::*;
use streaming_iterator::StreamingIterator;
use tree_sitter::{Parser, Query, QueryCursor};

const QUERY: &str = r#"
(call function: (_) @f) @call
(function_definition name: (identifier) @name) @def
"#;

thread_local! {
    static PARSER: RefCell<Parser> = RefCell::new({
        let mut p = Parser::new();
        p.set_language(&tree_sitter_python::LANGUAGE.into())
            .expect("tree-sitter-python grammar is incompatible with this tree-sitter");
        p
    });
    static CURSOR: RefCell<QueryCursor> = RefCell::new(QueryCursor::new());
}

#[derive(Default, Clone, Copy)]
struct Totals {
    files: u64,
    bytes: u64,
    lines: u64,
    captures: u64,
    error_files: u64,
    unreadable: u64,
    unparsed: u64,
}

impl Totals {
    fn add(self, o: Totals) -> Totals {
        Totals {
            files: self.files + o.files,
            bytes: self.bytes + o.bytes,
            lines: self.lines + o.lines,
            captures: self.captures + o.captures,
            error_files: self.error_files + o.error_files,
            unreadable: self.unreadable + o.unreadable,
            unparsed: self.unparsed + o.unparsed,
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: parse_baseline DIR [DIR...] [--threads N] [--json] [--list-errors]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut threads: usize = 2;
    let mut json = false;
    let mut list_errors = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--threads" | "-j" => match args.next().and_then(|v| v.parse().ok()) {
                Some(n) if n > 0 => threads = n,
                _ => return usage(),
            },
            "--json" => json = true,
            "--list-errors" => list_errors = true,
            "-h" | "--help" => {
                usage();
                return ExitCode::SUCCESS;
            }
            s if s.starts_with("--threads=") => match s["--threads=".len()..].parse() {
                Ok(n) if n > 0 => threads = n,
                _ => return usage(),
            },
            s if s.starts_with('-') => return usage(),
            _ => dirs.push(PathBuf::from(a)),
        }
    }
    if dirs.is_empty() {
        return usage();
    }

    let start = Instant::now();
    let query = match Query::new(&tree_sitter_python::LANGUAGE.into(), QUERY) {
        Ok(q) => q,
        Err(e) => {
            eprintln!("parse_baseline: bad query: {e}");
            return ExitCode::FAILURE;
        }
    };

    // Walk (single-threaded; ~10 ms for the 13.5k-file corpus). No ignore/hidden filtering.
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in &dirs {
        let mut wb = ignore::WalkBuilder::new(dir);
        wb.standard_filters(false).follow_links(false);
        for entry in wb.build() {
            match entry {
                Ok(e) => {
                    if e.file_type().is_some_and(|t| t.is_file()) && e.path().extension().is_some_and(|x| x == "py") {
                        files.push(e.into_path());
                    }
                }
                Err(err) => eprintln!("parse_baseline: walk error: {err}"),
            }
        }
    }
    let walked = start.elapsed();

    let pool = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("parse_baseline: cannot build thread pool: {e}");
            return ExitCode::FAILURE;
        }
    };

    let totals = pool.install(|| {
        files
            .par_iter()
            .map(|path| {
                let mut t = Totals { files: 1, ..Totals::default() };
                let src = match std::fs::read(path) {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("parse_baseline: {}: {e}", path.display());
                        t.unreadable = 1;
                        return t;
                    }
                };
                t.bytes = src.len() as u64;
                t.lines = bytecount_lines(&src);
                let tree = PARSER.with_borrow_mut(|p| p.parse(&src, None));
                let Some(tree) = tree else {
                    t.unparsed = 1;
                    return t;
                };
                let root = tree.root_node();
                if root.has_error() {
                    t.error_files = 1;
                    if list_errors {
                        eprintln!("error node: {}", path.display());
                    }
                }
                t.captures = CURSOR.with_borrow_mut(|cursor| {
                    let mut n = 0u64;
                    let mut matches = cursor.matches(&query, root, src.as_slice());
                    while let Some(m) = matches.next() {
                        n += m.captures().len() as u64;
                    }
                    n
                });
                t
            })
            .reduce(Totals::default, Totals::add)
    });
    let elapsed = start.elapsed();

    if json {
        println!(
            "{{\"files\":{},\"lines\":{},\"bytes\":{},\"captures\":{},\"error_files\":{},\"unreadable\":{},\"unparsed\":{},\"threads\":{},\"walk_s\":{:.6},\"elapsed_s\":{:.6}}}",
            totals.files,
            totals.lines,
            totals.bytes,
            totals.captures,
            totals.error_files,
            totals.unreadable,
            totals.unparsed,
            threads,
            walked.as_secs_f64(),
            elapsed.as_secs_f64()
        );
    } else {
        println!("files        {}", totals.files);
        println!("lines        {}", totals.lines);
        println!("bytes        {}", totals.bytes);
        println!("captures     {}", totals.captures);
        println!("error_files  {} (tree has an ERROR/MISSING node)", totals.error_files);
        if totals.unreadable + totals.unparsed > 0 {
            println!("unreadable   {}", totals.unreadable);
            println!("unparsed     {}", totals.unparsed);
        }
        println!("threads      {threads}");
        println!("walk         {:.3}s", walked.as_secs_f64());
        println!("elapsed      {:.3}s", elapsed.as_secs_f64());
    }
    if totals.unreadable + totals.unparsed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// Lines as `wc -l` counts them, plus one for a final line without a newline (matches corpus.sh).
fn bytecount_lines(src: &[u8]) -> u64 {
    let nl = src.iter().filter(|&&b| b == b'\n').count() as u64;
    nl + u64::from(!src.is_empty() && !src.ends_with(b"\n"))
}
