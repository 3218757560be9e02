//! The cost of the transport's guard (`lsp::framing`) per message: a 20 MB `didOpen` (a Python file
//! with escapes in every line, as JSON gives them) and a small `didChange`, framed from 64 KiB reads,
//! beside the cost of building them as `serde_json::Value`s from a `str` (what tower-lsp does with
//! every message anyway). Prints medians.
//!
//! ```text
//! cargo run --release -p loopsafe --example framing
//! ```

use std::time::{Duration, Instant};

use loopsafe::lsp::framing::{Event, Framer};

// The server's allocator: the system one hands back a large buffer's pages and faults them in again.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn frame(body: &str) -> Vec<u8> {
    format!("Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

fn main() {
    let mut text = String::from("import time\n\n\nasync def handler():\n");
    while text.len() < 20 << 20 {
        text.push_str("    time.sleep(1)  # \"quoted\" \\ and tab\there, é and 😀\n");
    }
    let open = serde_json::json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument":
        {"uri": "file:///big.py", "languageId": "python", "version": 1, "text": text}}})
    .to_string();
    let change = serde_json::json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
        "textDocument": {"uri": "file:///big.py", "version": 2},
        "contentChanges": [{"range": {"start": {"line": 4, "character": 4}, "end": {"line": 4, "character": 4}}, "text": "x"}]}})
    .to_string();
    for (name, body, runs) in [("didOpen 20 MB", &open, 9), ("didChange", &change, 20_001)] {
        let bytes = frame(body);
        let guard = median(
            (0..runs)
                .map(|_| {
                    let start = Instant::now();
                    let mut framer = Framer::default();
                    let mut got = 0;
                    for chunk in bytes.chunks(64 << 10) {
                        framer.push(chunk);
                        while let Some(e) = framer.next_event() {
                            assert!(matches!(e, Event::Message { .. }));
                            got += 1;
                        }
                    }
                    assert_eq!(got, 1);
                    start.elapsed()
                })
                .collect(),
        );
        let value = median(
            (0..runs)
                .map(|_| {
                    let start = Instant::now();
                    let v: serde_json::Value = serde_json::from_str(body).unwrap();
                    std::hint::black_box(v);
                    start.elapsed()
                })
                .collect(),
        );
        println!(
            "{name:<14} {:>9} bytes: framing and checking {guard:>10.2?}, as a serde_json::Value {value:>10.2?}",
            body.len()
        );
    }
}
