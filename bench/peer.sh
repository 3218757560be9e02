#!/usr/bin/env bash
# Side-by-side with hydroid-cli on whole applications (see bench/peer.py). hydroid needs a virtualenv
# with the applications' dependencies; this script makes one in bench/.venv-peer (pinned versions).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
VENV="$HERE/.venv-peer"
if [ ! -x "$VENV/bin/hydroid" ] || ! cmp -s "$HERE/requirements-peer.txt" "$VENV/.requirements"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r "$HERE/requirements-peer.txt"
  cp "$HERE/requirements-peer.txt" "$VENV/.requirements"
fi
(cd "$ROOT" && cargo build --release -q -p loopsafe --bin loopsafe)
exec python3 "$HERE/peer.py" --hydroid "$VENV/bin/hydroid" --python "$VENV" "$@"
