#!/usr/bin/env python3
"""flake8-async's own test files for its blocking-call rules as a second suite (issue 12).

flake8-async annotates every line its ASYNC2xx rules must report (`# ASYNC210: 4, 'requests.get'`) in
`tests/eval_files/async2*.py` of its sdist. This script downloads the pinned sdist from PyPI, runs
`loopsafe check --output-format json` on those files and compares, line by line:

- recall: annotated lines on which loopsafe reports something, over annotated lines;
- precision: loopsafe's reported lines that carry an annotation, over loopsafe's reported lines.

Every miss and every extra line is printed with its text, to be read by hand: flake8-async matches names
(`urlopen()` with no import is an error there) where loopsafe resolves them, so a miss is not always a
defect. Skipped: `async200.py` (it tests flake8-async's own option syntax for user-defined blocking
calls) and the trio/anyio twins of files that have an asyncio variant (same lines).

    python3 bench/flake8_async_eval.py --loopsafe target/release/loopsafe [--keep DIR] [--json]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "26.8.1"
# One file per pair: the asyncio variant where flake8-async has one (loopsafe is about asyncio apps).
SKIP = {"async200.py", "async22x.py", "async23x.py", "async232.py", "async250_multi_library.py",
        "async251_multi_library.py"}
ANNOTATION = re.compile(r"#\s*(ASYNC2\d\d)(?:_asyncio)?:")
# flake8-async's own "not caught yet" marks: sites it should report and does not.
SHOULD = re.compile(r"#\s*should error\b")
# Modules the files call without importing them (flake8-async matches names; loopsafe resolves them, as
# Python does): the script appends the import a real file would have, after the last line, so that line
# numbers stay. A bare name (`urlopen()` with no import) is left as it is.
MODULES = ("os", "subprocess", "io", "time", "asyncio", "sys", "urllib", "socket", "sqlite3", "httpx", "httpx2",
           "urllib3", "requests")


def fetch(dest: Path) -> list[Path]:
    """The eval files of the pinned sdist, extracted into dest."""
    sdist = dest / f"flake8_async-{VERSION}.tar.gz"
    if not sdist.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                        "--dest", str(dest), f"flake8-async=={VERSION}"], check=True)
    files = []
    with tarfile.open(sdist) as tar:
        for m in tar.getmembers():
            name = os.path.basename(m.name)
            if "/tests/eval_files/" in m.name and re.fullmatch(r"async2\w*\.py", name) and name not in SKIP:
                out = dest / "eval" / name
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(with_imports(tar.extractfile(m).read().decode("utf-8")), encoding="utf-8")
                files.append(out)
    if not files:
        sys.exit(f"no eval files found in {sdist}")
    return sorted(files)


def with_imports(text: str) -> str:
    missing = [m for m in MODULES if re.search(rf"(?<![\w.]){m}\.\w", text)
               and not re.search(rf"^\s*import (.*,\s*)?{m}(\s*,|\s*$|\.|\s+as\b)", text, re.M)]
    if not missing:
        return text
    return text.rstrip("\n") + "\n\n# added by bench/flake8_async_eval.py\n" + "".join(
        f"import {m}.request\n" if m == "urllib" else f"import {m}\n" for m in missing)


def expected(path: Path) -> dict[int, list[str]]:
    """Annotated lines (1-based) and their codes. A comment line is an explanation, not a site."""
    out = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith("#"):
            continue
        codes = ANNOTATION.findall(line) or (["should error"] if SHOULD.search(line) else [])
        if codes:
            out[n] = codes
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loopsafe", default="target/release/loopsafe")
    ap.add_argument("--keep", help="download and extract here (kept) instead of a temporary directory")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()
    binary = os.path.abspath(args.loopsafe)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        files = fetch(work)
        run = subprocess.run([binary, "check", "--no-cache", "--output-format", "json", *map(str, files)],
                             capture_output=True, text=True)
        if run.returncode not in (0, 1):
            sys.exit(f"loopsafe exited {run.returncode}: {run.stderr}")
        reported: dict[str, dict[int, list[dict]]] = {}
        for f in json.loads(run.stdout):
            reported.setdefault(os.path.basename(f["path"]), {}).setdefault(f["line"], []).append(f)

        total = {"annotated": 0, "found": 0, "reported": 0, "right": 0}
        rows, misses, extras = [], [], []
        for path in files:
            exp = expected(path)
            got = reported.get(path.name, {})
            lines = path.read_text(encoding="utf-8").splitlines()
            found = sum(1 for n in exp if n in got)
            right = sum(1 for n in got if n in exp)
            rows.append((path.name, len(exp), found, len(got), right))
            for k, v in zip(total, (len(exp), found, len(got), right)):
                total[k] += v
            misses += [f"{path.name}:{n}: {lines[n - 1].strip()}" for n in sorted(exp) if n not in got]
            extras += [f"{path.name}:{n}: [{got[n][0]['code']} {got[n][0]['severity']}] {lines[n - 1].strip()}"
                       for n in sorted(got) if n not in exp]

    recall = total["found"] / total["annotated"] if total["annotated"] else 1.0
    precision = total["right"] / total["reported"] if total["reported"] else 1.0
    if args.json:
        print(json.dumps({"version": VERSION, "recall": recall, "precision": precision, **total,
                          "misses": misses, "extras": extras}, indent=1))
        return 0
    print(f"flake8-async {VERSION} eval files, {len(files)} files (loopsafe: {binary})")
    print(f"{'file':28} {'annotated':>9} {'found':>6} {'reported':>8} {'right':>6}")
    for r in rows:
        print(f"{r[0]:28} {r[1]:9} {r[2]:6} {r[3]:8} {r[4]:6}")
    print(f"{'total':28} {total['annotated']:9} {total['found']:6} {total['reported']:8} {total['right']:6}")
    print(f"\nrecall {recall:.3f}, precision {precision:.3f} (lines)")
    print(f"\nmissed ({len(misses)}):", *misses, sep="\n  ")
    print(f"\nreported, not annotated ({len(extras)}):", *extras, sep="\n  ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
