#!/usr/bin/env bash
# Packages the VS Code extension into a .vsix for one platform, with the loopsafe binary bundled in
# bundled/bin/. Usage: editors/vscode/package.sh [OUT.vsix]
#   LOOPSAFE_BIN  the binary to bundle (default: ./target/release/loopsafe of this checkout)
#   VSCE_TARGET   the vsce platform target (default: this machine's, e.g. linux-x64); for another
#                 platform's target, LOOPSAFE_BIN is that platform's binary (the release workflow
#                 packages every target on Linux): it is then not run here, and stripped only with
#                 STRIP set to a strip that reads its format (llvm-strip reads ELF, Mach-O and PE)
#   STRIP         the strip command (default: strip, for this machine's binaries only)
# Prints the path of the .vsix on its last line.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${LOOPSAFE_BIN:-$root/target/release/loopsafe}"

if [ ! -x "$bin" ]; then
    echo "package.sh: no loopsafe binary at $bin (run: cargo build --release -p loopsafe, or set LOOPSAFE_BIN)" >&2
    exit 2
fi

case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) host=linux-x64 ;;
    Linux-aarch64 | Linux-arm64) host=linux-arm64 ;;
    Linux-armv7l) host=linux-armhf ;;
    Darwin-x86_64) host=darwin-x64 ;;
    Darwin-arm64) host=darwin-arm64 ;;
    *) host= ;;
esac
target="${VSCE_TARGET:-$host}"
if [ -z "$target" ]; then
    echo "package.sh: unknown platform $(uname -s)-$(uname -m); set VSCE_TARGET" >&2
    exit 2
fi
# The extension looks for bundled/bin/loopsafe.exe on Windows, bundled/bin/loopsafe elsewhere.
case "$target" in
    win32-*) exe=loopsafe.exe ;;
    linux-* | alpine-* | darwin-*) exe=loopsafe ;;
    *)
        echo "package.sh: unknown vsce target $target (win32-x64, win32-arm64, linux-x64, linux-arm64, linux-armhf, alpine-x64, alpine-arm64, darwin-x64, darwin-arm64)" >&2
        exit 2
        ;;
esac
# A binary of this machine's platform is stripped and run once before it is bundled.
native=false
[ "$target" = "$host" ] && native=true
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
# Another platform's binary is stripped with $STRIP only.
strip_cmd=${STRIP:-}
if [ -z "$strip_cmd" ] && $native && command -v strip >/dev/null 2>&1; then
    strip_cmd=strip
fi
if [ -n "$strip_cmd" ]; then
    "$strip_cmd" -o "bundled/bin/$exe" "$bin"
else
    cp "$bin" "bundled/bin/$exe"
fi
chmod 755 "bundled/bin/$exe"
if $native; then
    "bundled/bin/$exe" --version >&2
fi

# vsce runs `vscode:prepublish` (type check, then esbuild into out/extension.js); the bundle has no
# runtime node_modules, hence --no-dependencies.
npx --no-install vsce package --target "$target" --no-dependencies --skip-license --out "$out" >&2
echo "$out"
