#!/usr/bin/env bash
# The VS Code extension tested in a real VS Code: packages the .vsix (editors/vscode/package.sh, with the
# release binary), then inside the Debian sid chroot (node 24, chromium) installs it into code-server and
# drives code-server's workbench with playwright-core in headless Chromium (test.js says what it checks).
#
#   bash editors/tests/sid-chroot.sh        # once: builds the chroot (reused later)
#   bash editors/tests/vscode/run.sh        # exits non-zero on failure
#
#   LOOPSAFE_BIN    the binary to bundle (default ./target/release/loopsafe; built by cargo build --release)
#   LOOPSAFE_VSIX   test this .vsix instead of packaging one
#   LOOPSAFE_SID    the chroot (default /var/tmp/loopsafe-sid)
#   KEEP=1          keep the run's directory (code-server logs, screenshots) even on success
#   SCREENSHOT=FILE save the picture of the chain finding's hover there (editors/vscode/images/chain.png
#                   in the extension's README is made this way)
#
# code-server and playwright-core are installed once into /var/cache/loopsafe-vscode-test inside the
# chroot (pinned by package.json and package-lock.json next to this script) and reused; code-server's
# native modules are compiled there, so the chroot gets build-essential and libkrb5-dev the first time.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
SID=${LOOPSAFE_SID:-/var/tmp/loopsafe-sid}
SID_SCRIPT=${LOOPSAFE_SID_SCRIPT:-$root/editors/tests/sid-chroot.sh}
CACHE=/var/cache/loopsafe-vscode-test # inside the chroot

log() { printf 'vscode-test: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ -e "$SID/.loopsafe-ready" ] || die "no Debian sid chroot at $SID: run 'bash editors/tests/sid-chroot.sh' first"
[ -r "$SID_SCRIPT" ] || die "no $SID_SCRIPT"
in_sid() { LOOPSAFE_SID="$SID" bash "$SID_SCRIPT" exec "$@"; }

# 1. Build tools for code-server's native modules (node-pty, spdlog, sqlite3, kerberos…).
need=(build-essential pkg-config python3 libkrb5-dev)
if ! in_sid -- dpkg -s "${need[@]}" >/dev/null 2>&1; then
    log "installing ${need[*]} into the chroot"
    apt=(apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
    in_sid -e DEBIAN_FRONTEND=noninteractive -- "${apt[@]}" install -y --no-install-recommends "${need[@]}" >&2 || {
        in_sid -e DEBIAN_FRONTEND=noninteractive -- "${apt[@]}" update >&2
        in_sid -e DEBIAN_FRONTEND=noninteractive -- "${apt[@]}" install -y --no-install-recommends "${need[@]}" >&2
    }
fi

# 2. code-server and playwright-core, once per package.json.
mkdir -p "$SID/var/cache"
exec 8>"$SID$CACHE.lock"
flock 8
if ! cat "$here/package.json" "$here/package-lock.json" | cmp -s - "$SID$CACHE/.installed"; then
    log "installing code-server and playwright-core into $CACHE in the chroot (first time: several minutes)"
    rm -rf "$SID$CACHE"
    mkdir -p "$SID$CACHE"
    cp "$here/package.json" "$here/package-lock.json" "$SID$CACHE/"
    in_sid -- sh -c "cd $CACHE && npm ci --no-audit --no-fund --omit=dev" >&2
    in_sid -e HOME=/tmp -- "$CACHE/node_modules/.bin/code-server" --version >&2
    cat "$here/package.json" "$here/package-lock.json" > "$SID$CACHE/.installed"
fi
flock -u 8

# 3. This run's directory (bound into the chroot at the same path): the .vsix, the test, a copy of the
# example app (the quick fix edits it).
work="$(mktemp -d /var/tmp/loopsafe-vscode-test.XXXXXX)"
if [ -n "${LOOPSAFE_VSIX:-}" ]; then
    cp "$LOOPSAFE_VSIX" "$work/loopsafe.vsix"
elif command -v npm >/dev/null 2>&1; then
    "$root/editors/vscode/package.sh" "$work/loopsafe.vsix" >/dev/null
else
    # No node on the host: package inside the chroot (its node 24 works as well).
    bin="$(realpath "${LOOPSAFE_BIN:-$root/target/release/loopsafe}")"
    in_sid -b "$root" -b "$work" -b "$(dirname "$bin")" -e LOOPSAFE_BIN="$bin" -- \
        "$root/editors/vscode/package.sh" "$work/loopsafe.vsix" >/dev/null
fi
cp "$here/test.js" "$work/test.js"
mkdir -p "$work/fastapi_app"
(cd "$root/examples/fastapi_app" && tar --exclude=.loopsafe_cache --exclude=__pycache__ -cf - .) | tar -xf - -C "$work/fastapi_app"

# 4. The test.
status=0
shot=()
[ -n "${SCREENSHOT:-}" ] && shot=(-e VSCODE_TEST_SCREENSHOT="$work/chain.png")
in_sid -b "$work" -e VSCODE_TEST_CACHE="$CACHE" -e LOOPSAFE_VSIX="$work/loopsafe.vsix" -e VSCODE_TEST_WORK="$work" \
    "${shot[@]}" -- node "$work/test.js" || status=$?
if [ "$status" -eq 0 ] && [ -n "${SCREENSHOT:-}" ]; then
    cp "$work/chain.png" "$SCREENSHOT"
    log "screenshot: $SCREENSHOT"
fi
if [ "$status" -ne 0 ]; then
    log "FAILED (status $status); screenshots and logs kept in $work/artifacts, code-server's logs in $work/code-server-user/logs"
    exit 1
fi
if [ -n "${KEEP:-}" ]; then
    log "passed; kept $work"
else
    rm -rf "$work"
    log "passed"
fi
