//! How `loopsafe check` scales with input size on the shapes that used to be super-linear: prints the
//! median time of a whole check (walk, analysis, project linking and JSON rendering, without fixes)
//! for N, 2N and 4N, so that linear growth (about ×2 per step) is visible.
//!
//! ```text
//! cargo run --release -p loopsafe --example scaling -- [CASE] [N] [RUNS]
//! ```
//!
//! CASE is one of `calls` (`g(g(g(...)))` N deep), `attrs` (`a.b.b.b...` N links), `chains` (N
//! coroutines each reaching an N-deep helper chain), `packages` (an N-level package tree), `nesting`
//! (N nested `if` blocks), `stars` (N modules star-importing the previous one) or `all` (the
//! default, each with its own default N). RUNS defaults to 3.

use std::path::{Path, PathBuf};
use std::time::Instant;

use loopsafe::catalog::Catalog;
use loopsafe::check::{self, CheckOptions};
use loopsafe::output;
use loopsafe::settings::Settings;

/// Writes the input of `case` for size `n` under `dir`; returns the path to check.
fn generate(case: &str, n: usize, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).expect("temp dir");
    std::fs::write(dir.join("pyproject.toml"), "[project]\nname = \"scaling\"\n").expect("write");
    let write = |rel: &str, text: &str| {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().expect("has a parent")).expect("dirs");
        std::fs::write(p, text).expect("write");
    };
    match case {
        "calls" => {
            let text = format!(
                "import time\n\n\nasync def f(x):\n    return {}time.sleep(x){}\n",
                "g(".repeat(n),
                ")".repeat(n)
            );
            write("calls.py", &text);
        }
        "attrs" => {
            let text = format!("import time\n\n\nasync def f(a):\n    a{}.c()\n    time.sleep(1)\n", ".b".repeat(n));
            write("attrs.py", &text);
        }
        "chains" => {
            let mut helpers = String::from("import time\n\n\n");
            for i in 0..n {
                helpers.push_str(&format!("def h{i}():\n    h{}()\n\n\n", i + 1));
            }
            helpers.push_str(&format!("def h{n}():\n    time.sleep(1)\n"));
            write("helpers.py", &helpers);
            let mut api = String::from("from helpers import h0\n\n\n");
            for i in 0..n {
                api.push_str(&format!("async def c{i}():\n    h0()\n\n\n"));
            }
            write("api.py", &api);
        }
        "packages" => {
            // Short directory names: a path may not be longer than 4 KiB.
            let mut rel = String::new();
            for i in 0..n {
                rel.push_str("d/");
                let import = if i + 1 == n { "from .m import leaf\n" } else { "from .d import leaf\n" };
                write(&format!("{rel}__init__.py"), import);
            }
            write(&format!("{rel}m.py"), "import time\n\n\ndef leaf():\n    time.sleep(1)\n");
            write("app.py", "from d import leaf\n\n\nasync def main():\n    leaf()\n");
        }
        "nesting" => {
            let mut text = String::from("import time\n\n\nasync def f(x):\n");
            for i in 0..n {
                text.push_str(&" ".repeat(4 + i));
                text.push_str("if x:\n");
            }
            text.push_str(&" ".repeat(4 + n));
            text.push_str("time.sleep(1)\n");
            write("nesting.py", &text);
        }
        "stars" => {
            write("m0.py", "import time\n\n\ndef leaf():\n    time.sleep(1)\n");
            for i in 1..n {
                write(&format!("m{i}.py"), &format!("from m{} import *\n", i - 1));
            }
            write("app.py", &format!("from m{} import *\n\n\nasync def main():\n    leaf()\n", n - 1));
        }
        other => panic!("unknown case `{other}`"),
    }
    dir.to_path_buf()
}

/// One whole check of `path` with its JSON rendering; returns the seconds it took and the number of
/// findings.
fn run(path: &Path) -> (f64, usize) {
    let settings = Settings::default();
    let paths = [path.to_path_buf()];
    let opts = CheckOptions { paths: &paths, settings: &settings, root: Some(path), follow: true, cache_dir: None };
    let start = Instant::now();
    let report = check::check(&opts, Catalog::bundled()).expect("check runs");
    let json = output::json(&report.diagnostics);
    let t = start.elapsed().as_secs_f64();
    std::hint::black_box(json);
    (t, report.diagnostics.len())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let case = args.next().unwrap_or_else(|| "all".into());
    let n: Option<usize> = args.next().and_then(|a| a.parse().ok());
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3).max(1);
    let defaults =
        [("calls", 25_000), ("attrs", 25_000), ("chains", 500), ("packages", 250), ("nesting", 2_500), ("stars", 500)];
    let cases: Vec<(&str, usize)> = match case.as_str() {
        "all" => defaults.iter().map(|&(c, d)| (c, n.unwrap_or(d))).collect(),
        c => vec![(
            defaults.iter().find(|(d, _)| *d == c).map(|(d, _)| *d).unwrap_or_else(|| panic!("unknown case `{c}`")),
            n.unwrap_or_else(|| defaults.iter().find(|(d, _)| *d == c).map_or(1000, |(_, n)| *n)),
        )],
    };
    let base = std::env::temp_dir().join(format!("loopsafe-scaling-{}", std::process::id()));
    for (case, n) in cases {
        let mut line = format!("{case:<9}");
        for k in [1, 2, 4] {
            let size = n * k;
            let dir = base.join(format!("{case}-{size}"));
            let path = generate(case, size, &dir);
            let mut times = Vec::with_capacity(runs);
            let mut found = 0;
            for _ in 0..runs {
                let (t, f) = run(&path);
                times.push(t);
                found = f;
            }
            line.push_str(&format!("  N={size:<7} {:>8.3}s ({found} findings)", median(times)));
            let _ = std::fs::remove_dir_all(&dir);
        }
        println!("{line}");
    }
    let _ = std::fs::remove_dir_all(&base);
}
