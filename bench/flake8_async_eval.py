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

Two figures are printed, always both:

- raw: the annotations as they are;
- judged: the annotations corrected by `JUDGED` below, the lines where a careful reviewer of async Python
  disagrees with flake8-async (issue 12: "where this issue is silent, do what a careful reviewer of async
  Python would"). A `not a site` entry takes an annotated line out of the truth, a `site` entry adds an
  unannotated one; what loopsafe reports is never changed. Every entry says why. A judged line loopsafe
  still gets wrong is printed too (`judged, loopsafe disagrees`), and an entry that no longer matches the
  file (an annotation added or removed upstream) stops the script.

    python3 bench/flake8_async_eval.py --loopsafe target/release/loopsafe [--keep DIR] [--json]
"""

from __future__ import annotations

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

# The disagreements read by hand, (file, line) -> (verdict, reason). "not a site": annotated, but a careful
# reviewer would not report it; "site": not annotated, but a blocking call a reviewer would report.
NOT_SITE, SITE = "not a site", "site"
UNBOUND = ("never imported or bound in the file (a NameError when it runs); flake8-async matches the spelling, "
           "loopsafe resolves names and reports the call once imported (tests/fixtures/blocking/imported_names.py)")
PURE = ("pure string work on a path, no system call: issue 12's cost model reports none of them "
        "(`os.path.normpath`, `PurePath` methods)")
POOL = ("`foo = PoolManager()`: `PoolManager.request` sends a request whatever the method string (urllib3 "
        "upper-cases and sends it); flake8-async asks for an HTTP verb literal because it matches "
        "`x.request(\"GET\")` on any receiver, loopsafe knows the receiver (the file elides the other arguments)")
OPEN_232 = ("`open()` blocks (ASYNC230's site, annotated in async23x_asyncio.py); this file tests ASYNC232 only, "
            "and flake8-async's test runner enables only the codes a file annotates")
JUDGED: dict[tuple[str, int], tuple[str, str]] = {
    ("async210.py", 50): (NOT_SITE, "`request` " + UNBOUND),
    ("async210.py", 51): (NOT_SITE, "`urlopen` " + UNBOUND),
    ("async212.py", 37): (NOT_SITE, "`Optional` " + UNBOUND),
    ("async240.py", 8): (NOT_SITE, "`normpath`: " + PURE),
    ("async240.py", 12): (NOT_SITE, "`os.path._path_normpath` (the C `normpath`): " + PURE),
    ("async240.py", 13): (NOT_SITE, "`os.path.normpath`: " + PURE),
    ("async232_asyncio.py", 233): (NOT_SITE, ("`if f is None: f.read()`: `f` is None there, the call raises "
                                    "AttributeError before any I/O (flake8-async: 'the type checker is very naive')")),
    ("async232_asyncio.py", 239): (NOT_SITE, ("after `if isinstance(f, TextIOWrapper): return`, `f` is None: "
                                    "the call raises AttributeError before any I/O")),
    ("async211.py", 19): (SITE, POOL),
    ("async211.py", 20): (SITE, POOL),
    ("async211.py", 22): (SITE, POOL),
    ("async211.py", 23): (SITE, POOL),
    ("async211.py", 24): (SITE, POOL),
    ("async211.py", 25): (SITE, POOL),
    ("async211.py", 26): (SITE, POOL + "; `REQUEST` is sent as the method"),
    ("async212.py", 98): (SITE, ("`from httpx import Client`: `Client().send()` on an httpx client (the file: "
                           "'not implemented')")),
    ("async232_asyncio.py", 71): (SITE, "`f: None | TextIOWrapper | None`: a file, or None (the file: 'not handled')"),
    ("async232_asyncio.py", 76): (SITE, ("`f: TextIOWrapper | int`: when it is the file, the read blocks "
                                   "(the file: 'not handled')")),
    ("async232_asyncio.py", 103): (SITE, "`for f in lf` over `list[TextIOWrapper]` (the file: 'not handled')"),
    ("async232_asyncio.py", 107): (SITE, OPEN_232),
    ("async232_asyncio.py", 112): (SITE, OPEN_232),
    ("async232_asyncio.py", 117): (SITE, OPEN_232),
    ("async232_asyncio.py", 122): (SITE, OPEN_232),
    ("async232_asyncio.py", 126): (SITE, OPEN_232),
    ("async232_asyncio.py", 131): (SITE, OPEN_232),
    ("async232_asyncio.py", 212): (SITE, "`x, y = open(\"\"), open(\"\")`: " + OPEN_232),
    ("async232_asyncio.py", 219): (SITE, "`x.y = open(\"\")`: " + OPEN_232),
    ("async232_asyncio.py", 264): (SITE, ("`return_textiowrapper()` runs `open()` on the loop (the read of its "
                                    "result, line 265, is annotated 'should error')")),
    ("async240.py", 32): (SITE, ("`os.path.abspath(\"\")` joins a relative path to `os.getcwd()`, a system call: "
                           "`relpath`, which flake8-async reports (lines 9, 28), is two `abspath` calls; a hint")),
}


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


def show(name: str, lines: list[str], got: dict[int, list[dict]], n: int) -> str:
    """One line to read by hand: where, what loopsafe reports there, the text, and the judgement if any."""
    tag = f"[{got[n][0]['code']} {got[n][0]['severity']}] " if n in got else ""
    verdict, why = JUDGED.get((name, n), ("", ""))
    return f"{name}:{n}: {tag}{lines[n - 1].strip()}" + (f"\n      judged {verdict}: {why}" if verdict else "")


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
            # An operation on a handle whose opening the finding reports (`f.read()` after `with
            # open(p) as f`) is shown as its related information (a `related` entry with a `message`),
            # not as a finding of its own: its line counts as reported, by that finding.
            for r in f.get("related", []):
                if "message" in r:
                    reported.setdefault(os.path.basename(r["path"]), {}).setdefault(r["line"], []).append(f)

        total = {"annotated": 0, "found": 0, "reported": 0, "right": 0}
        judged = {"truth": 0, "found": 0, "reported": 0, "right": 0}
        rows, misses, extras, disagree, stale = [], [], [], [], []
        for path in files:
            exp = expected(path)
            got = reported.get(path.name, {})
            lines = path.read_text(encoding="utf-8").splitlines()
            found = sum(1 for n in exp if n in got)
            right = sum(1 for n in got if n in exp)
            rows.append((path.name, len(exp), found, len(got), right))
            for k, v in zip(total, (len(exp), found, len(got), right)):
                total[k] += v

            misses += [show(path.name, lines, got, n) for n in sorted(exp) if n not in got]
            extras += [show(path.name, lines, got, n) for n in sorted(got) if n not in exp]

            verdicts = {n: v for (name, n), (v, _) in JUDGED.items() if name == path.name}
            stale += [f"{path.name}:{n}: judged {v}, but the line is {'' if n in exp else 'not '}annotated"
                      for n, v in sorted(verdicts.items()) if (v == NOT_SITE) != (n in exp) or n > len(lines)]
            truth = {n for n in exp if verdicts.get(n) != NOT_SITE} | {n for n, v in verdicts.items() if v == SITE}
            judged["truth"] += len(truth)
            judged["found"] += sum(1 for n in truth if n in got)
            judged["reported"] += len(got)
            judged["right"] += sum(1 for n in got if n in truth)
            disagree += [show(path.name, lines, got, n) for n in sorted(truth ^ set(got))]
    if stale:
        sys.exit("JUDGED no longer matches the eval files:\n  " + "\n  ".join(stale))

    recall = total["found"] / total["annotated"] if total["annotated"] else 1.0
    precision = total["right"] / total["reported"] if total["reported"] else 1.0
    judged_recall = judged["found"] / judged["truth"] if judged["truth"] else 1.0
    judged_precision = judged["right"] / judged["reported"] if judged["reported"] else 1.0
    if args.json:
        print(json.dumps({"version": VERSION, "recall": recall, "precision": precision, **total,
                          "judged": {"recall": judged_recall, "precision": judged_precision, **judged},
                          "misses": misses, "extras": extras, "judged_disagreements": disagree}, indent=1))
        return 0
    print(f"flake8-async {VERSION} eval files, {len(files)} files (loopsafe: {binary})")
    print(f"{'file':28} {'annotated':>9} {'found':>6} {'reported':>8} {'right':>6}")
    for r in rows:
        print(f"{r[0]:28} {r[1]:9} {r[2]:6} {r[3]:8} {r[4]:6}")
    print(f"{'total':28} {total['annotated']:9} {total['found']:6} {total['reported']:8} {total['right']:6}")
    print(f"\nraw (as annotated): recall {recall:.3f} ({total['found']}/{total['annotated']}), "
          f"precision {precision:.3f} ({total['right']}/{total['reported']}) (lines)")
    print(f"judged ({len(JUDGED)} lines read by hand): recall {judged_recall:.3f} "
          f"({judged['found']}/{judged['truth']}), precision {judged_precision:.3f} ({judged['right']}/{judged['reported']})")
    print(f"\nmissed ({len(misses)}):", *misses, sep="\n  ")
    print(f"\nreported, not annotated ({len(extras)}):", *extras, sep="\n  ")
    print(f"\njudged, loopsafe disagrees ({len(disagree)}):", *disagree, sep="\n  ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
