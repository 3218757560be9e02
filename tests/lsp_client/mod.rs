//! An in-process LSP client over `tokio::io::duplex`, for tests that drive `loopsafe::lsp` with real
//! JSON-RPC messages (shared by tests/lsp.rs and tests/code_actions.rs).
#![allow(dead_code)]

use std::collections::VecDeque;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream, ReadHalf, WriteHalf};
use tower_lsp_server::ls_types::Uri;

pub struct Client {
    /// The server's input, for tests that write raw (even malformed) bytes.
    pub write: WriteHalf<DuplexStream>,
    read: BufReader<ReadHalf<DuplexStream>>,
    next_id: i64,
    /// Messages received while waiting for something else, oldest first.
    pub inbox: VecDeque<Value>,
}

pub const WAIT: Duration = Duration::from_secs(20);

impl Client {
    pub async fn start(capabilities: Value, root: Option<&Path>) -> (Client, Value) {
        Client::start_as(Value::Null, capabilities, root).await
    }

    /// `start` with a `clientInfo` (`{"name": "Neovim"}`): the server adapts to some clients' quirks.
    pub async fn start_as(client_info: Value, capabilities: Value, root: Option<&Path>) -> (Client, Value) {
        let (client_io, server_io) = tokio::io::duplex(1 << 22);
        let (server_read, server_write) = tokio::io::split(server_io);
        tokio::spawn(loopsafe::lsp::serve(server_read, server_write));
        let (read, write) = tokio::io::split(client_io);
        let mut c = Client { write, read: BufReader::new(read), next_id: 1, inbox: VecDeque::new() };
        let folders = root.map(|r| json!([{ "uri": uri(r).as_str(), "name": "ws" }])).unwrap_or(Value::Null);
        let init = c
            .request(
                "initialize",
                json!({ "capabilities": capabilities, "workspaceFolders": folders, "clientInfo": client_info }),
            )
            .await;
        c.notify("initialized", json!({})).await;
        (c, init)
    }

    pub async fn send(&mut self, msg: Value) {
        let body = serde_json::to_string(&msg).unwrap();
        let frame = format!("Content-Length: {}\r\n\r\n{body}", body.len());
        self.write.write_all(frame.as_bytes()).await.unwrap();
    }

    pub async fn recv(&mut self) -> Value {
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            self.read.read_line(&mut line).await.unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(v) = line.strip_prefix("Content-Length: ") {
                len = v.parse().unwrap();
            }
        }
        let mut buf = vec![0; len];
        self.read.read_exact(&mut buf).await.unwrap();
        serde_json::from_slice(&buf).unwrap()
    }

    /// Reads the next message, answering the server's own requests (refreshes) on the way.
    pub async fn next(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(WAIT, self.recv()).await.expect("the server answered in time");
            if msg.get("method").is_some() && msg.get("id").is_some() {
                let id = msg["id"].clone();
                self.send(json!({ "jsonrpc": "2.0", "id": id, "result": null })).await;
                self.inbox.push_back(msg);
                continue;
            }
            return msg;
        }
    }

    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })).await;
        loop {
            let msg = self.next().await;
            if msg.get("id") == Some(&json!(id)) {
                return msg;
            }
            self.inbox.push_back(msg);
        }
    }

    pub async fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params })).await;
    }

    /// Waits for a `publishDiagnostics` of `uri` that satisfies `done`, and returns its diagnostics.
    pub async fn diagnostics_until(&mut self, uri: &Uri, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut seen = Vec::new();
        loop {
            let msg = match self.inbox.pop_front() {
                Some(m) => m,
                None => {
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    match tokio::time::timeout(left, self.next()).await {
                        Ok(m) => m,
                        Err(_) => panic!("no matching diagnostics for {} in time; received: {seen:#?}", uri.as_str()),
                    }
                }
            };
            if msg["method"] == "textDocument/publishDiagnostics" && msg["params"]["uri"] == uri.as_str() {
                let diags = msg["params"]["diagnostics"].as_array().unwrap().clone();
                if done(&diags) {
                    return diags;
                }
                seen.push(codes(&diags).join(" "));
            } else {
                seen.push(msg.to_string().chars().take(200).collect());
            }
        }
    }

    pub async fn open(&mut self, uri: &Uri, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri.as_str(), "languageId": "python", "version": 1, "text": text } }),
        )
        .await;
    }

    pub async fn change(&mut self, uri: &Uri, version: i32, changes: Value) {
        self.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri.as_str(), "version": version }, "contentChanges": changes }),
        )
        .await;
    }
}

/// A workspace folder with a pyproject.toml and the given files.
pub fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pyproject.toml"), "[project]\nname = \"w\"\n").unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

pub fn uri(path: &Path) -> Uri {
    Uri::from_file_path(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())).unwrap()
}

pub fn codes(diags: &[Value]) -> Vec<String> {
    diags
        .iter()
        .map(|d| {
            format!(
                "{}@{}:{}",
                d["code"].as_str().unwrap(),
                d["range"]["start"]["line"],
                d["range"]["start"]["character"]
            )
        })
        .collect()
}

/// The byte offset of an LSP position (UTF-16 columns) in `text`.
pub fn offset_utf16(text: &str, pos: &Value) -> usize {
    let (line, character) = (pos["line"].as_u64().unwrap() as usize, pos["character"].as_u64().unwrap() as usize);
    let mut at = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i == line {
            let mut units = 0;
            for (b, ch) in l.char_indices() {
                if units >= character {
                    return at + b;
                }
                units += ch.len_utf16();
            }
            return at + l.trim_end_matches('\n').len();
        }
        at += l.len();
    }
    text.len()
}

/// The text edits of a workspace edit for `uri` (from `documentChanges` or `changes`).
pub fn edits_for(edit: &Value, uri: &Uri) -> Vec<Value> {
    if let Some(dc) = edit["documentChanges"].as_array() {
        return dc
            .iter()
            .filter(|d| d["textDocument"]["uri"] == uri.as_str())
            .flat_map(|d| d["edits"].as_array().cloned().unwrap_or_default())
            .collect();
    }
    edit["changes"][uri.as_str()].as_array().cloned().unwrap_or_default()
}

/// Applies LSP text edits (UTF-16 positions, all relative to the original text) to `text`.
pub fn apply_edits(text: &str, edits: &[Value]) -> String {
    let mut spans: Vec<(usize, usize, String)> = edits
        .iter()
        .map(|e| {
            (
                offset_utf16(text, &e["range"]["start"]),
                offset_utf16(text, &e["range"]["end"]),
                e["newText"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    spans.sort_by_key(|s| std::cmp::Reverse((s.0, s.1)));
    let mut out = text.to_string();
    for (s, e, t) in spans {
        out.replace_range(s..e, &t);
    }
    out
}
