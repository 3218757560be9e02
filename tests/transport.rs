//! The language server's transport under hostile input, driven through the real binary over pipes: a
//! message that does not decode gets the JSON-RPC error the specification gives and the session goes
//! on; a wrong `Content-Length` costs one message; lone surrogates keep the text in step; `exit` and
//! `$/` requests follow the specification.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Long enough that only a hang fails a test.
const WAIT: Duration = Duration::from_secs(60);

const ROUTE: &str = "import time\n\n\nasync def handler():\n    time.sleep(1)\n";

fn frame(body: &[u8]) -> Vec<u8> {
    [format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes(), body].concat()
}

struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    messages: Receiver<Value>,
    inbox: Vec<Value>,
    stderr: Arc<Mutex<String>>,
    next_id: i64,
    _dir: tempfile::TempDir,
}

impl Session {
    /// The server, initialised with pull diagnostics.
    fn start() -> Session {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_loopsafe"))
            .arg("server")
            .current_dir(dir.path())
            .env("LOOPSAFE_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let stdout = child.stdout.take().unwrap();
        let (tx, messages) = channel();
        std::thread::spawn(move || {
            let mut out = BufReader::new(stdout);
            while let Some(msg) = read_message(&mut out) {
                if tx.send(msg).is_err() {
                    return;
                }
            }
        });
        // Drained, so that the server never blocks on a full stderr pipe.
        let stderr = Arc::new(Mutex::new(String::new()));
        let (mut err, log) = (child.stderr.take().unwrap(), stderr.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    return;
                }
                log.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let stdin = child.stdin.take();
        let mut s = Session { child, stdin, messages, inbox: Vec::new(), stderr, next_id: 1, _dir: dir };
        let init = s.request("initialize", json!({ "capabilities": { "textDocument": { "diagnostic": {} } } }));
        assert!(init["result"]["capabilities"].is_object(), "{init}");
        s.notify("initialized", json!({}));
        s
    }

    fn raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    fn send(&mut self, msg: Value) {
        self.raw(&frame(msg.to_string().as_bytes()));
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// Sends a request and waits for its response.
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        self.wait_for(|m| m.get("method").is_none() && m["id"] == id)
    }

    /// The first message (received or coming) that `want` accepts.
    fn wait_for(&mut self, want: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.inbox.iter().position(&want) {
            return self.inbox.remove(i);
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                Ok(m) if want(&m) => return m,
                Ok(m) => self.inbox.push(m),
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no answer in time; received {:#?}\nlog:\n{}", self.inbox, self.log())
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("the server ended; received {:#?}\nlog:\n{}", self.inbox, self.log())
                }
            }
        }
    }

    /// The next error response that answers no request of this session (the guard's answers).
    fn next_rejection(&mut self) -> Value {
        let last = self.next_id;
        self.wait_for(|m| {
            m.get("method").is_none()
                && m.get("error").is_some()
                && !(m["id"].is_i64() && m["id"].as_i64() < Some(last))
        })
    }

    /// Checks that the server still answers: a request of its own.
    fn still_answers(&mut self) {
        let r =
            self.request("textDocument/diagnostic", json!({ "textDocument": { "uri": "file:///nowhere/none.py" } }));
        assert!(r.get("result").is_some() || r.get("error").is_some(), "{r}");
    }

    fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Closes stdin and waits for the exit status.
    fn end(mut self) -> Option<i32> {
        drop(self.stdin.take());
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the server did not end; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Reads one message; `None` at the end of output. The output carries nothing else.
fn read_message(from: &mut impl BufRead) -> Option<Value> {
    let mut len = None;
    loop {
        let mut line = String::new();
        if from.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() && len.is_some() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap_or_else(|| panic!("not a header line: {line:?}"));
        assert!(name.eq_ignore_ascii_case("content-length"), "stdout carries only the protocol: {line}");
        len = Some(value.trim().parse::<usize>().unwrap());
    }
    let mut body = vec![0; len.unwrap()];
    from.read_exact(&mut body).ok()?;
    Some(serde_json::from_slice(&body).unwrap_or_else(|e| panic!("a body that is not JSON ({e})")))
}

#[test]
fn bodies_that_are_not_json_rpc_get_the_specified_errors_and_the_session_goes_on() {
    let mut s = Session::start();
    let cases: &[(&str, i64, Value)] = &[
        ("{ not json", -32700, Value::Null),
        ("{}", -32600, Value::Null),
        (r#"{"jsonrpc":"2.0","id":1.5,"method":"shutdown"}"#, -32600, Value::Null),
        (r#"{"jsonrpc":"2.0","id":101,"method":5}"#, -32600, json!(101)),
        (r#"{"id":102,"method":"textDocument/hover","params":{}}"#, -32600, json!(102)),
        (r#"{"jsonrpc":"2.0","id":"s","method":"textDocument/hover","params":3}"#, -32600, json!("s")),
        (r#"[{"jsonrpc":"2.0","id":103,"method":"shutdown"}]"#, -32600, Value::Null),
        ("42", -32600, Value::Null),
        (r#"{"jsonrpc":"2.0","id":104,"result":1,"error":{"code":1,"message":"m"}}"#, -32600, Value::Null),
    ];
    for (body, code, id) in cases {
        s.raw(&frame(body.as_bytes()));
        s.still_answers();
        let e = s.next_rejection();
        assert_eq!(e["error"]["code"], *code, "{body}: {e}");
        assert_eq!(e["id"], *id, "{body}: {e}");
        assert_eq!(e["jsonrpc"], "2.0");
    }
    // A shutdown sent as a batch was not run: the server still analyses.
    s.still_answers();
    assert_eq!(s.request("shutdown", Value::Null)["result"], Value::Null);
    s.notify("exit", Value::Null);
    assert_eq!(s.end(), Some(0));
}

#[test]
fn hostile_headers_and_garbage_cost_one_message_at_most() {
    let mut s = Session::start();
    let hover = br#"{"jsonrpc":"2.0","id":900,"method":"textDocument/hover","params":{"textDocument":{"uri":"file:///x.py"},"position":{"line":0,"character":0}}}"#;
    let huge_line = [b"Content-Type: ".as_slice(), &vec![b'a'; 4 << 20], b"\r\n"].concat();
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        (
            "a header line with a non-UTF-8 byte",
            [b"Content-Type: \xff\xfe\r\n".as_slice(), &frame(hover)].concat(),
            true,
        ),
        ("no Content-Length", [b"Content-Type: x\r\n\r\n".as_slice(), hover].concat(), true),
        ("a length over the maximum", [b"Content-Length: 1099511627776\r\n\r\n".as_slice(), hover].concat(), true),
        ("a negative length", [b"Content-Length: -12\r\n\r\n".as_slice(), hover].concat(), true),
        ("a non-numeric length", [b"Content-Length: twelve\r\n\r\n".as_slice(), hover].concat(), true),
        ("an empty body", b"Content-Length: 0\r\n\r\n".to_vec(), true),
        ("garbage between messages", b"\x00\xffnot a header at all\r\n\r\n}}}".to_vec(), false),
        ("a 4 MB header line", huge_line, true),
    ];
    for (what, bytes, answered) in cases {
        s.raw(&bytes);
        s.still_answers();
        if answered {
            let e = s.next_rejection();
            assert_eq!(e["error"]["code"], -32700, "{what}: {e}");
            assert_eq!(e["id"], Value::Null, "{what}: {e}");
        }
    }
    // The hover inside the malformed messages was never run.
    assert!(s.inbox.iter().all(|m| m["id"] != 900), "{:?}", s.inbox);
    // Logged to the client (window/logMessage) once it is initialized, else on stderr.
    let told = |m: &Value| {
        m["method"] == "window/logMessage"
            && m["params"]["message"].as_str().is_some_and(|t| t.contains("rejected a message"))
    };
    assert!(s.log().contains("rejected a message") || s.inbox.iter().any(told), "{}", s.log());
    // A message cut by the end of input, after `shutdown`: the server ends normally.
    assert_eq!(s.request("shutdown", Value::Null)["result"], Value::Null);
    s.raw(&frame(hover)[..40]);
    assert_eq!(s.end(), Some(0));
}

#[test]
fn a_content_length_off_by_one_costs_only_that_message() {
    let mut s = Session::start();
    let uri = "file:///nowhere/app.py";
    s.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "python", "version": 1, "text": ROUTE } }),
    );
    let diagnostics = |s: &mut Session| {
        let r = s.request("textDocument/diagnostic", json!({ "textDocument": { "uri": uri } }));
        r["result"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["range"]["start"]["line"].as_u64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(diagnostics(&mut s), [4]);
    // A client counting characters, not bytes: "é" is one character and two bytes.
    let change = |version: i32| {
        json!({ "jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
            "textDocument": { "uri": uri, "version": version },
            "contentChanges": [{ "range": { "start": { "line": 0, "character": 0 }, "end": { "line": 0, "character": 0 } },
                "text": "# é\n" }] } })
        .to_string()
    };
    for (version, delta) in [(2, -1i64), (3, 1), (4, -3), (5, 7)] {
        let body = change(version);
        let chars = body.chars().count() as i64;
        assert_eq!(chars + 1, body.len() as i64);
        let declared = body.len() as i64 + delta;
        s.raw(format!("Content-Length: {declared}\r\n\r\n{body}").as_bytes());
        // The next request is answered without anything else sent after it.
        s.still_answers();
        let e = s.next_rejection();
        assert_eq!(e["error"]["code"], -32700, "{delta}: {e}");
        // Every later message too, and the broken edit was not applied.
        for _ in 0..3 {
            s.still_answers();
        }
        assert_eq!(diagnostics(&mut s), [4], "{delta}");
    }
    // A correct edit still applies.
    s.send(serde_json::from_str(&change(6)).unwrap());
    assert_eq!(diagnostics(&mut s), [5]);
}

#[test]
fn a_lone_surrogate_is_decoded_lossily_and_positions_stay_in_step() {
    let mut s = Session::start();
    let uri = "file:///nowhere/app.py";
    s.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "python", "version": 1, "text": ROUTE } }),
    );
    let diagnostics = |s: &mut Session| {
        let r = s.request("textDocument/diagnostic", json!({ "textDocument": { "uri": uri } }));
        r["result"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (d["range"]["start"]["line"].as_u64().unwrap(), d["range"]["start"]["character"].as_u64().unwrap())
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(diagnostics(&mut s), [(4, 4)]);
    // Half an emoji typed (VS Code sends the lone high surrogate as a JSON escape), on a new first line
    // and before the call. serde_json cannot produce that escape, so the body is written by hand.
    let change = |version: i32, range: [u32; 4], text: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","method":"textDocument/didChange","params":{{"textDocument":{{"uri":"{uri}","version":{version}}},"contentChanges":[{{"range":{{"start":{{"line":{},"character":{}}},"end":{{"line":{},"character":{}}}}},"text":"{text}"}}]}}}}"#,
            range[0], range[1], range[2], range[3]
        )
    };
    s.raw(&frame(change(2, [0, 0, 0, 0], r"# \ud83d\n").as_bytes()));
    assert_eq!(diagnostics(&mut s), [(5, 4)], "the edit applied: one line more");
    s.raw(&frame(change(3, [5, 4, 5, 4], r#"\"\ud83d\"; "#).as_bytes()));
    // `"` + one UTF-16 unit + `"; ` before the call.
    assert_eq!(diagnostics(&mut s), [(5, 9)]);
    // Edits after the surrogate, in the editor's positions: delete those five units, then the first line
    // (its surrogate included) through the start of the next.
    s.raw(&frame(change(4, [5, 4, 5, 9], "").as_bytes()));
    assert_eq!(diagnostics(&mut s), [(5, 4)]);
    s.raw(&frame(change(5, [0, 0, 1, 0], "").as_bytes()));
    assert_eq!(diagnostics(&mut s), [(4, 4)]);
    // A proper pair is untouched: one emoji, two units.
    s.raw(&frame(change(6, [4, 4, 4, 4], r#"\"\ud83d\ude00\"; "#).as_bytes()));
    assert_eq!(diagnostics(&mut s), [(4, 10)]);
    assert_eq!(s.end(), Some(1), "the end of input without shutdown");
}

#[test]
fn exit_without_shutdown_is_status_1_and_after_it_0() {
    let mut s = Session::start();
    s.notify("exit", Value::Null);
    assert_eq!(s.end(), Some(1));

    let mut s = Session::start();
    assert_eq!(s.request("shutdown", Value::Null)["result"], Value::Null);
    s.notify("exit", Value::Null);
    assert_eq!(s.end(), Some(0));

    // `shutdown` and `exit` in one write, without waiting for the answer: still 0.
    let mut s = Session::start();
    let both =
        [frame(br#"{"jsonrpc":"2.0","id":50,"method":"shutdown"}"#), frame(br#"{"jsonrpc":"2.0","method":"exit"}"#)]
            .concat();
    s.raw(&both);
    assert_eq!(s.end(), Some(0));

    // `exit` ends the server even when the client keeps its input open.
    let mut s = Session::start();
    s.notify("exit", Value::Null);
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = s.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server did not end at `exit`");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(1));
}

#[test]
fn dollar_requests_get_method_not_found_and_dollar_notifications_are_ignored() {
    let mut s = Session::start();
    s.notify("$/unknownNotification", json!({}));
    let r = s.request("$/unknown", json!({}));
    assert_eq!(r["error"]["code"], -32601, "{r}");
    assert_eq!(r["error"]["data"], "$/unknown", "{r}");
    let r = s.request("$/alsoUnknown", Value::Null);
    assert_eq!(r["error"]["code"], -32601, "{r}");
    // Non-`$/` unknown requests keep tower-lsp's answer.
    assert_eq!(s.request("loopsafe/unknown", json!({}))["error"]["code"], -32601);
    // Nothing answered the notification.
    s.still_answers();
    assert!(s.inbox.iter().all(|m| m.get("error").is_none()), "{:?}", s.inbox);
    assert_eq!(s.request("shutdown", Value::Null)["result"], Value::Null);
    s.notify("exit", Value::Null);
    assert_eq!(s.end(), Some(0));
}

/// Pulls wait for their document's analysis (up to 2 s), more of them than tower-lsp handles at once
/// (`input::IN_FLIGHT`), some cancelled, an edit among them: each is answered exactly once (a
/// cancelled one with its result or -32800), a pull sent after the edit with the edited version's
/// diagnostics, and a hover sent after them all is answered too.
#[test]
fn waiting_pulls_are_answered_once_each() {
    let mut s = Session::start();
    let uri = "file:///nowhere/big.py";
    // Over 64 KiB: its analysis is a job, which the pulls wait for.
    let filler: String = (0..2500).map(|i| format!("def f{i}(x):\n    return x + {i}\n\n\n")).collect();
    let text = format!("{ROUTE}\n\n{filler}");
    assert!(text.len() > 64 << 10);
    s.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "python", "version": 1, "text": text } }),
    );
    let first = s.next_id;
    let mut cancelled = Vec::new();
    for i in 0..150 {
        let id = s.next_id;
        s.next_id += 1;
        s.send(json!({ "jsonrpc": "2.0", "id": id, "method": "textDocument/diagnostic",
            "params": { "textDocument": { "uri": uri } } }));
        if i % 10 == 3 {
            s.notify("$/cancelRequest", json!({ "id": id }));
            cancelled.push(id);
        }
        if i == 70 {
            // An edit in the middle of them: the later pulls wait for the new version.
            s.notify(
                "textDocument/didChange",
                json!({ "textDocument": { "uri": uri, "version": 2 }, "contentChanges": [{
                    "range": { "start": { "line": 0, "character": 0 }, "end": { "line": 0, "character": 0 } },
                    "text": "# edited\n" }] }),
            );
        }
    }
    let hover = s.next_id;
    s.next_id += 1;
    s.send(json!({ "jsonrpc": "2.0", "id": hover, "method": "textDocument/hover",
        "params": { "textDocument": { "uri": uri }, "position": { "line": 5, "character": 6 } } }));
    let last = s.next_id;
    let mut answers = std::collections::BTreeMap::new();
    while answers.len() < (last - first) as usize {
        let m = s.wait_for(|m| m.get("method").is_none() && m["id"].is_i64());
        let id = m["id"].as_i64().unwrap();
        assert!(answers.insert(id, m).is_none(), "request {id} answered twice");
    }
    for (id, m) in &answers {
        if *id == hover {
            // Answered from the diagnostics published last (maybe version 1's: nothing at this position).
            assert!(m.get("result").is_some(), "{m}");
        } else if let Some(items) = m["result"]["items"].as_array() {
            // Version 1's call is on line 4, version 2's on line 5.
            let lines: Vec<u64> = items.iter().map(|d| d["range"]["start"]["line"].as_u64().unwrap()).collect();
            assert!(lines == [4] || lines == [5], "{id}: {m}");
            if *id > first + 71 {
                assert_eq!(lines, [5], "a pull sent after the edit has its diagnostics: {m}");
            }
        } else {
            // Cancelled (-32800), or the analysis took over 2 s (ServerCancelled, -32802).
            let code = m["error"]["code"].as_i64();
            assert!(code == Some(-32802) || (code == Some(-32800) && cancelled.contains(id)), "{id}: {m}");
        }
    }
    // Nothing answered twice after all: a last request, then no stray answers.
    s.still_answers();
    assert!(s.inbox.iter().all(|m| !(m["id"].is_i64() && m["id"].as_i64() < Some(last))), "{:?}", s.inbox);
    assert_eq!(s.request("shutdown", Value::Null)["result"], Value::Null);
    s.notify("exit", Value::Null);
    assert_eq!(s.end(), Some(0));
}
