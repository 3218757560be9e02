//! The server's logs, sent to the client as `window/logMessage` with their level as the message type
//! (an error is an error, information is information) once a client is connected, instead of stderr:
//! editors show a server's stderr as errors (Neovim logs every stderr line as `[ERROR]`).
//!
//! The binary installs `layer()` beside its stderr layer and filters that one with `to_client()`.
//! Events are queued to a channel the server drains in a task (a log call never waits for the client);
//! only loopsafe's own events are sent, so that sending a message never logs another one.

use std::sync::Mutex;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::MessageType;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

static SINK: Mutex<Option<UnboundedSender<(MessageType, String)>>> = Mutex::new(None);

/// Whether logs go to the client (a client is connected) rather than to stderr.
pub fn to_client() -> bool {
    SINK.lock().map(|s| s.as_ref().is_some_and(|tx| !tx.is_closed())).unwrap_or(false)
}

/// From now on, logs go to `client` as `window/logMessage`, until the server stops.
pub(super) fn connect(client: Client) {
    let (tx, rx) = unbounded_channel();
    if let Ok(mut sink) = SINK.lock() {
        *sink = Some(tx);
    }
    tokio::spawn(drain(client, rx));
}

async fn drain(client: Client, mut rx: UnboundedReceiver<(MessageType, String)>) {
    while let Some((typ, message)) = rx.recv().await {
        client.log_message(typ, message).await;
    }
}

/// The message type for a level.
pub fn message_type(level: &Level) -> MessageType {
    match *level {
        Level::ERROR => MessageType::ERROR,
        Level::WARN => MessageType::WARNING,
        Level::INFO => MessageType::INFO,
        _ => MessageType::LOG,
    }
}

/// The tracing layer that sends loopsafe's events to the connected client.
pub fn layer<S: Subscriber>() -> impl Layer<S> {
    ClientLayer
}

struct ClientLayer;

impl<S: Subscriber> Layer<S> for ClientLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let meta = event.metadata();
        if !meta.target().starts_with("loopsafe") {
            return;
        }
        let Ok(sink) = SINK.lock() else { return };
        let Some(tx) = sink.as_ref() else { return };
        let mut text = Text(String::new());
        event.record(&mut text);
        let _ = tx.send((message_type(meta.level()), text.0));
    }
}

/// An event's message, then its other fields as `name=value`.
struct Text(String);

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let rest = std::mem::take(&mut self.0);
            self.0 = format!("{value:?}{}{rest}", if rest.is_empty() { "" } else { " " });
        } else {
            if !self.0.is_empty() {
                self.0.push(' ');
            }
            self.0.push_str(&format!("{}={value:?}", field.name()));
        }
    }
}
