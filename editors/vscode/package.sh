#!/usr/bin/env bash
# Packages the VS Code extension into a .vsix for one platform, with the loopsafe binary bundled in
# bundled/bin/. Usage: editors/vscode/package.sh [OUT.vsix]
#   LOOPSAFE_BIN  the binary to bundle (default: ./target/release/loopsafe of this checkout)
#   VSCE_TARGET   the vsce platform target (default: this machine's, e.g. linux-x64)
# Prints the path of the .vsix on its last line.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${LOOPSAFE_BIN:-$root/target/release/loopsafe}"

if [ ! -x "$bin" ]; then
    echo "package.sh: no loopsafe binary at $bin (run: cargo build --release -p loopsafe, or set LOOPSAFE_BIN)" >&2
    exit 2
fi

target="${VSCE_TARGET:-}"
if [ -z "$target" ]; then
    case "$(uname -s)-$(uname -m)" in
        Linux-x86_64) target=linux-x64 ;;
        Linux-aarch64 | Linux-arm64) target=linux-arm64 ;;
        Linux-armv7l) target=linux-armhf ;;
        Darwin-x86_64) target=darwin-x64 ;;
        Darwin-arm64) target=darwin-arm64 ;;
        *)
            echo "package.sh: unknown platform $(uname -s)-$(uname -m); set VSCE_TARGET" >&2
            exit 2
            ;;
    esac
fi
version="$(node -p 'require(process.argv[1]).version' "$here/package.json")"
out="${1:-$here/loopsafe-$target-$version.vsix}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac

cd "$here"
# The lock file pins the build tools (esbuild, TypeScript, vsce); node_modules is reused when present.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
fi

rm -rf bundled
mkdir -p bundled/bin
# Debug line tables are of no use to users: strip them when strip is there (the .vsix is 4x smaller).
if command -v strip >/dev/null 2>&1; then
    strip -o bundled/bin/loopsafe "$bin"
else
    cp "$bin" bundled/bin/loopsafe
fi
chmod 755 bundled/bin/loopsafe
bundled/bin/loopsafe --version >&2

# vsce runs `vscode:prepublish` (type check, then esbuild into out/extension.js); the bundle has no
# runtime node_modules, hence --no-dependencies.
npx --no-install vsce package --target "$target" --no-dependencies --skip-license --out "$out" >&2
echo "$out"
