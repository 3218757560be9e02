#!/usr/bin/env bash
# Language-server benchmark on the pinned corpus (see bench/lsp_bench.py): index time and peak RSS of
# `loopsafe server` on python-telegram-bot, and the latency of what a person types (scenarios) in the
# corpus' largest file and in a typical module, beside `ruff server` doing the same edits.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
(cd "$ROOT" && cargo build --release -q -p loopsafe --bin loopsafe)
[ -x "$HERE/.venv/bin/ruff" ] || { python3 -m venv "$HERE/.venv" && "$HERE/.venv/bin/pip" install -q -r "$HERE/requirements.txt"; }
"$HERE/corpus.sh" >&2
CORPUS="$HERE/.corpus/full"
# The corpus' largest file (12,522 lines) and a typical module (776 lines) of the same package.
PTB="$CORPUS/python-telegram-bot"
exec python3 "$HERE/lsp_bench.py" --loopsafe "$ROOT/target/release/loopsafe" --ruff "$HERE/.venv/bin/ruff" \
  --workspace "$PTB" --file "$PTB/telegram/_bot.py" --file "$PTB/telegram/ext/_updater.py" "$@"
