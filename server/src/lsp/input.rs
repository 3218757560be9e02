//! A guard in front of the transport. tower-lsp's reader stops at the first message it cannot decode
//! (tokio-util's `FramedRead` ends its stream after a decoder error), which would end the session. Each
//! frame is checked here first: a body that is not JSON is logged and replaced by a `$/` notification,
//! which the server ignores, so one bad message costs nothing but a warning.

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream};

/// The largest message accepted (a whole-document `didOpen` of a very large file fits).
const MAX_MESSAGE: usize = 256 << 20;

const REPLACEMENT: &str = r#"{"jsonrpc":"2.0","method":"$/loopsafe/malformedMessage"}"#;

/// Returns a stream that yields `input`'s messages, malformed ones replaced.
pub fn sanitized<R: AsyncRead + Unpin + Send + 'static>(input: R) -> DuplexStream {
    let (mut to_server, from_guard) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        let mut input = BufReader::new(input);
        loop {
            let mut length: Option<usize> = None;
            let mut saw_header = false;
            loop {
                let mut line = String::new();
                match input.read_line(&mut line).await {
                    Ok(0) | Err(_) => return, // end of input: the server sees it too
                    Ok(_) => {}
                }
                let line = line.trim_end_matches(['\r', '\n']);
                if line.is_empty() {
                    if saw_header {
                        break;
                    }
                    continue;
                }
                saw_header = true;
                if let Some((name, value)) = line.split_once(':')
                    && name.trim().eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().ok();
                }
            }
            let Some(length) = length.filter(|&l| l <= MAX_MESSAGE) else {
                tracing::warn!("ignored a message without a valid Content-Length header");
                continue;
            };
            let mut body = vec![0; length];
            if input.read_exact(&mut body).await.is_err() {
                return;
            }
            let valid = serde_json::from_slice::<Value>(&body).is_ok_and(|v| v.is_object());
            if !valid {
                tracing::warn!("ignored a malformed JSON-RPC message ({length} bytes)");
                body = REPLACEMENT.as_bytes().to_vec();
            }
            let header = format!("Content-Length: {}\r\n\r\n", body.len());
            if to_server.write_all(header.as_bytes()).await.is_err() || to_server.write_all(&body).await.is_err() {
                return;
            }
        }
    });
    from_guard
}
