//! The guard's order, over the real binary: it reads the client's input as it arrives and hands it
//! on with requests first, so that a request overtakes other documents' queued messages, never its own
//! document's nor an earlier global one; a cancel of a request it still holds is answered by the guard.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Long enough that only a hang fails a test.
const WAIT: Duration = Duration::from_secs(60);

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
    /// The server, initialised with pull diagnostics (`pull`) or pushed ones.
    fn start(pull: bool) -> Session {
        let dir = tempfile::tempdir().unwrap();
        let timing = dir.path().join("timing.log");
        // LOOPSAFE_OVERTAKE_BIN: another build to compare with (these tests fail with one whose
        // transport handles messages in arrival order).
        let bin = std::env::var("LOOPSAFE_OVERTAKE_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_loopsafe").into());
        let mut child = Command::new(bin)
            .arg("server")
            .current_dir(dir.path())
            .env("LOOPSAFE_LOG", "warn")
            .env("LOOPSAFE_LSP_TIMING", &timing)
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
        let caps = if pull { json!({ "textDocument": { "diagnostic": {} } }) } else { json!({}) };
        let init = s.request("initialize", json!({ "capabilities": caps }));
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

    /// The server's `LOOPSAFE_LSP_TIMING` lines for messages handled (`req <ms> <method> <id> ...`), in
    /// the order their handlers finished: (method, id).
    fn handled(&self) -> Vec<(String, String)> {
        let log = std::fs::read_to_string(self._dir.path().join("timing.log")).unwrap_or_default();
        log.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                (f.first() == Some(&"req") && f.len() > 3).then(|| (f[2].to_string(), f[3].to_string()))
            })
            .collect()
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

/// A document with `n` blocking calls, one coroutine each.
fn text(n: usize) -> String {
    let mut t = String::from("import time\n");
    for i in 0..n {
        t.push_str(&format!("\n\nasync def handler_{i}():\n    time.sleep(1)\n"));
    }
    t
}

fn uri(i: usize) -> String {
    format!("file:///project/doc_{i}.py")
}

fn open(s: &mut Session, i: usize, text: &str) {
    s.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri(i), "languageId": "python", "version": 1, "text": text } }),
    );
}

fn change(i: usize, version: i64, text: &str) -> Vec<u8> {
    let msg = json!({ "jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
        "textDocument": { "uri": uri(i), "version": version }, "contentChanges": [{ "text": text }] } });
    frame(msg.to_string().as_bytes())
}

fn request(id: i64, method: &str, params: Value) -> Vec<u8> {
    frame(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }).to_string().as_bytes())
}

fn is_publish(m: &Value, i: usize) -> bool {
    m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri(i)
}

/// A burst of edits to many documents, then a hover on one whose edits came first: the hover is
/// answered before any of the other documents' last edits is analysed and published (in arrival order
/// the server would handle all of them first).
#[test]
fn a_hover_overtakes_other_documents_queued_edits() {
    // Under the pipe's 64 KiB, so that the server can read it whole before handling any of it.
    const DOCS: usize = 20;
    const ROUNDS: i64 = 8;
    let mut s = Session::start(false);
    for i in 0..=DOCS {
        open(&mut s, i, &text(1));
    }
    for i in 0..=DOCS {
        let p = s.wait_for(|m| is_publish(m, i));
        assert_eq!(p["params"]["diagnostics"].as_array().map(Vec::len), Some(1), "{p}");
    }
    // Document 0 first, then rounds over the others (each round another version), then the hover.
    let mut burst = change(0, 2, &text(2));
    for version in 2..2 + ROUNDS {
        for i in 1..=DOCS {
            burst.extend(change(i, version, &text(2 + (version as usize % 3))));
        }
    }
    let hover = 1000;
    // On the first blocking call (a hover answers from the last published diagnostics).
    burst.extend(request(
        hover,
        "textDocument/hover",
        json!({ "textDocument": { "uri": uri(0) }, "position": { "line": 4, "character": 6 } }),
    ));
    s.raw(&burst);
    let last = 2 + ROUNDS - 1;
    let answer = s.wait_for(|m| m.get("method").is_none() && m["id"] == hover);
    assert!(answer["result"]["contents"]["value"].as_str().is_some_and(|v| v.contains("time.sleep")), "{answer}");
    // What arrived before the answer: no publish of another document's last version.
    let early: Vec<&Value> =
        s.inbox.iter().filter(|m| (1..=DOCS).any(|i| is_publish(m, i)) && m["params"]["version"] == last).collect();
    assert!(early.is_empty(), "published before the hover's answer: {early:#?}");
    // The server's own order: the hover was handled before most of the burst's edits (in arrival
    // order it would come after all of them).
    let handled = s.handled();
    let at = handled.iter().position(|(m, id)| m == "textDocument/hover" && id == &hover.to_string());
    let before = handled[..at.expect("the hover is in the timing log")]
        .iter()
        .rev()
        .take_while(|(m, _)| m != "textDocument/didOpen")
        .filter(|(m, _)| m == "textDocument/didChange")
        .count();
    eprintln!("didChanges handled before the hover: {before} of {}", 1 + DOCS * ROUNDS as usize);
    assert!(before < DOCS * ROUNDS as usize / 2, "{before} didChanges were handled before the hover");
    // And every document still gets its last version analysed.
    for i in 1..=DOCS {
        let p = s.wait_for(|m| is_publish(m, i) && m["params"]["version"] == last);
        let expected = 2 + (last as usize % 3);
        assert_eq!(p["params"]["diagnostics"].as_array().map(Vec::len), Some(expected), "{p}");
    }
    assert_eq!(s.end(), Some(1));
}

/// A request never overtakes its own document's earlier edits: a pull on a document edited many times
/// among other documents' edits reports its last text.
#[test]
fn a_request_waits_for_its_own_documents_edits() {
    const DOCS: usize = 10;
    let mut s = Session::start(true);
    for i in 0..DOCS {
        open(&mut s, i, &text(1));
    }
    let mut burst = Vec::new();
    for version in 2..40 {
        for i in 0..DOCS {
            burst.extend(change(i, version, &text(1 + version as usize % 4)));
        }
    }
    // The last edit of document 3 is behind all the others.
    burst.extend(change(3, 40, &text(7)));
    burst.extend(request(500, "textDocument/diagnostic", json!({ "textDocument": { "uri": uri(3) } })));
    burst.extend(request(501, "textDocument/diagnostic", json!({ "textDocument": { "uri": uri(5) } })));
    s.raw(&burst);
    let three = s.wait_for(|m| m.get("method").is_none() && m["id"] == 500);
    assert_eq!(three["result"]["items"].as_array().map(Vec::len), Some(7), "{three}");
    let five = s.wait_for(|m| m.get("method").is_none() && m["id"] == 501);
    assert_eq!(five["result"]["items"].as_array().map(Vec::len), Some(1 + 39 % 4), "{five}");
    assert_eq!(s.end(), Some(1));
}

/// A request still held by the guard (behind its document's queued edits) and then cancelled gets
/// RequestCancelled (-32800) once, and nothing else.
#[test]
fn a_cancelled_held_request_is_answered_once_with_request_cancelled() {
    let mut s = Session::start(true);
    open(&mut s, 0, &text(1));
    let mut burst = Vec::new();
    for version in 2..400 {
        burst.extend(change(0, version, &text(1 + version as usize % 5)));
    }
    let (held, after) = (700, 701);
    burst.extend(request(held, "textDocument/diagnostic", json!({ "textDocument": { "uri": uri(0) } })));
    let cancel = json!({ "jsonrpc": "2.0", "method": "$/cancelRequest", "params": { "id": held } });
    burst.extend(frame(cancel.to_string().as_bytes()));
    burst.extend(request(after, "textDocument/diagnostic", json!({ "textDocument": { "uri": uri(0) } })));
    s.raw(&burst);
    let answer = s.wait_for(|m| m.get("method").is_none() && m["id"] == held);
    assert_eq!(answer["error"]["code"], -32800, "{answer}");
    let later = s.wait_for(|m| m.get("method").is_none() && m["id"] == after);
    assert_eq!(later["result"]["items"].as_array().map(Vec::len), Some(1 + 399 % 5), "{later}");
    // Nothing else for the cancelled request, up to the end of the session.
    drop(s.stdin.take());
    while let Ok(m) = s.messages.recv_timeout(WAIT) {
        assert!(m["id"] != held || m.get("method").is_some(), "a second answer: {m}");
    }
    assert!(s.inbox.iter().all(|m| m["id"] != held || m.get("method").is_some()), "{:#?}", s.inbox);
}
