//! The settings in force: the workspace root's `[tool.loopsafe]` with the client's keys laid over it,
//! and the baseline they name; read off the async thread, and applied to every open document and the
//! index when they change.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tower_lsp_server::ls_types::*;

use super::{Backend, Config, State};
use crate::catalog::Catalog;
use crate::settings::Settings;

impl State {
    /// The settings in force: the workspace root's `[tool.loopsafe]`, with the client's keys (from
    /// `initializationOptions` or `didChangeConfiguration`) laid over it key by key, so that an editor
    /// setting overrides one key without hiding the rest of the project's configuration.
    pub(super) fn effective_settings(&self) -> std::result::Result<Settings, String> {
        let root = self.roots.read().expect("roots lock").first().cloned();
        let (mut table, ctx, dir) = match &root {
            Some(root) => crate::config::discover_table_dir(root)?,
            None => (toml::Table::new(), String::new(), None),
        };
        Settings::from_table(&table, &ctx)?;
        let client = self.client_table.read().expect("client settings lock").clone();
        if let Some(client) = client {
            table.extend(client);
        }
        let mut settings = Settings::from_table(&table, "settings:")?;
        // `per-file-ignores` globs are relative to the configuration file (else the workspace root).
        settings.config_dir = dir.or(root);
        Ok(settings)
    }

    /// The baseline the settings name (relative to the configuration file's directory, else to the
    /// workspace root), read on a blocking thread with them. One that cannot be read is logged, and no
    /// finding is lowered.
    /// The settings, and the baseline and the recording they name, read from disk (call it on a
    /// blocking thread: the project's files could be anything, even a FIFO).
    pub(super) fn read_settings(&self) -> std::result::Result<Loaded, String> {
        self.effective_settings().map(|s| {
            let baseline = self.load_baseline(&s);
            let runtime = self.load_runtime(&s);
            (s, baseline, runtime)
        })
    }

    pub(super) fn load_baseline(&self, settings: &Settings) -> Option<Arc<crate::baseline::Known>> {
        let file = settings.baseline.as_ref()?;
        let root = self.roots.read().expect("roots lock").first().cloned()?;
        let dir = crate::config::discover(&root)
            .ok()
            .and_then(|l| l.root().map(Path::to_path_buf))
            .unwrap_or_else(|| root.clone());
        let project_root = crate::check::project_root(&root).unwrap_or(root);
        match crate::baseline::Known::load(&dir.join(file), project_root) {
            Ok(known) => Some(Arc::new(known)),
            Err(e) => {
                tracing::warn!("not using the baseline: {e}");
                None
            }
        }
    }
}

/// What the settings bring from disk: the settings, the baseline and the runtime recording they name.
pub(super) type Loaded = (Settings, Option<Arc<crate::baseline::Known>>, Option<Arc<super::runtime::Recorded>>);

impl Backend {
    /// Puts settings read from disk in force (the catalog they extend built once), warning about a
    /// recording that could not be read.
    pub(super) fn put_config(&self, (settings, baseline, runtime): Loaded) {
        let catalog = Arc::new(Catalog::bundled().extended(&settings.extend_blocking_calls));
        self.warn_runtime(self.state.config().runtime.as_deref(), runtime.as_deref());
        *self.state.config.write().expect("config lock") = Arc::new(Config { settings, catalog, baseline, runtime });
    }

    /// Reads the settings again (the project's `pyproject.toml` with the client's keys over it) off the
    /// async thread, and applies them unless a later change came meanwhile. A bad configuration is
    /// shown and the last good one stays in force.
    pub(super) fn reconfigure(&self) {
        let generation = self.state.config_generation.fetch_add(1, Ordering::SeqCst) + 1;
        let backend = self.clone();
        tokio::spawn(async move {
            let state = backend.state.clone();
            let settings = tokio::task::spawn_blocking(move || state.read_settings()).await;
            if backend.state.config_generation.load(Ordering::SeqCst) != generation {
                return;
            }
            match settings {
                Ok(Ok(settings)) => backend.apply_settings(settings),
                Ok(Err(e)) => {
                    let message = format!("loopsafe: {e}; the previous settings stay in force");
                    backend.client.show_message(MessageType::ERROR, message).await;
                }
                Err(e) => tracing::error!("reading the settings failed: {e}"),
            }
        });
    }

    /// Puts new settings in force: open documents are analysed again (off the async thread) and closed
    /// files re-indexed in the background.
    pub(super) fn apply_settings(&self, loaded: Loaded) {
        self.put_config(loaded);
        self.state.offload_epoch.fetch_add(1, Ordering::SeqCst);
        let uris: Vec<Uri> = self.state.documents.iter().map(|e| e.key().clone()).collect();
        for uri in &uris {
            self.schedule(uri, true);
        }
        self.reindex_in_background();
    }
}

/// The client's settings as a table of `[tool.loopsafe]` keys, checked on their own so that an error
/// names the client's key. Null is no settings; an empty list (an empty Lua table) is an empty table.
pub(super) fn client_table(value: serde_json::Value, ctx: &str) -> std::result::Result<Option<toml::Table>, String> {
    if value.is_null() {
        return Ok(None);
    }
    if value.as_array().is_some_and(|a| a.is_empty()) {
        return Ok(Some(toml::Table::new()));
    }
    let table = serde_json::from_value::<toml::Table>(value).map_err(|e| format!("{ctx} {e}"))?;
    Settings::from_table(&table, ctx)?;
    Ok(Some(table))
}
