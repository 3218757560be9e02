#!/usr/bin/env python3
"""How the cost of fixes grows with the number of findings in one file (issue 18).

Generates one Python file with N findings (a FastAPI app whose coroutines call `time.sleep`,
`requests.get`, `open(...)` in a `with` and `open(...).read()`, so that offload, async-sleep, httpx,
async-file and make-sync fixes are all computed), then times `loopsafe check` on it with the text
format (no fixes computed), `--output-format json` (every fix of every finding), `sarif`, `--diff` and
`--fix --unsafe-fixes` (on a fresh copy each run). Prints medians of the wall time and of the CPU time
(user + system: steadier on a busy machine), the CPU time per finding, and the peak memory (max RSS).

    cargo build --release -p loopsafe
    python3 bench/fix_scaling.py                      # N = 500, 2000, 10000; 3 runs each
    python3 bench/fix_scaling.py --sizes 500,2000,10000,50000 --runs 5
    python3 bench/fix_scaling.py --bin /tmp/loopsafe-old --modes json
    python3 bench/fix_scaling.py --app bench/.corpus/full/prefect --modes text,json,sarif   # a real project

    python3 bench/fix_scaling.py --cases session --session-sizes 250,1000,4000   # one requests.Session block
    python3 bench/fix_scaling.py --cases modclient --modes text,json        # module-level clients
    python3 bench/fix_scaling.py --cases refused --sizes 500 --modes text,fix --instructions   # refused chains x rounds
    python3 bench/fix_scaling.py --old-bin /tmp/loopsafe-old --app DIR --app DIR2  # before/after in one run

`--cache` runs every check with a warm cache (`--cache-dir`, one per build, filled by an untimed run of
the same mode first) instead of `--no-cache`: the text format then analyses nothing, and JSON takes the
fixes of unchanged files from the cache too (a cached analysis keeps no tree; the fixes a JSON run listed
are kept beside it). `--cache=analysis` fills the cache with a text run instead: JSON then finds every
fix again (a JSON run after a text run).

`--instructions` counts the instructions of one run of each mode and build under valgrind's callgrind
(stable on a busy machine, where times are noise) and prints the ratios to text; slow (about 50x).

`--app` may be given several times. `--old-bin` times a second build alongside (its rows say `old`,
its runs interleaved with the others' so that both meet the same machine load) and compares what the
two print, byte for byte, in every mode (`same output` or `OUTPUT DIFFERS`).

`--cases session` times one `with requests.Session() as s:` block of N `s.get(...)` calls in a coroutine:
every call's finding is fixed by the same rewrite of the whole block (httpx), the fix whose JSON once grew
with the square of N. The `out KB` column is the size of what the run printed (and `B/finding` per
finding): it must stay flat per finding too. After each size, the ratios of JSON and SARIF to text.

Linear means the time per finding stays flat as N grows, and JSON costs about what text costs.
"""

import argparse
import atexit
import hashlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

MODES = ["text", "json", "sarif", "diff", "fix"]


def generate(n: int) -> str:
    """A file with `n` findings (each function holds one or two)."""
    out = ["import time", "", "import requests", "from fastapi import FastAPI", "", "app = FastAPI()", ""]
    findings, i = 0, 0
    while findings < n:
        k = i % 4
        if k == 0:
            out += [f"@app.get('/r{i}')", f"async def r{i}():", f"    time.sleep({i})", ""]
            findings += 1
        elif k == 1:
            out += [f"async def f{i}(u):", "    return requests.get(u)", ""]
            findings += 1
        elif k == 2:
            out += [f"async def g{i}(p):", "    with open(p) as f:", "        return f.read()", ""]
            findings += 2
        else:
            out += [f"async def h{i}(p):", "    return open(p).read()", ""]
            findings += 2
        i += 1
    return "\n".join(out) + "\n"


def generate_session(n: int) -> str:
    """One coroutine whose `requests.Session` block makes `n` requests (n findings, one shared fix)."""
    out = ["import requests", "", "", "async def fetch(urls):", "    with requests.Session() as s:"]
    out += [f"        s.get(urls[{i}])" for i in range(n)]
    return "\n".join(out) + "\n"


def generate_modclient(n: int) -> str:
    """`n` findings on three module-level clients (a `requests.Session()`, a `sqlite3.connect(...)`, a
    `redis.Redis()`): coroutines calling them directly, and coroutines calling sync helpers that do (chains,
    whose make-async fix looks the client up among the module's statements), with a module-level constant
    per function (many other top-level statements)."""
    out = ["import sqlite3", "", "import redis", "import requests", ""]
    out += ["_session = requests.Session()", "conn = sqlite3.connect('db.sqlite')", "cache = redis.Redis()", ""]
    calls = ["_session.get(x)", "cache.get(x)", "conn.execute(x)"]
    for i in range(n):
        k = i % 6
        out += [f"LIMIT_{i} = {i}", ""]
        if k < 3:
            out += [f"async def a{i}(x):", f"    return {calls[k]}", ""]
        else:
            out += [f"def h{i}(x):", f"    return {calls[k - 3]}", "", f"async def c{i}(x):", f"    return h{i}(x)", ""]
    return "\n".join(out) + "\n"


def generate_refused(n: int) -> dict:
    """Two modules: `db.py` with `n` chains that stay refused (a sync helper querying a module-level
    sqlite connection, called by a coroutine: neither made async nor offloaded), and `svc.py` with 12
    chains made async one per `--fix` round (a helper calling `time.sleep`), so that `--fix --unsafe-fixes`
    runs its 10 rounds and tries the `n` refused chains in each (issue 18: they were computed again in
    every round; now each is skipped while what its refusal read is unchanged)."""
    db = ["import sqlite3", "", "conn = sqlite3.connect('db.sqlite')", ""]
    for i in range(n):
        db += [f"def q{i}(x):", "    return conn.execute(x)", "", f"async def c{i}(x):", f"    return q{i}(x)", ""]
    svc = ["import time", ""]
    for i in range(12):
        svc += [f"def s{i}():", "    time.sleep(1)", "", f"async def t{i}():", f"    s{i}()", ""]
    return {"db.py": "\n".join(db) + "\n", "svc.py": "\n".join(svc) + "\n"}


GENERATORS = {
    "mixed": generate,
    "session": generate_session,
    "modclient": generate_modclient,
    "refused": generate_refused,
}


def measure(a, bins, path, mode):
    """{label: (median wall, median CPU, peak RSS KiB, last output bytes)} of `a.runs` runs of each
    binary in `bins` ({label: path}), interleaved."""
    samples = {label: ([], [], 0, b"") for label in bins}
    if a.cache:
        # Fill each build's cache first (untimed); a fresh one per mode.
        for binary in bins.values():
            shutil.rmtree(store_of(a.cache, binary), ignore_errors=True)
            run(binary, path() if callable(path) else path, a.fill or mode, a.timeout, a.cache)
    for _ in range(a.runs):
        for label, binary in bins.items():
            if a.cache and a.fill:
                # The analyses only, each time (a timed JSON run keeps its fixes).
                shutil.rmtree(store_of(a.cache, binary), ignore_errors=True)
                run(binary, path() if callable(path) else path, a.fill, a.timeout, a.cache)
            if callable(path):
                target = path()
            else:
                target = path
            t, cpu, rss, p = run(binary, target, mode, a.timeout, a.cache)
            times, cpus, peak, _ = samples[label]
            times.append(t)
            cpus.append(cpu)
            samples[label] = (times, cpus, max(peak, rss or 0), p.stdout)
    return {
        label: (statistics.median(t), statistics.median(c), peak, out) for label, (t, c, peak, out) in samples.items()
    }


def compare(results, mode) -> None:
    """With an old build: whether both printed the same bytes."""
    if "old" in results:
        same = results["old"][3] == results["new"][3]
        print(f"{'':>9} {mode}: {'same output' if same else 'OUTPUT DIFFERS'} (old vs new)", flush=True)


def store_of(cache: str, binary: str) -> str:
    """The cache directory of one build under `cache`."""
    return os.path.join(cache, hashlib.sha1(os.path.abspath(binary).encode()).hexdigest()[:12])


def check_args(binary: str, path: str, mode: str, cache=None):
    if cache:
        args = [binary, "check", "--cache-dir", store_of(cache, binary), "--exit-zero", path]
    else:
        args = [binary, "check", "--no-cache", "--exit-zero", path]
    if mode in ("json", "sarif"):
        args += ["--output-format", mode]
    elif mode == "diff":
        args += ["--diff"]
    elif mode == "fix":
        args += ["--fix", "--unsafe-fixes", "--output-format", "json"]
    return args


def instructions(a, bins, path, modes) -> None:
    """Instructions of one run of each mode and build (callgrind, all threads), and their ratio to text."""
    if not shutil.which("valgrind"):
        print("  (no valgrind: instructions not counted)")
        return
    for label, binary in bins.items():
        counts = {}
        for mode in modes:
            target = path() if callable(path) else path
            if a.cache:
                shutil.rmtree(store_of(a.cache, binary), ignore_errors=True)
                run(binary, target, a.fill or mode, a.timeout, a.cache)
                target = path() if callable(path) else path
            with tempfile.TemporaryDirectory() as out:
                args = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg"]
                args += check_args(binary, target, mode, a.cache)
                p = subprocess.run(args, capture_output=True, timeout=a.timeout * 100)
                found = [line for line in p.stderr.decode(errors="replace").splitlines() if "Collected :" in line]
                if not found:
                    sys.exit(f"callgrind gave no count:\n{p.stderr.decode(errors='replace')}")
                counts[mode] = int(found[-1].split(":")[-1].strip())
        base = counts.get("text")
        build = f" ({label})" if len(bins) > 1 else ""
        for mode, n in counts.items():
            ratio = f", {n / base:.2f}x text" if base and mode != "text" else ""
            print(f"{'':>9} {mode}{build}: {n / 1e9:.3f} G instructions{ratio}", flush=True)


def run(binary: str, path: str, mode: str, timeout: float, cache=None):
    """(wall seconds, CPU seconds, max RSS in KiB or None, the process) of one run; `cache`: a directory
    under which each build keeps its own cache."""
    args = check_args(binary, path, mode, cache)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    p = subprocess.run(args, capture_output=True, timeout=timeout)
    elapsed = time.perf_counter() - start
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    before, rss = r0.ru_maxrss, r1.ru_maxrss
    if p.returncode not in (0, 1):
        sys.exit(f"{' '.join(args)} exited {p.returncode}:\n{p.stderr.decode(errors='replace')}")
    # ru_maxrss of children is the maximum over all of them: only a rise is this run's.
    return elapsed, cpu, rss if rss > before else None, p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--bin", default=os.environ.get("LOOPSAFE_BIN", os.path.join(here, "..", "target", "release", "loopsafe")))
    ap.add_argument("--sizes", default="500,2000,10000", help="findings per file for the mixed case")
    ap.add_argument(
        "--cases",
        default="mixed,session",
        help="mixed (every fix kind), session (one shared fix), modclient (module-level clients), refused (chains refused in every --fix round)",
    )
    ap.add_argument("--session-sizes", default="250,1000", help="calls in the session block")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--app", action="append", help="time the modes on this project directory instead (repeatable)")
    ap.add_argument("--old-bin", help="another build to time in the same runs, and compare outputs with")
    ap.add_argument(
        "--cache",
        nargs="?",
        const="full",
        choices=["full", "analysis"],
        help="time with a warm cache (text/json/sarif only): filled by the same mode (full) or by a text run",
    )
    ap.add_argument("--instructions", action="store_true", help="also count instructions (valgrind callgrind)")
    a = ap.parse_args()
    bins = {"new": a.bin} if not a.old_bin else {"old": a.old_bin, "new": a.bin}
    modes = a.modes.split(",")
    for m in modes:
        if m not in MODES:
            sys.exit(f"unknown mode {m}: one of {', '.join(MODES)}")
    if a.cache:
        if set(modes) & {"fix", "diff"}:
            sys.exit("--cache times text, json and sarif only")
        a.fill = "text" if a.cache == "analysis" else None
        a.cache = tempfile.mkdtemp(prefix="loopsafe-bench-cache-")
        atexit.register(shutil.rmtree, a.cache, True)
    cases = a.cases.split(",")
    for c in cases:
        if c not in GENERATORS:
            sys.exit(f"unknown case {c}: one of {', '.join(GENERATORS)}")
    header = f"{'findings':>9} {'mode':>5} {'wall s':>8} {'cpu s':>8} {'cpu us/finding':>15} {'max RSS MB':>11}"
    if len(bins) > 1:
        header += f" {'build':>5}"
    if a.app:
        for app in a.app:
            print(f"\napp {app}")
            print(header)
            time_app(a, modes, app, bins)
        return
    with tempfile.TemporaryDirectory() as tmp:
        # A project of its own, so that loopsafe does not read the directory around it.
        open(os.path.join(tmp, "pyproject.toml"), "w").write("[project]\nname = 'gen'\ndependencies = ['fastapi']\n")
        for case in cases:
            sizes = a.session_sizes if case == "session" else a.sizes
            print(f"\ncase {case}")
            print(f"{header} {'out KB':>9} {'B/finding':>10}")
            for n in [int(s) for s in sizes.split(",")]:
                source = GENERATORS[case](n)
                # One file (app.py), or several modules checked as the project's directory.
                files = source if isinstance(source, dict) else {"app.py": source}
                path = os.path.join(tmp, "app.py") if not isinstance(source, dict) else tmp
                for stale in ("app.py", "db.py", "svc.py"):
                    if stale not in files and os.path.exists(os.path.join(tmp, stale)):
                        os.remove(os.path.join(tmp, stale))

                def fresh(path=path, files=files):
                    # A fresh copy each run (`fix` rewrites it).
                    for name, text in files.items():
                        with open(os.path.join(tmp, name), "w") as f:
                            f.write(text)
                    return path

                medians = {label: {} for label in bins}
                for mode in modes:
                    results = measure(a, bins, fresh, mode)
                    for label, (med, cpu, peak, out) in results.items():
                        medians[label][mode] = (med, cpu)
                        mem = f"{peak / 1024:.0f}" if peak else "-"
                        size = len(out)
                        build = f" {label:>5}" if len(bins) > 1 else ""
                        print(
                            f"{n:>9} {mode:>5} {med:>8.2f} {cpu:>8.2f} {cpu / n * 1e6:>15.1f} {mem:>11}"
                            f" {size / 1024:>9.0f} {size / n:>10.0f}{build}",
                            flush=True,
                        )
                    compare(results, mode)
                for label in bins:
                    ratios(medians[label], label if len(bins) > 1 else "")
                if a.instructions:
                    instructions(a, bins, fresh, [m for m in modes if m in ("text", "json", "sarif", "diff", "fix")])
        shutil.rmtree(tmp, ignore_errors=True)


def ratios(medians, label="") -> None:
    """Each mode's median wall and CPU time over the text format's, in the same run."""
    if "text" not in medians:
        return
    base_wall, base_cpu = medians["text"]
    for mode, (w, c) in medians.items():
        if mode != "text":
            build = f" ({label})" if label else ""
            print(f"{'':>9} {mode}{build}: {w / base_wall:.2f}x text (wall), {c / base_cpu:.2f}x (cpu)")


def time_app(a, modes, app, bins) -> None:
    """The modes on an existing project (read only: `fix` and `diff` are refused), with the ratio of
    each median to the text format's."""
    import json

    if set(modes) & {"fix", "diff"}:
        sys.exit("--app times text, json and sarif only (it never writes the project)")
    medians = {label: {} for label in bins}
    for mode in modes:
        results = measure(a, bins, app, mode)
        for label, (med, cpu, peak, out) in results.items():
            medians[label][mode] = (med, cpu)
            n = len(json.loads(out)) if mode == "json" else 0
            mem = f"{peak / 1024:.0f}" if peak else "-"
            per = f"{cpu / n * 1e6:>15.1f}" if n else f"{'-':>15}"
            build = f" {label:>5}" if len(bins) > 1 else ""
            print(f"{n or '-':>9} {mode:>5} {med:>8.2f} {cpu:>8.2f} {per} {mem:>11}{build}", flush=True)
        compare(results, mode)
    for label in bins:
        ratios(medians[label], label if len(bins) > 1 else "")
    if a.instructions:
        instructions(a, bins, app, modes)


if __name__ == "__main__":
    main()
