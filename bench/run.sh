#!/usr/bin/env bash
# loopsafe benchmark: build, set up comparison tools and corpus, then time everything (bench/bench.py).
#
#   bench/run.sh                 # full corpus (13,567 files), 5 interleaved runs per tool
#   bench/run.sh --small         # 4-wheel corpus (158 files)
#   bench/run.sh --runs 3 --flake8
#   LOOPSAFE_ARGS='--no-follow' bench/run.sh
#   bench/run.sh --loopsafe-variant 'nofollow=--no-follow'
#
# run.sh-only options: --no-build (use existing target/release binaries), --no-setup (skip venv + corpus).
# Every other option is passed to bench/bench.py (see: python3 bench/bench.py --help).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
PY="${PYTHON:-python3}"

build=1 setup=1 small=0 custom_corpus=0
pass=()
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    --no-setup) setup=0 ;;
    -h|--help) sed -n '2,13p' "$0"; echo; exec "$PY" "$HERE/bench.py" --help ;;
    *) pass+=("$arg"); [ "$arg" = --small ] && small=1; case "$arg" in --corpus|--corpus=*) custom_corpus=1 ;; esac ;;
  esac
done

say() { printf '[run.sh] %s\n' "$*" >&2; }

if [ "$build" = 1 ]; then
  say "cargo build --release -p loopsafe --bin loopsafe"
  if ! (cd "$ROOT" && cargo build --release -p loopsafe --bin loopsafe >&2); then
    say "WARNING: building loopsafe failed; it will be reported as failed"
    pass+=(--mark-failed "loopsafe=cargo build --release -p loopsafe failed")
  fi
  say "cargo build --release -p loopsafe --example parse_baseline"
  if ! (cd "$ROOT" && cargo build --release -p loopsafe --example parse_baseline >&2); then
    say "WARNING: building parse_baseline failed; it will be reported as failed"
    pass+=(--mark-failed "parse-baseline=cargo build --example parse_baseline failed")
  fi
fi

if [ "$setup" = 1 ]; then
  VENV="$HERE/.venv"
  want="$(sha256sum "$HERE/requirements.txt" | cut -d' ' -f1)"
  have="$(cat "$VENV/.requirements.sha256" 2>/dev/null || true)"
  if [ ! -x "$VENV/bin/ruff" ] || [ "$want" != "$have" ]; then
    say "creating $VENV from bench/requirements.txt"
    [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV" || { say "python3 -m venv failed"; exit 1; }
    if "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$HERE/requirements.txt" >&2; then
      echo "$want" > "$VENV/.requirements.sha256"
    else
      say "WARNING: pip install failed; ruff/flake8 may be reported as failed"
    fi
  fi
  if [ "$custom_corpus" = 0 ]; then
    if [ "$small" = 1 ]; then "$HERE/corpus.sh" --small >/dev/null; else "$HERE/corpus.sh" >/dev/null; fi \
      || { say "corpus.sh failed (see above); not benchmarking an unverified corpus"; exit 1; }
  fi
fi

exec "$PY" "$HERE/bench.py" "${pass[@]}"
