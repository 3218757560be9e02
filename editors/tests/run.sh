#!/usr/bin/env bash
# The editor tests, each in the real editor inside a Debian sid chroot (editors/tests/sid-chroot.sh:
# built on the first run, about 10 minutes; reused afterwards). Run as root from anywhere:
#   editors/tests/run.sh
# The server binary is LOOPSAFE_BIN (default <repo>/target/release/loopsafe, built first if missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
chroot=editors/tests/sid-chroot.sh

bin=${LOOPSAFE_BIN:-$repo/target/release/loopsafe}
if [ ! -x "$bin" ]; then
    cargo build --release --locked -p loopsafe
fi
bin=$(realpath "$bin")

start=$SECONDS
"$chroot"
echo "editors: sid chroot ready in $((SECONDS - start))s"

# The repository (and the binary, wherever it is) at the same paths inside the chroot.
binds=(-b "$repo")
case "$bin" in "$repo"/*) ;; *) binds+=(-b "$(dirname "$bin")") ;; esac
run() { "$chroot" exec "${binds[@]}" -e LOOPSAFE_BIN="$bin" -- "$@"; }

echo "editors: Neovim"
run nvim --headless -l editors/tests/neovim/test.lua
echo "editors: Helix"
run editors/tests/helix/test.sh
