#!/usr/bin/env bash
# Fix safety on real code (issue 18): `loopsafe check --fix --unsafe-fixes` on a pinned sample of the
# benchmark corpus (tests/fix_safety/pins.txt: five wheels of bench/pins.txt that get many fixes, about
# 1,400 files), then every changed file compiles with CPython, ruff finds no new F821/F811/F401 in it,
# a file's UTF-8 BOM, CRLF line endings and mode are kept, and a second run changes nothing. A few files
# that get fixes are given a BOM, CRLF line endings or mode 0755 first, so that those are tried even
# where the sample has none. See tests/fix_safety/check.py.
#
#   bash tests/fix_safety/run.sh [LOOPSAFE_BIN]      (default ./target/release/loopsafe)
#
# Needs python3 (3.9+) and PyPI: the wheels are downloaded with pip --require-hashes into
# target/fix_safety/wheels (reused), ruff (tests/fix_safety/requirements.txt) is installed into
# target/fix_safety/venv (reused while requirements.txt is unchanged). About a minute on 2 cores once
# downloaded. FIX_SAFETY_KEEP=1 keeps the work directory.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
here="$repo/tests/fix_safety"
. "$repo/tests/lib/venv.sh"
python=${PYTHON:-python3}
loopsafe=$(realpath "${1:-${LOOPSAFE_BIN:-$repo/target/release/loopsafe}}")
[ -x "$loopsafe" ] || { echo "fix_safety: $loopsafe is not an executable (build it: cargo build --release -p loopsafe)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/loopsafe-fix-safety.XXXXXX")
cleanup() {
    local rc=$?
    if [ "$rc" -ne 0 ] || [ "${FIX_SAFETY_KEEP:-}" = 1 ]; then
        echo "fix_safety: work directory kept in $work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

cache="$repo/target/fix_safety"
mkdir -p "$cache"
venv="$cache/venv"
if ! cmp -s "$here/requirements.txt" "$venv/requirements.txt" 2>/dev/null; then
    rm -rf "$venv"
    make_venv "$python" "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$venv/requirements.txt"
fi

wheels="$cache/wheels"
mkdir -p "$wheels"
# The same download as bench/corpus.sh (these five are pure-Python wheels).
"$python" -m pip download --quiet --disable-pip-version-check --no-deps --require-hashes --only-binary=:all: \
    --ignore-requires-python -r "$here/pins.txt" -d "$wheels"

"$python" "$here/check.py" --loopsafe "$loopsafe" --ruff "$venv/bin/ruff" --pins "$here/pins.txt" \
    --wheels "$wheels" --work "$work"
