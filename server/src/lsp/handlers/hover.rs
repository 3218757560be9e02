//! `textDocument/hover`: a finding's message, route, chain and advice, or what a blocking sync function
//! reaches.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

use crate::lsp::document::{self, Published};
use crate::lsp::{Backend, State, scheduler};

/// How long a hover waits for a document just opened to get its first diagnostics.
const HOVER_WAIT: Duration = Duration::from_secs(2);

/// The offloader advice names unless the file gets another one (`run_in_threadpool` with FastAPI).
const DEFAULT_OFFLOADER: &str = "asyncio.to_thread";

pub(in crate::lsp) async fn hover(backend: &Backend, params: HoverParams) -> Result<Option<Hover>> {
    let uri = params.text_document_position_params.text_document.uri;
    let pos = params.text_document_position_params.position;
    // Edits left for a later `didChange` are analysed first (as that one would have).
    backend.catch_up(&uri);
    // The last published diagnostics: a hover never waits for an analysis in progress, only, briefly,
    // for the first diagnostics of a document just opened and analysed.
    let analysed = backend.state.documents.get(&uri).is_some_and(|d| d.analysed.is_some());
    let wait = if analysed { HOVER_WAIT } else { Duration::ZERO };
    let Some(published) = backend.published(&uri, false, wait).await else {
        return Ok(None);
    };
    let found =
        published.diagnostics.iter().zip(&published.extras).find(|(d, _)| d.range.start <= pos && pos <= d.range.end);
    if let Some((d, (route, instead))) = found {
        // The advice names the offloader the quick fix writes in this file (read off its imports).
        let offload = match instead {
            Some(i) if i.contains(DEFAULT_OFFLOADER) => backend.offload_name(&uri).await,
            _ => None,
        };
        let root = backend.state.roots.read().expect("roots lock").first().cloned();
        let instead = instead.as_deref().map(|i| match offload {
            Some(name) => i.replace(DEFAULT_OFFLOADER, name),
            None => i.to_string(),
        });
        let caps = backend.state.caps();
        let value = hover_text(d, route.as_deref(), instead.as_deref(), root.as_deref(), !caps.diagnostics_in_hover);
        return Ok(Some(Hover {
            contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value }),
            range: Some(d.range),
        }));
    }
    Ok(backend.state.function_hover(pos, &published))
}

impl State {
    /// Hover on the name of a sync function that blocks: which blocking call it reaches, and how (from
    /// the published chains).
    fn function_hover(&self, pos: Position, published: &Published) -> Option<Hover> {
        let enc = self.caps().encoding;
        let rope = &published.rope;
        let offset = document::offset(rope, pos, enc);
        let (range, qualname, text) =
            published.blocking.iter().find(|(r, _, _)| r.start <= offset && offset <= r.end)?;
        let start = document::position(rope, range.start, enc);
        let end = document::position(rope, range.end, enc);
        Some(Hover {
            contents: HoverContents::Markup(MarkupContent {
                kind: MarkupKind::Markdown,
                value: format!("**`{qualname}` blocks the event loop** when a coroutine calls it:\n\n{text}"),
            }),
            range: Some(Range { start, end }),
        })
    }
}

impl Backend {
    /// The offloader the offload fix writes in a document (see `FileContext::offload_name`), read off
    /// its imports on the hover thread once per version (then kept in `offloaders`); `None` when
    /// it is not open or cannot be parsed. A hover waits for it only when no earlier version's is known:
    /// otherwise it answers with that one (an offloader changes only with the imports) while the current
    /// version's is read for the hovers that follow.
    async fn offload_name(&self, uri: &Uri) -> Option<&'static str> {
        let epoch = self.state.offload_epoch.load(Ordering::SeqCst);
        let (rope, tree, stale, version, earlier) = {
            let d = self.state.documents.get(uri)?;
            let known = self.state.offloaders.get(uri).filter(|k| k.1 == epoch).map(|k| (k.0, k.2));
            if let Some((v, name)) = known
                && v == d.version
            {
                return Some(name);
            }
            (d.rope.clone(), d.tree.clone(), d.stale, d.version, known.map(|k| k.1))
        };
        let (state, uri) = (self.state.clone(), uri.clone());
        // On the hover's own thread: a hover must queue neither behind analyses in the blocking pool nor
        // behind quick fixes on the interactive threads.
        let read = scheduler::for_hover(move || {
            let text = rope.to_string();
            let tree = match tree {
                Some(t) if !stale => t,
                t => crate::syntax::parse(&text, t.as_ref())?,
            };
            let config = state.config();
            let anyio = state.anyio.lock().expect("anyio lock").unwrap_or(false);
            let options = crate::fix::Options::new(&config.settings, anyio);
            // The offloader depends on the imports only: no routes (`FileContext::new` finds them with a
            // query of the whole file).
            let none = std::borrow::Cow::Owned(crate::fix::Endpoints::default());
            let name =
                crate::fix::FileContext::with_endpoints(&text, &tree, &config.catalog, &options, none).offload_name();
            // Kept unless a later version's (or a later epoch's) was kept meanwhile.
            if state.documents.contains_key(&uri) {
                state
                    .offloaders
                    .entry(uri)
                    .and_modify(|k| {
                        if (k.1, k.0) < (epoch, version) {
                            *k = (version, epoch, name);
                        }
                    })
                    .or_insert((version, epoch, name));
            }
            Some(name)
        });
        match earlier {
            Some(name) => {
                tokio::spawn(read);
                Some(name)
            }
            None => read.await.flatten(),
        }
    }
}

/// A location as a user reads it: the path relative to the workspace root, and the 1-based line.
fn place(uri: &Uri, line: u32, root: Option<&std::path::Path>) -> String {
    let path = uri.to_file_path().map(|p| p.into_owned());
    let shown = match (&path, root) {
        (Some(p), Some(root)) => p.strip_prefix(root).unwrap_or(p).display().to_string(),
        (Some(p), None) => p.display().to_string(),
        (None, _) => uri.as_str().to_string(),
    };
    format!("{shown}:{}", line + 1)
}

/// A finding's hover, readable where links are not rendered (Helix, Neovim): the message (unless the
/// client shows it already), the route, the chain as `name — path:line` steps after the call on the
/// finding's own line, and the advice.
fn hover_text(
    d: &Diagnostic,
    route: Option<&str>,
    instead: Option<&str>,
    root: Option<&std::path::Path>,
    with_message: bool,
) -> String {
    let mut parts = Vec::new();
    if with_message {
        let code = match &d.code {
            Some(NumberOrString::String(s)) => s.clone(),
            _ => String::new(),
        };
        let rule = d.data.as_ref().and_then(|data| data["rule"].as_str()).unwrap_or_default();
        parts.push(format!("**{code} {rule}** ({}): {}", crate::lsp::convert::tier_word(d.severity), d.message));
    }
    if let Some(route) = route {
        parts.push(format!("In route `{route}`."));
    }
    if with_message && let Some(related) = &d.related_information {
        let steps: Vec<String> = related
            .iter()
            .filter(|r| {
                !(r.location.uri == related[0].location.uri && r.location.range.start.line == d.range.start.line)
            })
            .enumerate()
            .map(|(i, r)| {
                format!("{}. `{}` — {}", i + 1, r.message, place(&r.location.uri, r.location.range.start.line, root))
            })
            .collect();
        if !steps.is_empty() {
            parts.push(format!("Chain:\n{}", steps.join("\n")));
        }
    }
    if let Some(instead) = instead {
        parts.push(format!("Instead: {instead}"));
    }
    parts.join("\n\n") + "\n"
}
