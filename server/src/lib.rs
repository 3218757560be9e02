//! loopsafe: finds blocking calls that stall Python event loops.
//!
//! Layers (see ARCHITECTURE.md): `syntax` (parser and queries) and `catalog` (data) feed the pure
//! `analysis` core; `check` and `output` are the command line's edges.

pub mod add_noqa;
pub mod analysis;
pub mod atomic_write;
pub mod autofix;
pub mod baseline;
pub mod cache;
pub mod catalog;
pub mod check;
pub mod config;
pub mod fix;
pub mod line_index;
pub mod lsp;
pub mod output;
pub mod project;
pub mod rules;
pub mod runtime;
pub mod settings;
pub mod syntax;
