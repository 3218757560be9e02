#!/usr/bin/env bash
# Fetch the applications pinned in bench/precision/apps.txt and unpack their .py files.
#
#   bench/precision/fetch_apps.sh      # -> bench/.corpus/apps/<app>/...   (wheels in bench/.corpus/wheels-apps)
#
# Wheels are downloaded with pip --require-hashes --no-deps (reused when present); nothing is installed.
# The litellm wheel is platform-specific (cp310-abi3, manylinux_2_28 x86_64): it is fetched for that
# platform whatever the host, so the pinned hash holds. Prints the apps directory as the last line.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python3}"
CORPUS="$(cd "$HERE/.." && pwd)/.corpus"
WHEELS="$CORPUS/wheels-apps"
OUT="$CORPUS/apps"
mkdir -p "$WHEELS" "$OUT"
grep -E '==' "$HERE/apps.txt" > "$WHEELS/pins.txt"
"$PY" -m pip download --quiet --no-deps --require-hashes --only-binary=:all: \
  --platform manylinux_2_28_x86_64 --python-version 3.12 \
  -r "$WHEELS/pins.txt" -d "$WHEELS"
"$PY" - "$WHEELS" "$OUT" <<'PYEOF'
import hashlib, pathlib, re, shutil, sys, zipfile
wheels, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for line in (wheels / "pins.txt").read_text().splitlines():
    name, sha = re.match(r"^(\S+)==\S+ --hash=sha256:([0-9a-f]{64})", line).groups()
    whl = next(w for w in wheels.glob("*.whl") if hashlib.sha256(w.read_bytes()).hexdigest() == sha)
    dest = out / name
    if dest.exists():
        shutil.rmtree(dest)
    n = lines = 0
    with zipfile.ZipFile(whl) as z:
        for m in z.namelist():
            if m.endswith(".py"):
                z.extract(m, dest)
                n += 1
                lines += z.read(m).count(b"\n")
    print(f"{name}: {n} files, {lines} lines", file=sys.stderr)
PYEOF
echo "$OUT"
