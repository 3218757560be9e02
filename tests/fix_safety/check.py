"""The checks of tests/fix_safety/run.sh (which downloads the wheels and installs ruff first).

1. The `.py` files of each pinned wheel are extracted into WORK/sample/<dist>/ (a project of its own:
   a pyproject.toml at WORK/sample). A dry run (`--diff`) lists the files that get fixes; some of them
   are given a UTF-8 BOM, CRLF line endings or mode 0755 (every third, from the first, second and third
   on), the rest are left as shipped.
2. ruff (F821, F811, F401) on the sample; `loopsafe check --fix --unsafe-fixes`; ruff again.
3. Each changed file must compile (`compile()` on its bytes, as `python3 -m py_compile` does), keep its
   BOM, CRLF line endings and mode, and have no F821/F811/F401 that it did not have before (compared as
   (code, message) with line numbers dropped from the message, counted per file).
4. A second `--fix --unsafe-fixes` changes no file.
"""

import argparse
import collections
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

RULES = "F821,F811,F401"


def snapshot(root: Path) -> dict:
    return {p: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode)) for p in sorted(root.rglob("*.py"))}


def ruff(ruff_bin: str, root: Path) -> dict:
    """{path: Counter((code, message))} for the F821/F811/F401 findings under root."""
    p = subprocess.run(
        [ruff_bin, "check", "--isolated", "--no-cache", "--select", RULES, "--output-format", "json", "--exit-zero", str(root)],
        capture_output=True,
        text=True,
    )
    if p.returncode != 0:
        sys.exit(f"ruff failed ({p.returncode}):\n{p.stderr}")
    out: dict = collections.defaultdict(collections.Counter)
    for d in json.loads(p.stdout):
        message = re.sub(r"line \d+", "line N", d["message"])
        out[Path(d["filename"]).resolve()][(d["code"], message)] += 1
    return out


def loopsafe(binary: str, root: Path, *args: str) -> subprocess.CompletedProcess:
    p = subprocess.run([binary, "check", "--no-cache", *args, str(root)], capture_output=True, text=True, cwd=root)
    if p.returncode not in (0, 1):
        sys.exit(f"loopsafe check {' '.join(args)} exited {p.returncode}:\n{p.stderr[-4000:]}")
    return p


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--loopsafe", required=True)
    ap.add_argument("--ruff", required=True)
    ap.add_argument("--pins", required=True, type=Path)
    ap.add_argument("--wheels", required=True, type=Path)
    ap.add_argument("--work", required=True, type=Path)
    a = ap.parse_args()

    sample = (a.work / "sample").resolve()
    sample.mkdir(parents=True)
    (sample / "pyproject.toml").write_text('[project]\nname = "fix-safety-sample"\n')
    for line in a.pins.read_text().splitlines():
        m = re.match(r"^(\S+)==(\S+) ", line)
        if not m:
            continue
        name, version = m.groups()
        stem = name.replace("-", "_").replace(".", "_").lower()
        wheels = [w for w in a.wheels.glob("*.whl") if w.name.lower().startswith(f"{stem}-{version}-")]
        if len(wheels) != 1:
            sys.exit(f"the wheel of {name}=={version} is not in {a.wheels}")
        with zipfile.ZipFile(wheels[0]) as z:
            for member in z.namelist():
                if member.endswith(".py"):
                    z.extract(member, sample / stem)
    files = list(sample.rglob("*.py"))
    print(f"fix_safety: {len(files)} files from {len(a.pins.read_text().split())//2} wheels")

    # The files that get fixes, some given a BOM, CRLF endings or mode 0755.
    dry = loopsafe(a.loopsafe, sample, "--diff", "--unsafe-fixes")
    fixed = sorted({sample / m.group(1) for m in re.finditer(r"^\+\+\+ b/(.+)$", dry.stdout, re.M)} | {
        Path(m.group(1)) for m in re.finditer(r"^\+\+\+ (/.+)$", dry.stdout, re.M)})
    fixed = [p.resolve() for p in fixed if p.exists()]
    if len(fixed) < 20:
        sys.exit(f"only {len(fixed)} files get fixes: the sample does not test much\n{dry.stderr}")
    bom, crlf, mode = set(), set(), set()
    for i, p in enumerate(fixed):
        data = p.read_bytes()
        if i % 3 == 0 and not data.startswith(b"\xef\xbb\xbf"):
            p.write_bytes(b"\xef\xbb\xbf" + data)
        elif i % 3 == 1 and b"\r\n" not in data:
            p.write_bytes(data.replace(b"\n", b"\r\n"))
        elif i % 3 == 2:
            p.chmod(0o755)
    for p in files:
        data = p.read_bytes()
        if data.startswith(b"\xef\xbb\xbf"):
            bom.add(p.resolve())
        if b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b""):
            crlf.add(p.resolve())
        if stat.S_IMODE(p.stat().st_mode) & 0o111:
            mode.add(p.resolve())

    before = snapshot(sample)
    ruff_before = ruff(a.ruff, sample)
    first = loopsafe(a.loopsafe, sample, "--fix", "--unsafe-fixes")
    after = snapshot(sample)
    ruff_after = ruff(a.ruff, sample)
    changed = [p for p in after if after[p][0] != before[p][0]]
    print(f"fix_safety: {first.stderr.strip().splitlines()[-1] if first.stderr.strip() else '(no summary)'}")
    print(f"fix_safety: {len(changed)} files changed ({len(bom & set(changed))} with a BOM, "
          f"{len(crlf & set(changed))} CRLF, {len(mode & set(changed))} executable)")

    failures = []
    for p in changed:
        rel = p.relative_to(sample)
        data, perm = after[p]
        try:
            compile(data, str(rel), "exec")
        except SyntaxError as e:
            failures.append(f"{rel}:{e.lineno}: does not compile after the fixes: {e.msg}")
        if p in bom and not data.startswith(b"\xef\xbb\xbf"):
            failures.append(f"{rel}: its UTF-8 BOM was dropped")
        if p in crlf and b"\n" in data.replace(b"\r\n", b""):
            failures.append(f"{rel}: CRLF line endings not kept (a bare LF was written)")
        if perm != before[p][1]:
            failures.append(f"{rel}: mode {oct(before[p][1])} became {oct(perm)}")
        new = ruff_after.get(p, collections.Counter()) - ruff_before.get(p, collections.Counter())
        for (code, message), n in sorted(new.items()):
            failures.append(f"{rel}: new {code} ({n}x): {message}")
    if not changed:
        failures.append("--fix --unsafe-fixes changed no file")

    second = loopsafe(a.loopsafe, sample, "--fix", "--unsafe-fixes")
    again = snapshot(sample)
    moved = [p.relative_to(sample) for p in again if again[p] != after[p]]
    if moved:
        failures.append(f"a second --fix --unsafe-fixes changed {len(moved)} files: {', '.join(map(str, moved[:10]))}")
        failures.append(second.stderr.strip())

    if failures:
        print("\n".join(f"fix_safety: FAIL {f}" for f in failures), file=sys.stderr)
        sys.exit(1)
    print("fix_safety: OK (compiles, no new F821/F811/F401, BOM/CRLF/modes kept, a second run changes nothing)")


if __name__ == "__main__":
    main()
