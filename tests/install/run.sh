#!/usr/bin/env bash
# Installation test (issues 6 and 16): every documented way of installing loopsafe puts a working binary
# on PATH.
#
#   1. maturin builds the wheel with zig for manylinux2014 (glibc 2.17), as the release does for
#      Linux: the tag is checked in the file name and in `auditwheel show`'s verdict;
#   2. pip installs it into a fresh virtualenv: `loopsafe` is on the venv's PATH, says the wheel's
#      version and finds the example's blocking calls (exit 1 with findings); the wheel's recorder
#      (`python -m loopsafe.record`) records a blocking call made on a running loop;
#   3. `uv tool install` installs the same wheel as a tool;
#   4. `maturin sdist` makes the sdist (the query files inside it, through the server/queries link),
#      which is unpacked in an empty directory and built there with `pip install loopsafe-<v>.tar.gz`
#      into another fresh virtualenv; the installed binary finds the example's blocking calls;
#   5. `cargo package` makes the crate (the query files inside it), which is unpacked in an empty
#      directory and installed from there with `cargo install --path` (as `cargo install loopsafe`
#      would from crates.io): the binary finds the example's blocking calls;
#   6. the pre-commit hook (.pre-commit-hooks.yaml), through `pre-commit try-repo`, fails on a file with a
#      blocking call and passes once it is fixed;
#   7. a local pre-commit hook that installs the wheel (additional_dependencies, as the README shows
#      with the published one) fails on the blocking call, with no cargo on PATH.
# Step 2 is repeated with another Python (PyPy 3, installed with apt-get when missing and running as
# root; LOOPSAFE_OTHER_PYTHON names another).
#
# Needs python3 (3.9+; python3-venv is installed with apt-get when missing and running as root), git, the
# Rust toolchain and network access to PyPI (tools pinned in tests/install/requirements.txt, zig among
# them). Builds share the repository's target directory (CARGO_TARGET_DIR, if set, is respected), so after
# `cargo build --release` only the loopsafe crate itself is compiled again, except for the zig build,
# which has its own target/<triple>/ folder (all dependencies the first time). The sdist is built from
# its own unpacked sources, with the shared target directory only as a cache of compiled dependencies.
# LOOPSAFE_INSTALL_KEEP=1 keeps the temp dir.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/tests/lib/venv.sh"
. "$repo/tests/lib/script.sh"
python=${PYTHON:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/loopsafe-install.XXXXXX")
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1

script_begin "install" "$work" LOOPSAFE_INSTALL_KEEP

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
# The tools venv is kept in the target directory and reused while requirements.txt is unchanged: its
# path is in the zig linker wrappers that maturin passes to rustc, and a new path would rebuild every
# dependency of the zig build.
tools=$CARGO_TARGET_DIR/install-tools
if ! cmp -s "$repo/tests/install/requirements.txt" "$tools/requirements.txt" || ! "$tools/bin/python" -c '' 2> /dev/null; then
    rm -rf "$tools"
    make_venv "$python" "$tools"
    "$tools/bin/python" -m pip install --quiet -r "$repo/tests/install/requirements.txt"
    cp "$repo/tests/install/requirements.txt" "$tools/requirements.txt"
fi
"$tools/bin/maturin" --version
"$tools/bin/pre-commit" --version
"$tools/bin/uv" --version

arch=$(uname -m)
triple=$arch-unknown-linux-gnu
step "maturin build --release --zig --compatibility manylinux2014: the wheel for $triple"
[ "$(uname -s)" = Linux ] || fail "the manylinux wheel is built on Linux only"
# maturin finds zig as the tools venv's `python3 -m ziglang`, so that venv goes first on PATH.
(cd "$repo" && PATH="$tools/bin:$PATH" maturin build --release --locked --zig --compatibility manylinux2014 \
    --target "$triple" --out "$work/wheels")
wheel=$(ls "$work"/wheels/loopsafe-*.whl)
echo "$wheel ($(du -h "$wheel" | cut -f1))"
case $(basename "$wheel") in
    *-py3-none-manylinux2014_"$arch".manylinux_2_17_"$arch".whl) ;;
    *) fail "the wheel's tag is not manylinux2014_$arch.manylinux_2_17_$arch: $(basename "$wheel")" ;;
esac
"$tools/bin/python" - "$wheel" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
scripts = [n for n in names if n.endswith(".data/scripts/loopsafe")]
assert scripts, f"no loopsafe script in the wheel: {names}"
print("the wheel carries", scripts[0])
# The recorder's bootstrap, which starts recording in the app's child processes.
assert "loopsafe/_bootstrap/sitecustomize.py" in names, f"no recorder bootstrap in the wheel: {names}"
PY
# auditwheel reads the binary's versioned glibc symbols: none may be newer than 2.17.
"$tools/bin/auditwheel" show "$wheel" | tee "$work/auditwheel.out"
verdict=$(tr -s ' \n' ' ' < "$work/auditwheel.out")
[[ $verdict == *"is consistent with the following platform tag: \"manylinux_2_17_$arch\""* ]] ||
    fail "auditwheel show: the wheel is not consistent with manylinux_2_17_$arch"
version=$("$tools/bin/python" -c 'import sys; print(sys.argv[1].split("-")[1])' "$(basename "$wheel")")

step "pip install the wheel into a fresh virtualenv"
make_venv "$python" "$work/venv"
"$work/venv/bin/python" -m pip install --quiet "$wheel"
# As a user would run it: the venv activated, `loopsafe` found on PATH.
found=$(. "$work/venv/bin/activate" && command -v loopsafe)
[ "$found" = "$work/venv/bin/loopsafe" ] || fail "pip: loopsafe on PATH is '$found', expected $work/venv/bin/loopsafe"
reported=$(. "$work/venv/bin/activate" && loopsafe --version)
echo "$reported (in $("$work/venv/bin/python" --version))"
[ "$reported" = "loopsafe $version" ] || fail "pip: loopsafe --version says '$reported', the wheel is $version"
expect_findings pip "$found"
# The same wheel carries the runtime recorder: a blocking call made on a running loop is recorded.
cat > "$work/blocks.py" <<'PY'
import asyncio
import time


async def main():
    time.sleep(0.01)


asyncio.run(main())
PY
"$work/venv/bin/python" -m loopsafe.record -o "$work/recording.json" -- "$work/venv/bin/python" "$work/blocks.py"
"$work/venv/bin/python" - "$work/recording.json" <<'PY' || fail "pip: the wheel's recorder did not record time.sleep"
import json, sys
events = json.load(open(sys.argv[1]))["events"]
assert any(e["kind"] == "call" and e["callee"] == "time.sleep" for e in events), events
print(f"recorder: {len(events)} event(s), time.sleep among them")
PY
# ... and in a child process of the recorded command (the wheel's bootstrap starts it there).
cat > "$work/parent.py" <<'PY'
import subprocess
import sys

subprocess.run([sys.executable, sys.argv[1]], check=True)
PY
"$work/venv/bin/python" -m loopsafe.record -o "$work/children.json" -- \
    "$work/venv/bin/python" "$work/parent.py" "$work/blocks.py"
"$work/venv/bin/python" - "$work/children.json" <<'PY' || fail "pip: the wheel's recorder did not record a child process"
import json, sys
events = json.load(open(sys.argv[1]))["events"]
assert any(e["kind"] == "call" and e["callee"] == "time.sleep" for e in events), events
print("recorder: time.sleep recorded in a child process")
PY

step "pip install the wheel into a virtualenv of another Python (PyPy 3 from the distribution)"
# The wheel is tagged py3-none: any Python 3 takes it. PyPy is the other Python 3 a Debian machine can
# install (bookworm's only CPython is 3.11); LOOPSAFE_OTHER_PYTHON names another interpreter instead.
other=${LOOPSAFE_OTHER_PYTHON:-pypy3}
if ! command -v "$other" > /dev/null 2>&1 && [ "$other" = pypy3 ] && [ "$(id -u)" -eq 0 ] &&
    command -v apt-get > /dev/null 2>&1; then
    apt-get install -y --no-install-recommends pypy3 > "$work/apt-pypy3.log" 2>&1 ||
        { apt-get update > /dev/null 2>&1 && apt-get install -y --no-install-recommends pypy3 > "$work/apt-pypy3.log" 2>&1; } ||
        { cat "$work/apt-pypy3.log" >&2; fail "apt-get install pypy3 failed"; }
fi
command -v "$other" > /dev/null 2>&1 ||
    fail "no $other to install the wheel with another Python (install pypy3, or set LOOPSAFE_OTHER_PYTHON)"
py_id() { "$1" -c 'import platform, sys; print(platform.python_implementation(), "%d.%d" % sys.version_info[:2])'; }
[ "$(py_id "$other")" != "$(py_id "$python")" ] ||
    fail "$other is the same Python as $python ($(py_id "$python")): no other version to try"
"$other" -m venv "$work/venv-other"
"$work/venv-other/bin/python" -m pip install --quiet "$wheel"
reported=$("$work/venv-other/bin/loopsafe" --version)
echo "$reported (in $(py_id "$work/venv-other/bin/python"); the tools run $(py_id "$python"))"
[ "$reported" = "loopsafe $version" ] || fail "$other: loopsafe --version says '$reported', the wheel is $version"
expect_findings other-python "$work/venv-other/bin/loopsafe"

step "uv tool install the wheel"
export UV_TOOL_DIR="$work/uv/tools" UV_TOOL_BIN_DIR="$work/uv/bin" UV_CACHE_DIR="$work/uv/cache" UV_PYTHON_DOWNLOADS=never
"$tools/bin/uv" tool install --python "$(command -v "$python")" "$wheel"
expect_findings uv "$work/uv/bin/loopsafe"

step "maturin sdist, unpacked and built with pip in an empty directory"
(cd "$repo" && "$tools/bin/maturin" sdist --out "$work/sdist")
sdist=$work/sdist/loopsafe-$version.tar.gz
[ -f "$sdist" ] || fail "no $sdist: $(ls "$work/sdist")"
echo "$sdist ($(du -h "$sdist" | cut -f1))"
tar tzf "$sdist" > "$work/sdist.list"
grep -qx "loopsafe-$version/server/queries/catalog/http.toml" "$work/sdist.list" ||
    fail "sdist: no server/queries/catalog/http.toml in it"
mkdir "$work/empty"
cp "$sdist" "$work/empty/"
(cd "$work/empty" && tar xzf "loopsafe-$version.tar.gz")
make_venv "$python" "$work/sdist-venv"
sdist_started=$SECONDS
# The build runs in pip's own temp copy of the sources; maturin is pinned by the constraint.
(cd "$work/empty" && PIP_CONSTRAINT="$repo/tests/install/requirements.txt" \
    "$work/sdist-venv/bin/python" -m pip install --quiet "./loopsafe-$version.tar.gz")
echo "sdist: built and installed in $((SECONDS - sdist_started)) s"
"$work/sdist-venv/bin/loopsafe" --version
expect_findings sdist "$work/sdist-venv/bin/loopsafe"

step "cargo package: the packaged crate, unpacked in an empty directory, installs with cargo install"
# --no-verify: the build below is the verification, from the unpacked crate and nothing else.
(cd "$repo" && cargo package -p loopsafe --locked --allow-dirty --no-verify --quiet)
crate=$CARGO_TARGET_DIR/package/loopsafe-$version.crate
[ -f "$crate" ] || fail "cargo package made no $crate"
tar tzf "$crate" > "$work/package.list"
for f in queries/catalog/http.toml queries/catalog/semantics.toml queries/python/calls.scm Cargo.lock; do
    grep -qx "loopsafe-$version/$f" "$work/package.list" || fail "cargo package: $f is not in the crate"
done
echo "cargo package: $crate ($(du -h "$crate" | cut -f1), $(grep -c "^loopsafe-$version/queries/" "$work/package.list") query files)"
mkdir -p "$work/crate"
tar xzf "$crate" -C "$work/crate"
cargo_started=$SECONDS
# A packaged crate has no [profile] (the workspace's stays behind): the workspace's release profile is
# given here so that the dependencies compiled for it are reused (without it: 25 min under load).
(cd "$work/empty" && CARGO_PROFILE_RELEASE_LTO=thin CARGO_PROFILE_RELEASE_CODEGEN_UNITS=4 \
    CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
    cargo install --locked --path "$work/crate/loopsafe-$version" --root "$work/cargo")
echo "cargo install from the packaged crate: $((SECONDS - cargo_started)) s"
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
(cd "$demo" && "$tools/bin/pre-commit" try-repo "$repo" loopsafe --files app.py) > "$work/hook-dirty.out" 2>&1
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
(cd "$demo" && "$tools/bin/pre-commit" try-repo "$repo" loopsafe --files app.py) > "$work/hook-clean.out" 2>&1 ||
    { cat "$work/hook-clean.out" >&2; fail "pre-commit: the hook failed on a clean file"; }
cat "$work/hook-clean.out"
grep -q "^loopsafe\.*Passed" "$work/hook-clean.out" || fail "pre-commit: the hook did not report Passed"

step "pre-commit with the published wheel (additional_dependencies), without the Rust toolchain"
# As the README documents for teams that do not want to build from source: a local hook whose
# environment pip-installs loopsafe from PyPI (here the wheel built above stands in for PyPI's), run
# with a PATH that has no cargo.
cat > "$demo/app.py" <<'PY'
import requests
from fastapi import FastAPI

app = FastAPI()


@app.get("/rates")
async def rates():
    return requests.get("https://rates.example.com/latest", timeout=5).json()
PY
cat > "$demo/.pre-commit-config.yaml" <<YAML
repos:
  - repo: local
    hooks:
      - id: loopsafe
        name: loopsafe
        entry: loopsafe check --no-color
        language: python
        additional_dependencies: ["loopsafe @ file://$wheel"]
        types: [python]
        require_serial: true
YAML
git -C "$demo" add app.py .pre-commit-config.yaml
no_cargo_path=/usr/local/bin:/usr/bin:/bin
PATH=$no_cargo_path command -v cargo > /dev/null 2>&1 && fail "cargo is on $no_cargo_path: the step would not show that Rust is not needed"
set +e
(cd "$demo" && PATH=$no_cargo_path "$tools/bin/pre-commit" run loopsafe --files app.py) > "$work/hook-wheel.out" 2>&1
status=$?
set -e
cat "$work/hook-wheel.out"
[ "$status" -eq 1 ] || fail "pre-commit (wheel): the hook exited $status on a blocking call, expected 1 (failed)"
grep -q "app.py:9:12: LS101 \[blocking-http\]" "$work/hook-wheel.out" ||
    fail "pre-commit (wheel): the hook did not report app.py:9:12 LS101"

step "PASS: manylinux2014 wheel (pip on two Pythons, uv), sdist, cargo install and both pre-commit hooks give a working loopsafe"
