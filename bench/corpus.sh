#!/usr/bin/env bash
# Fetch the pinned benchmark corpus (see /work/shared/benchmark-corpus.md) and unpack its .py files.
#
#   bench/corpus.sh            # full corpus: 33 wheels -> bench/.corpus/full/<dist>/...
#   bench/corpus.sh --small    # 4 wheels (aiohttp, httpx, starlette, uvicorn) -> bench/.corpus/small/<dist>/...
#
# Wheels are downloaded with pip --require-hashes into bench/.corpus/wheels (reused when present and their
# sha256 matches a pin). Only the `.py` members of each wheel are extracted; nothing is installed.
# The final file/line/byte counts are checked against the numbers in the corpus doc; a mismatch exits 1.
# Prints the corpus directory as the last line of stdout.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python3}"
SET=full
for arg in "$@"; do
  case "$arg" in
    --small) SET=small ;;
    --full) SET=full ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "corpus.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

# Expected numbers from benchmark-corpus.md.
SMALL_DISTS="aiohttp httpx starlette uvicorn"
if [ "$SET" = full ]; then
  EXP_FILES=13567; EXP_LINES=2719672; EXP_BYTES=95053600; EXP_WHEELS=33
else
  EXP_FILES=158; EXP_LINES=51909; EXP_BYTES=1824677; EXP_WHEELS=4
fi

CORPUS="$HERE/.corpus"
WHEELS="$CORPUS/wheels"
OUT="$CORPUS/$SET"
mkdir -p "$WHEELS" "$OUT"

PINS="$HERE/pins.txt"
if [ "$SET" = small ]; then
  PINS="$CORPUS/pins-small.txt"
  : > "$PINS"
  for d in $SMALL_DISTS; do grep -E "^$d==" "$HERE/pins.txt" >> "$PINS"; done
fi
n_pins=$(grep -c '==' "$PINS")
if [ "$n_pins" -ne "$EXP_WHEELS" ]; then
  echo "corpus.sh: expected $EXP_WHEELS pins in $PINS, found $n_pins" >&2; exit 1
fi

# Which pinned hashes are not yet present in wheels/?
missing=$("$PY" - "$PINS" "$WHEELS" <<'EOF'
import hashlib, pathlib, re, sys
pins, wheels = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
have = set()
for w in wheels.glob("*.whl"):
    have.add(hashlib.sha256(w.read_bytes()).hexdigest())
for line in pins.read_text().splitlines():
    m = re.search(r"^(\S+)==\S+ --hash=sha256:([0-9a-f]{64})", line)
    if m and m.group(2) not in have:
        print(m.group(1))
EOF
)

if [ -n "$missing" ]; then
  echo "corpus.sh: downloading $(echo "$missing" | wc -w) wheel(s): $(echo $missing)" >&2
  # Exactly the command from benchmark-corpus.md (cp313 manylinux wheels for the CPython-specific dists).
  "$PY" -m pip download --no-deps --require-hashes --only-binary=:all: --ignore-requires-python \
    --python-version 3.13 --implementation cp --abi cp313 \
    --platform manylinux_2_17_x86_64 --platform manylinux_2_5_x86_64 \
    -r "$PINS" -d "$WHEELS" >&2
else
  echo "corpus.sh: all $n_pins wheels already in $WHEELS (sha256 verified)" >&2
fi

# Extract .py files (idempotent: a per-dist marker records the wheel hash that was extracted) and count.
"$PY" - "$PINS" "$WHEELS" "$OUT" "$EXP_FILES" "$EXP_LINES" "$EXP_BYTES" <<'EOF'
import hashlib, pathlib, re, shutil, sys, zipfile
pins, wheels, out = map(pathlib.Path, sys.argv[1:4])
exp_files, exp_lines, exp_bytes = map(int, sys.argv[4:7])

by_hash = {hashlib.sha256(w.read_bytes()).hexdigest(): w for w in wheels.glob("*.whl")}
dists = []
for line in pins.read_text().splitlines():
    m = re.search(r"^(\S+)==(\S+) --hash=sha256:([0-9a-f]{64})", line)
    if not m:
        continue
    name, version, sha = m.groups()
    dists.append(name)
    whl = by_hash.get(sha)
    if whl is None:
        sys.exit(f"corpus.sh: no wheel with sha256 {sha} for {name}=={version} in {wheels}")
    dest = out / name
    marker = out / f".{name}.extracted"
    if marker.exists() and marker.read_text().strip() == sha and dest.is_dir():
        continue
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    with zipfile.ZipFile(whl) as z:
        for info in z.infolist():
            p = pathlib.PurePosixPath(info.filename)
            if info.is_dir() or p.suffix != ".py":
                continue
            if p.is_absolute() or ".." in p.parts:
                sys.exit(f"corpus.sh: refusing unsafe path {info.filename} in {whl.name}")
            target = dest.joinpath(*p.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(z.read(info))
    marker.write_text(sha + "\n")
    print(f"corpus.sh: extracted {name}=={version} from {whl.name}", file=sys.stderr)

# Anything in OUT that is not a pinned dist is stale (e.g. from an older pin set).
for child in out.iterdir():
    if child.is_dir() and child.name not in dists:
        sys.exit(f"corpus.sh: stale directory {child} is not in the pins; remove it")

files = lines = nbytes = 0
per = []
for name in dists:
    f = l = b = 0
    for p in (out / name).rglob("*.py"):
        data = p.read_bytes()
        f += 1
        l += data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
        b += len(data)
    per.append((name, f, l, b))
    files, lines, nbytes = files + f, lines + l, nbytes + b

for name, f, l, b in sorted(per, key=lambda r: -r[2]):
    print(f"  {name:<22} {f:>6} files {l:>9} lines {b:>11} bytes", file=sys.stderr)
print(f"corpus: {out}", file=sys.stderr)
print(f"  files {files:>9,}  (expected {exp_files:,})", file=sys.stderr)
print(f"  lines {lines:>9,}  (expected {exp_lines:,})", file=sys.stderr)
print(f"  bytes {nbytes:>9,}  (expected {exp_bytes:,})", file=sys.stderr)
bad = [k for k, got, exp in (("files", files, exp_files), ("lines", lines, exp_lines), ("bytes", nbytes, exp_bytes)) if got != exp]
if bad:
    print(f"corpus.sh: MISMATCH in {', '.join(bad)} against benchmark-corpus.md -- the corpus is not the pinned one", file=sys.stderr)
    sys.exit(1)
print("corpus.sh: counts match benchmark-corpus.md", file=sys.stderr)
EOF

echo "$OUT"
