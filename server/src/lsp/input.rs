//! The transport around tower-lsp-server: what it lacks to survive any byte sequence and to follow the
//! specification.
//!
//! - A guard in front of its reader. tower-lsp's reader stops at the first message it cannot decode
//!   (tokio-util's `FramedRead` ends its stream after a decoder error), which would end the session.
//!   The guard frames and checks every message first ([`framing`](super::framing)): valid ones are
//!   handed on, the others are answered with the JSON-RPC error the specification gives, and a wrong
//!   `Content-Length` costs one message.
//! - The guard's answers are written to the client's output between the server's own messages, never
//!   inside one: [`split_output`] shares the writer and tracks the server's framing.
//! - [`Conform`] wraps the service: a `$/` request (one with an id) that no handler takes gets
//!   MethodNotFound (tower-lsp drops it, as it drops unknown `$/` notifications, which is right for
//!   those); and it records whether `shutdown` was received before the end, for the exit status.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;
use tower_lsp_server::jsonrpc::{Error, Request, Response};
use tower_lsp_server::{ClientSocket, Server};

use super::framing::{Event, Framer};

/// How the session ended, for the process's exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// `shutdown` was received before `exit` (or the end of input): status 0.
    AfterShutdown,
    /// `exit` or the end of input without `shutdown`: status 1, as the specification says for `exit`.
    WithoutShutdown,
}

impl Ended {
    pub fn exit_code(self) -> u8 {
        match self {
            Ended::AfterShutdown => 0,
            Ended::WithoutShutdown => 1,
        }
    }
}

/// The `textDocument/didChange` notifications the guard has framed and the server has not handled yet:
/// for each document (its URI as the client wrote it), the version of the latest one framed. A
/// `didChange` handler asks `later` whether another one for its document follows it (then it leaves
/// its analysis to that one: `handlers::did_change`).
#[derive(Default)]
pub struct Framed(Mutex<std::collections::HashMap<String, i64>>);

impl Framed {
    fn framed(&self, change: super::framing::Changed) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).insert(change.uri, change.version);
    }

    /// Called once by the handler of each `didChange`: whether a later `didChange` for `uri` was framed
    /// after this one (of `version`), so that its handler runs after this one. The entry of the latest is
    /// removed when its handler asks. A later one that tower-lsp drops (params it cannot decode) leaves
    /// its entry: the document's analysis then waits for its next `didChange` or a request
    /// (`Backend::catch_up`).
    pub fn later(&self, uri: &str, version: i64) -> bool {
        let mut latest = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match latest.get(uri) {
            Some(&v) if v == version => {
                latest.remove(uri);
                false
            }
            Some(_) => true,
            None => false,
        }
    }
}

/// Serves `service` over `input` and `output` through the guard, until `exit` or the end of input.
/// `framed` is shared with the server's state (`State::framed`).
pub async fn run<S, R, W>(service: S, socket: ClientSocket, input: R, output: W, framed: Arc<Framed>) -> Ended
where
    S: tower_service::Service<Request, Response = Option<Response>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin,
{
    let (messages, mut replies) = guard(input, framed);
    let (server_output, reply_output) = split_output(output);
    let shut_down = Arc::new(AtomicBool::new(false));
    let service = Conform { inner: service, shut_down: shut_down.clone() };
    let server = Server::new(messages, server_output, socket).concurrency_level(IN_FLIGHT).serve(service);
    tokio::spawn(super::timing::lag_monitor());
    // The guard's answers are written by this future, beside the server's (same task, so neither
    // waits on the other except at a message boundary).
    let answer = async {
        while let Some(reply) = replies.recv().await {
            if let Err(e) = reply_output.write(&reply).await {
                tracing::warn!("cannot write an error response: {e}");
                break;
            }
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        () = server => {}
        () = answer => {}
    }
    if shut_down.load(Ordering::Acquire) { Ended::AfterShutdown } else { Ended::WithoutShutdown }
}

/// How many messages tower-lsp handles at once. Its default, 4, counts requests that wait (a pull for
/// the current version's analysis, a fix-all for its chain findings, code actions on their threads):
/// four of those and no message behind them is even read, a hover included.
const IN_FLIGHT: usize = 64;

/// A body from this size on is checked on a blocking thread.
const BIG_MESSAGE: usize = 1 << 20;

/// How much of the client's input the guard reads ahead of tower-lsp (its read size, and the pipe
/// between them). Every message read ahead waits behind the ones before it: with 1 MiB, under a flood
/// of messages, a hover waited ~1 s in this buffer (issue 18's soak) while the client could have
/// been held back by its own pipe. Small, the backlog stays in the client, which can still coalesce
/// or cancel what it has not sent; a message of any size still passes (in pieces).
const READ_AHEAD: usize = 16 << 10;

/// Reads `input` through the framer on a task of its own: valid messages come out of the returned
/// stream (for tower-lsp's reader), error responses for the client out of the channel (whole frames).
fn guard<R: AsyncRead + Unpin + Send + 'static>(
    mut input: R,
    framed: Arc<Framed>,
) -> (DuplexStream, mpsc::Receiver<Vec<u8>>) {
    let (mut to_server, from_guard) = tokio::io::duplex(READ_AHEAD);
    let (replies, answers) = mpsc::channel(16);
    tokio::spawn(async move {
        let mut framer = Framer::default();
        let mut chunk = vec![0u8; READ_AHEAD];
        loop {
            let n = match input.read(&mut chunk).await {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!("cannot read the client's input: {e}");
                    0
                }
            };
            if n == 0 {
                // The end of input: the server sees it too when `to_server` is dropped.
                if let Some(event) = framer.finish() {
                    deliver(event, &mut to_server, &replies, &framed).await;
                }
                return;
            }
            framer.push(&chunk[..n]);
            let events: Vec<Event> = if framer.complete_body().is_some_and(|len| len >= BIG_MESSAGE) {
                // Checking a large body takes a while: not on the server's only async thread.
                let work = tokio::task::spawn_blocking(move || {
                    let events: Vec<Event> = std::iter::from_fn(|| framer.next_event()).collect();
                    (framer, events)
                });
                match work.await {
                    Ok((back, events)) => {
                        framer = back;
                        events
                    }
                    Err(e) => {
                        tracing::error!("the transport's framer failed: {e}");
                        return;
                    }
                }
            } else {
                std::iter::from_fn(|| framer.next_event()).collect()
            };
            for event in events {
                if !deliver(event, &mut to_server, &replies, &framed).await {
                    return; // the server is gone
                }
            }
        }
    });
    (from_guard, answers)
}

/// Hands one event on; false when the server no longer reads.
async fn deliver(event: Event, to_server: &mut DuplexStream, replies: &mpsc::Sender<Vec<u8>>, framed: &Framed) -> bool {
    match event {
        Event::Message { body, repaired, change } => {
            if repaired > 0 {
                tracing::debug!("replaced {repaired} lone surrogate escape(s) with U+FFFD");
            }
            // Before it is handed on: its handler runs after this.
            if let Some(change) = change {
                framed.framed(change);
            }
            let header = format!("Content-Length: {}\r\n\r\n", body.len());
            to_server.write_all(header.as_bytes()).await.is_ok() && to_server.write_all(&body).await.is_ok()
        }
        Event::Reply { response, code, reason } => {
            tracing::warn!("rejected a message from the client ({code}): {reason}");
            let mut frame = format!("Content-Length: {}\r\n\r\n", response.len()).into_bytes();
            frame.extend_from_slice(&response);
            // A closed channel means the session is ending: nothing to answer any more.
            let _ = replies.send(frame).await;
            true
        }
        Event::Skipped(n) => {
            tracing::warn!("skipped {n} bytes of input that are not a message header");
            true
        }
    }
}

/// Who is in the middle of writing a message to the shared output.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Owner {
    Nobody,
    Server,
    Guard,
}

struct Shared<W> {
    out: W,
    owner: Owner,
    /// Where the server's output stands in its framing.
    server_frame: FrameTracker,
    /// The server's and the guard's writers, waiting for the other to reach a message boundary.
    waiting: [Option<Waker>; 2],
}

impl<W> Shared<W> {
    fn release(&mut self) {
        self.owner = Owner::Nobody;
        for waker in self.waiting.iter_mut().filter_map(Option::take) {
            waker.wake();
        }
    }
}

/// The client's output, shared by the server (its messages, through tower-lsp's writer) and the guard
/// (its error responses): a message of one is never written inside a message of the other.
pub fn split_output<W>(out: W) -> (ServerOutput<W>, ReplyOutput<W>) {
    let shared = Arc::new(Mutex::new(Shared {
        out,
        owner: Owner::Nobody,
        server_frame: FrameTracker::default(),
        waiting: [None, None],
    }));
    (ServerOutput(shared.clone()), ReplyOutput(shared))
}

fn lock<W>(shared: &Mutex<Shared<W>>) -> MutexGuard<'_, Shared<W>> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The server's side of the shared output.
pub struct ServerOutput<W>(Arc<Mutex<Shared<W>>>);

/// The guard's side of the shared output.
pub struct ReplyOutput<W>(Arc<Mutex<Shared<W>>>);

impl<W: AsyncWrite + Unpin> AsyncWrite for ServerOutput<W> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let mut s = lock(&self.0);
        if s.owner == Owner::Guard {
            s.waiting[0] = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = match Pin::new(&mut s.out).poll_write(cx, data) {
            Poll::Ready(Ok(n)) => n,
            other => return other,
        };
        s.server_frame.advance(&data[..n]);
        if s.server_frame.at_boundary() {
            s.release();
        } else {
            s.owner = Owner::Server;
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut lock(&self.0).out).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut lock(&self.0).out).poll_shutdown(cx)
    }
}

impl<W: AsyncWrite + Unpin> ReplyOutput<W> {
    /// Writes one whole message (a frame: header and body), between two of the server's.
    pub async fn write(&self, frame: &[u8]) -> io::Result<()> {
        let mut at = 0;
        std::future::poll_fn(|cx| {
            let mut s = lock(&self.0);
            loop {
                if s.owner == Owner::Server {
                    s.waiting[1] = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                s.owner = Owner::Guard;
                match Pin::new(&mut s.out).poll_write(cx, &frame[at..]) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(0)) => {
                        s.release();
                        return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                    }
                    Poll::Ready(Ok(n)) => {
                        at += n;
                        if at == frame.len() {
                            s.release();
                            return Poll::Ready(Ok(()));
                        }
                    }
                    Poll::Ready(Err(e)) => {
                        s.release();
                        return Poll::Ready(Err(e));
                    }
                }
            }
        })
        .await?;
        std::future::poll_fn(|cx| Pin::new(&mut lock(&self.0).out).poll_flush(cx)).await
    }
}

/// Follows the framing of the server's own output (`Content-Length: N\r\n\r\n` and N bytes), to know
/// when it is between two messages.
#[derive(Default)]
struct FrameTracker {
    header: Vec<u8>,
    body_left: usize,
}

impl FrameTracker {
    fn advance(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.body_left > 0 {
                let k = self.body_left.min(data.len());
                self.body_left -= k;
                data = &data[k..];
                continue;
            }
            self.header.push(data[0]);
            data = &data[1..];
            if self.header.ends_with(b"\r\n\r\n") {
                let header = std::str::from_utf8(&self.header).unwrap_or_default();
                self.body_left = header
                    .lines()
                    .filter_map(|l| l.split_once(':'))
                    .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.trim().parse().ok())
                    .unwrap_or(0);
                self.header.clear();
            } else if self.header.len() > 1024 {
                self.header.clear(); // not a header tower-lsp writes: stop holding the output
            }
        }
    }

    fn at_boundary(&self) -> bool {
        self.body_left == 0 && self.header.is_empty()
    }
}

/// The service as the specification wants it (see the module's documentation).
pub struct Conform<S> {
    inner: S,
    shut_down: Arc<AtomicBool>,
}

type Answer<E> = Pin<Box<dyn Future<Output = Result<Option<Response>, E>> + Send>>;

impl<S> tower_service::Service<Request> for Conform<S>
where
    S: tower_service::Service<Request, Response = Option<Response>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Option<Response>;
    type Error = S::Error;
    type Future = Answer<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let method = req.method();
        let dollar = req.id().filter(|_| method.starts_with("$/")).map(|id| (id.clone(), method.to_owned()));
        // Received, not answered: an `exit` right behind it cancels the answer if it is not sent yet.
        if method == "shutdown" && req.id().is_some() {
            self.shut_down.store(true, Ordering::Release);
        }
        // `LOOPSAFE_LSP_TIMING`: how long each message's handler took, how long it waited to be first
        // polled and how long its polls ran on the async thread (see `timing`).
        let timed = super::timing::on().then(|| {
            (method.to_owned(), req.id().map_or_else(|| "-".to_string(), ToString::to_string), Instant::now())
        });
        let answer = self.inner.call(req);
        Box::pin(async move {
            let response = match timed {
                None => answer.await?,
                Some((method, id, started)) => {
                    let mut answer = std::pin::pin!(answer);
                    let (mut first, mut busy, mut cpu) = (None, Duration::ZERO, Duration::ZERO);
                    let response = std::future::poll_fn(|cx| {
                        let (t, c) = (Instant::now(), super::timing::thread_cpu());
                        first.get_or_insert(t);
                        let r = answer.as_mut().poll(cx);
                        busy += t.elapsed();
                        cpu += super::timing::thread_cpu().saturating_sub(c);
                        r
                    })
                    .await?;
                    let queued = first.map_or(Duration::ZERO, |f| f.duration_since(started));
                    super::timing::request(&method, &id, started, queued, busy, cpu);
                    response
                }
            };
            if response.is_none()
                && let Some((id, method)) = dollar
            {
                let mut error = Error::method_not_found();
                error.data = Some(Value::String(method));
                return Ok(Some(Response::from_error(id, error)));
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[test]
    fn the_frame_tracker_finds_message_boundaries_in_any_chunks() {
        let out = b"Content-Length: 2\r\n\r\n{}Content-Length: 0\r\n\r\nContent-Length: 10\r\n\r\n0123456789";
        for size in 1..out.len() {
            let mut t = FrameTracker::default();
            let mut boundaries = Vec::new();
            for (i, chunk) in out.chunks(size).enumerate() {
                t.advance(chunk);
                if t.at_boundary() {
                    boundaries.push((i + 1) * size.min(out.len()));
                }
            }
            assert!(t.at_boundary());
            let expected = [23, 44, 76];
            assert!(boundaries.iter().all(|b| expected.contains(b) || *b >= out.len()), "{size}: {boundaries:?}");
        }
    }

    /// The guard's replies and the server's messages, written at the same time through a small pipe,
    /// arrive whole.
    #[tokio::test]
    async fn replies_are_never_written_inside_a_server_message() {
        let (client, server) = tokio::io::duplex(7);
        let (mut server_out, replies) = split_output(server);
        let big = "x".repeat(5000);
        let frame = |body: &str| format!("Content-Length: {}\r\n\r\n{body}", body.len());
        let server_side = async {
            for _ in 0..20 {
                server_out.write_all(frame(&big).as_bytes()).await.unwrap();
            }
        };
        let reply_side = async {
            for _ in 0..20 {
                replies.write(frame("{\"reply\":1}").as_bytes()).await.unwrap();
                tokio::task::yield_now().await;
            }
        };
        let read = async {
            let mut client = client;
            let mut all = Vec::new();
            let expected = 20 * frame(&big).len() + 20 * frame("{\"reply\":1}").len();
            while all.len() < expected {
                let mut buf = [0u8; 333];
                let n = client.read(&mut buf).await.unwrap();
                all.extend_from_slice(&buf[..n]);
            }
            all
        };
        let ((), (), all) = tokio::join!(server_side, reply_side, read);
        // Parse the output strictly: every message whole, in the framing the client expects.
        let (mut rest, mut counts) = (&all[..], (0, 0));
        while !rest.is_empty() {
            let text = std::str::from_utf8(&rest[..rest.len().min(40)]).unwrap_or("");
            let len: usize =
                text.strip_prefix("Content-Length: ").and_then(|t| t.split('\r').next()).unwrap().parse().unwrap();
            let start = rest.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            match &rest[start..start + len] {
                b if b == big.as_bytes() => counts.0 += 1,
                b"{\"reply\":1}" => counts.1 += 1,
                other => panic!("{}", String::from_utf8_lossy(other)),
            }
            rest = &rest[start + len..];
        }
        assert_eq!(counts, (20, 20));
    }
}
