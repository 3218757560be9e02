#!/usr/bin/env bash
# Installation test (issue 6): every documented way of installing loopsafe puts a working binary on PATH.
#
#   1. maturin builds the wheel (pyproject.toml at the repository root, `bindings = "bin"`);
#   2. pip installs it into a fresh virtualenv: `loopsafe` is on the venv's PATH and finds the example's
#      blocking calls (exit 1 with findings);
#   3. `uv tool install` installs the same wheel as a tool;
#   4. `cargo install --path server --root <tmp>` builds and installs the binary;
#   5. the pre-commit hook (.pre-commit-hooks.yaml), through `pre-commit try-repo`, fails on a file with a
#      blocking call and passes once it is fixed.
#
# Needs python3 (3.9+; python3-venv is installed with apt-get when missing and running as root), git, the
# Rust toolchain and network access to PyPI (tools pinned in tests/install/requirements.txt). Builds share
# the repository's target directory (CARGO_TARGET_DIR, if set, is respected), so after
# `cargo build --release` only the loopsafe crate itself is compiled again.
# LOOPSAFE_INSTALL_KEEP=1 keeps the temp dir.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/tests/lib/venv.sh"
python=${PYTHON:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/loopsafe-install.XXXXXX")
started=$SECONDS
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1

cleanup() {
    local rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "install: FAILED (exit $rc); files kept in $work" >&2
    elif [ "${LOOPSAFE_INSTALL_KEEP:-}" = 1 ]; then
        echo "install: files kept in $work"
    else
        rm -rf "$work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n== %s (%ds)\n' "$*" "$((SECONDS - started))"; }
fail() { echo "install: $*" >&2; exit 1; }

# expect_findings NAME BINARY: BINARY finds the example app's blocking calls (exit 1, LS101 among them)
expect_findings() {
    local name=$1 bin=$2 status
    set +e
    (cd "$repo" && "$bin" check --no-cache examples/fastapi_app) > "$work/$name.out" 2>&1
    status=$?
    set -e
    tail -n 3 "$work/$name.out"
    [ "$status" -eq 1 ] || { cat "$work/$name.out" >&2; fail "$name: loopsafe check examples/fastapi_app exited $status, expected 1"; }
    grep -q "LS101 \[blocking-http\]" "$work/$name.out" || fail "$name: no blocking-http finding in the output"
    echo "$name: exit 1 with $(grep -c '^examples/fastapi_app/.*: LS[0-9]* \[' "$work/$name.out") findings"
}

step "tools (tests/install/requirements.txt)"
make_venv "$python" "$work/tools"
"$work/tools/bin/python" -m pip install --quiet -r "$repo/tests/install/requirements.txt"
"$work/tools/bin/maturin" --version
"$work/tools/bin/pre-commit" --version
"$work/tools/bin/uv" --version

step "maturin build --release: the wheel"
(cd "$repo" && "$work/tools/bin/maturin" build --release --locked --out "$work/wheels")
wheel=$(ls "$work"/wheels/loopsafe-*.whl)
echo "$wheel ($(du -h "$wheel" | cut -f1))"
"$work/tools/bin/python" - "$wheel" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
scripts = [n for n in names if n.endswith(".data/scripts/loopsafe")]
assert scripts, f"no loopsafe script in the wheel: {names}"
print("the wheel carries", scripts[0])
PY

step "pip install the wheel into a fresh virtualenv"
make_venv "$python" "$work/venv"
"$work/venv/bin/python" -m pip install --quiet "$wheel"
# As a user would run it: the venv activated, `loopsafe` found on PATH.
found=$(. "$work/venv/bin/activate" && command -v loopsafe)
[ "$found" = "$work/venv/bin/loopsafe" ] || fail "pip: loopsafe on PATH is '$found', expected $work/venv/bin/loopsafe"
(. "$work/venv/bin/activate" && loopsafe --version)
expect_findings pip "$found"

step "uv tool install the wheel"
export UV_TOOL_DIR="$work/uv/tools" UV_TOOL_BIN_DIR="$work/uv/bin" UV_CACHE_DIR="$work/uv/cache" UV_PYTHON_DOWNLOADS=never
"$work/tools/bin/uv" tool install --python "$(command -v "$python")" "$wheel"
expect_findings uv "$work/uv/bin/loopsafe"

step "cargo install --path server"
cargo install --locked --path "$repo/server" --root "$work/cargo"
expect_findings cargo "$work/cargo/bin/loopsafe"

step "pre-commit try-repo: the hook fails on a blocking call and passes on a clean file"
export PRE_COMMIT_HOME="$work/pre-commit-home"
export GIT_AUTHOR_NAME=loopsafe GIT_AUTHOR_EMAIL=ci@loopsafe.invalid
export GIT_COMMITTER_NAME=loopsafe GIT_COMMITTER_EMAIL=ci@loopsafe.invalid
demo="$work/demo"
mkdir -p "$demo"
git -C "$demo" init --quiet
cat > "$demo/app.py" <<'PY'
import requests
from fastapi import FastAPI

app = FastAPI()


@app.get("/rates")
async def rates():
    return requests.get("https://rates.example.com/latest", timeout=5).json()
PY
git -C "$demo" add app.py
set +e
(cd "$demo" && "$work/tools/bin/pre-commit" try-repo "$repo" loopsafe --files app.py) > "$work/hook-dirty.out" 2>&1
status=$?
set -e
cat "$work/hook-dirty.out"
[ "$status" -eq 1 ] || fail "pre-commit: the hook exited $status on a blocking call, expected 1 (failed)"
grep -q "app.py:9:12: LS101 \[blocking-http\]" "$work/hook-dirty.out" || fail "pre-commit: the hook did not report app.py:9:12 LS101"
cat > "$demo/app.py" <<'PY'
import httpx
from fastapi import FastAPI

app = FastAPI()


@app.get("/rates")
async def rates():
    async with httpx.AsyncClient() as client:
        return (await client.get("https://rates.example.com/latest", timeout=5)).json()
PY
git -C "$demo" add app.py
(cd "$demo" && "$work/tools/bin/pre-commit" try-repo "$repo" loopsafe --files app.py) > "$work/hook-clean.out" 2>&1 ||
    { cat "$work/hook-clean.out" >&2; fail "pre-commit: the hook failed on a clean file"; }
cat "$work/hook-clean.out"
grep -q "^loopsafe\.*Passed" "$work/hook-clean.out" || fail "pre-commit: the hook did not report Passed"

step "PASS: wheel (pip, uv), cargo install and the pre-commit hook all give a working loopsafe"
