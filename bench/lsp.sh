#!/usr/bin/env bash
# Language-server benchmark on the pinned corpus (see bench/lsp_bench.py): index time and peak RSS of
# `loopsafe server` on the whole corpus, and edit latency in its largest file, beside `ruff server`.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
(cd "$ROOT" && cargo build --release -q -p loopsafe --bin loopsafe)
[ -x "$HERE/.venv/bin/ruff" ] || { python3 -m venv "$HERE/.venv" && "$HERE/.venv/bin/pip" install -q -r "$HERE/requirements.txt"; }
"$HERE/corpus.sh" >&2
CORPUS="$HERE/.corpus/full"
exec python3 "$HERE/lsp_bench.py" --loopsafe "$ROOT/target/release/loopsafe" --ruff "$HERE/.venv/bin/ruff" \
  --workspace "$CORPUS" --file "$CORPUS/python-telegram-bot/telegram/_bot.py" "$@"
