//! The analysis side of the language server's edit latency, without the protocol: opens FILE, types
//! N one-character edits at the end of the first assigned name in a function body (as
//! `bench/lsp_bench.py` does), analyses each with `analysis::reanalyze_edit`, checks the result against
//! a fresh analysis of the final text, and prints p50/p99.
//!
//! ```text
//! cargo run --release -p loopsafe --example edit_latency -- FILE [N]
//! ```

use std::time::Instant;

use loopsafe::analysis::{self, shift::LineEdit};
use loopsafe::{catalog::Catalog, settings::Settings, syntax};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: edit_latency FILE [N]");
        std::process::exit(2);
    };
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let mut text = std::fs::read_to_string(&path).expect("readable file");
    let (catalog, settings) = (Catalog::bundled(), Settings::default());
    let tree = syntax::parse(&text, None).expect("parsed");
    let (mut facts, mut analysis) = analysis::analyze_tree(&text, &tree, catalog, &settings);
    let mut offset = 0;
    let mut place = None;
    for (line, l) in text.lines().enumerate() {
        let name_len = l.strip_prefix("        ").and_then(|rest| {
            let name = rest.split(" = ").next().filter(|_| rest.contains(" = "))?;
            name.chars().all(|c| c.is_alphanumeric() || c == '_').then_some(name.len())
        });
        if let Some(len) = name_len.filter(|&len| len > 0) {
            place = Some((line as u32, offset + 8 + len));
            break;
        }
        offset += l.len() + 1;
    }
    let (line, at) = place.expect("an assignment in a function body");
    let mut times = Vec::with_capacity(n);
    let mut whole = 0;
    for i in 0..n {
        let (old_end, new_end, d) = if i % 2 == 0 { (at, at + 1, 1) } else { (at + 1, at, -1) };
        text.replace_range(at..old_end, if i % 2 == 0 { "x" } else { "" });
        let edit = LineEdit { start: at, old_end, new_end, line, lines: 0, chars: d, utf16: d, utf8: d, blank: d > 0 };
        let t = Instant::now();
        match analysis::reanalyze_edit(&mut facts, &analysis, &text, &edit, catalog, &settings) {
            Ok(a) => analysis = a,
            Err(_) => {
                whole += 1;
                let tree = syntax::parse(&text, None).expect("parsed");
                (facts, analysis) = analysis::analyze_tree(&text, &tree, catalog, &settings);
            }
        }
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let tree = syntax::parse(&text, None).expect("parsed");
    assert!(analysis::analyze_tree(&text, &tree, catalog, &settings).1 == analysis, "differs from a fresh analysis");
    times.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    println!(
        "{n} edits at line {} of {path}: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms; {whole} analysed with the whole file",
        line + 1,
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
}
