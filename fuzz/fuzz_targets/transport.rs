//! The language server's transport framer (`loopsafe::lsp::framing`) on arbitrary bytes:
//! `cargo +nightly fuzz run transport`. It must not panic, must hold bounded memory, must give the same
//! events however the input is split into chunks, and everything it hands to tower-lsp must be a
//! message tower-lsp decodes (its reader ends the session at the first one it cannot), everything it
//! answers a JSON-RPC error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loopsafe::lsp::framing::{Event, Framer, INVALID_REQUEST, MAX_HEADER_LINE, PARSE_ERROR};
use serde_json::Value;

/// Small, so that the fuzzer reaches the length limit.
const MAX: usize = 1 << 12;

fuzz_target!(|data: &[u8]| {
    // The first byte chooses the chunk sizes.
    let (seed, input) = data.split_first().map_or((0, data), |(s, rest)| (*s, rest));
    let whole = run(input, &[input.len().max(1)]);
    let chunked = run(input, &[1 + (seed & 7) as usize, 1 + (seed >> 3) as usize]);
    assert_eq!(whole, chunked);
    for event in &whole {
        check(event);
    }
});

fn run(input: &[u8], sizes: &[usize]) -> Vec<Event> {
    let mut framer = Framer::new(MAX);
    let mut events = Vec::new();
    let (mut at, mut k) = (0, 0);
    while at < input.len() {
        let n = sizes[k % sizes.len()].min(input.len() - at);
        framer.push(&input[at..at + n]);
        events.extend(std::iter::from_fn(|| framer.next_event()));
        assert!(framer.buffered() <= MAX.max(MAX_HEADER_LINE), "{} bytes held", framer.buffered());
        at += n;
        k += 1;
    }
    events.extend(framer.finish());
    events
}

fn check(event: &Event) {
    match event {
        Event::Message { body, .. } => {
            #[derive(serde::Deserialize)]
            #[serde(untagged)]
            #[allow(dead_code)]
            enum Message {
                Response(tower_lsp_server::jsonrpc::Response),
                Request(tower_lsp_server::jsonrpc::Request),
            }
            let text = std::str::from_utf8(body).expect("a message is UTF-8");
            if let Err(e) = serde_json::from_str::<Message>(text) {
                panic!("tower-lsp cannot decode {text:?}: {e}");
            }
        }
        Event::Reply { response, code, .. } => {
            let v: Value = serde_json::from_slice(response).expect("a reply is JSON");
            assert!(*code == PARSE_ERROR || *code == INVALID_REQUEST);
            assert_eq!(v["error"]["code"], *code);
            assert_eq!(v["jsonrpc"], "2.0");
            assert!(v["id"].is_null() || v["id"].is_i64() || v["id"].is_string());
        }
        Event::Skipped(n) => assert!(*n > 0),
    }
}
