//! The analysis side of `bench/lsp_bench.py`'s typing scenarios, without the protocol: replays the
//! scenarios' edits of FILE (from `python3 bench/lsp_bench.py --dump-edits FILE REPEAT > EDITS`) through
//! `analysis::reanalyze_edit` as the server does (a whole-file analysis when it refuses, or after a
//! parse with errors), timing each edit in the thread's CPU time (wall time on a loaded machine counts
//! the time slices other processes took), and prints p50/p99/max per scenario. With `-v`, each edit's
//! time and the line it leaves. With `--check`, each edit analysed alone is also compared (untimed) with
//! a fresh analysis of the new text (`analyze_with_broken` while something is left broken), and the
//! first difference stops the run.
//!
//! ```text
//! python3 bench/lsp_bench.py --dump-edits FILE 2 > /tmp/edits
//! cargo run --release -p loopsafe --example replay_edits -- FILE /tmp/edits [-v] [--check]
//! ```

use loopsafe::analysis::{self, shift::LineEdit};
use loopsafe::{catalog::Catalog, settings::Settings, syntax};

/// The calling thread's CPU time, in ms.
fn cpu_ms() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 / 1e6
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(path), Some(edits)) = (args.first(), args.get(1)) else {
        eprintln!("usage: replay_edits FILE EDITS [-v] [--check]");
        std::process::exit(2);
    };
    let verbose = args[2..].iter().any(|a| a == "-v");
    let check = args[2..].iter().any(|a| a == "--check");
    let edits = std::fs::read_to_string(edits).expect("readable edits");
    let mut text = std::fs::read_to_string(path).expect("readable file");
    let (catalog, settings) = (Catalog::bundled(), Settings::default());
    let tree = syntax::parse(&text, None).expect("parsed");
    let mut clean = !tree.root_node().has_error();
    let (mut facts, mut analysis) = analysis::analyze_tree(&text, &tree, catalog, &settings);
    // (scenario, CPU ms per edit, edits analysed with the whole file)
    let mut per: Vec<(String, Vec<f64>, usize)> = Vec::new();
    for l in edits.lines() {
        let fields: Vec<&str> = l.splitn(4, '\t').collect();
        let [name, start, removed, inserted] = fields[..] else { panic!("not an edit: {l}") };
        let (start, removed): (usize, usize) = (start.parse().expect("offset"), removed.parse().expect("length"));
        let inserted: String = serde_json::from_str(inserted).expect("JSON string");
        let old = text.clone();
        text.replace_range(start..start + removed, &inserted);
        let edit = LineEdit::between(&old, &text, start, start + removed, start + inserted.len());
        let t = cpu_ms();
        let local = clean && {
            match analysis::reanalyze_edit(&mut facts, &analysis, &text, &edit, catalog, &settings) {
                Ok(a) => {
                    analysis = a;
                    true
                }
                Err(_) => false,
            }
        };
        if !local {
            let tree = syntax::parse(&text, None).expect("parsed");
            clean = !tree.root_node().has_error();
            (facts, analysis) = analysis::analyze_tree(&text, &tree, catalog, &settings);
        }
        let ms = cpu_ms() - t;
        if check && local {
            let expected = if facts.broken.is_empty() && facts.broken_statement.is_none() {
                let tree = syntax::parse(&text, None).expect("parsed");
                assert!(!tree.root_node().has_error(), "{name}: analysed alone as valid, but has errors");
                analysis::analyze_tree(&text, &tree, catalog, &settings).1
            } else {
                analysis::analyze_with_broken(&text, &facts.broken, facts.broken_statement.clone(), catalog, &settings)
                    .expect("broken parts placed")
                    .1
            };
            if analysis != expected {
                let (ls, le) = (text[..start].rfind('\n').map_or(0, |i| i + 1), text[start..].find('\n'));
                let line = &text[ls..le.map_or(text.len(), |i| start + i)];
                eprintln!("{name}: the analysis differs from the reference after {line:?}");
                eprintln!("local:     {:?}\nreference: {:?}", analysis.findings.len(), expected.findings.len());
                for f in analysis.findings.iter().filter(|f| !expected.findings.contains(f)) {
                    eprintln!("  only local: {} {:?} at {}", f.rule, f.callee, f.range.start);
                }
                for f in expected.findings.iter().filter(|f| !analysis.findings.contains(f)) {
                    eprintln!("  only reference: {} {:?} at {}", f.rule, f.callee, f.range.start);
                }
                if analysis.summary != expected.summary {
                    eprintln!("  summaries differ");
                }
                if analysis.cuts != expected.cuts {
                    eprintln!("  cuts differ");
                }
                std::process::exit(1);
            }
        }
        if verbose {
            let from = text[..start].rfind('\n').map_or(0, |i| i + 1);
            let to = text[start..].find('\n').map_or(text.len(), |i| start + i);
            println!("{name}: {ms:.3} ms{} {:?}", if local { "" } else { " (whole file)" }, &text[from..to]);
        }
        if per.last().is_none_or(|p| p.0 != name) {
            per.push((name.to_string(), Vec::new(), 0));
        }
        let p = per.last_mut().expect("pushed");
        p.1.push(ms);
        p.2 += usize::from(!local);
    }
    for (name, mut times, whole) in per {
        times.sort_by(|a, b| a.total_cmp(b));
        let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
        println!(
            "{name:40} {:4} edits: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms; {whole} analysed with the whole file",
            times.len(),
            pct(0.5),
            pct(0.99),
            pct(1.0)
        );
    }
}
