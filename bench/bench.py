#!/usr/bin/env python3
"""Time loopsafe against ruff's ASYNC rules, a tree-sitter parse baseline and (optionally) flake8-async.

Normally called by bench/run.sh, which builds the binaries, creates bench/.venv and fetches the corpus first.
Python 3.11 standard library only.

Each round runs every tool once, in a rotating order (round 1: a b c, round 2: b c a, ...), so slow drifts in
machine load hit all tools alike. Wall time is measured around the process; CPU time and peak RSS come from
os.wait4()'s rusage for that one child (for multi-process tools like flake8 this is the largest single
process, not the sum).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


@dataclass
class Tool:
    name: str
    argv: list[str]
    count: str  # how to count findings: loopsafe-json | ruff-json | baseline-json | lines
    warmup: bool = True
    runs: list[dict] = field(default_factory=list)
    failed: str | None = None
    findings: list[int | None] = field(default_factory=list)
    extra: dict = field(default_factory=dict)


def count_findings(tool: Tool, out: bytes) -> int | None:
    text = out.decode("utf-8", "replace")
    if tool.count == "lines":
        return sum(1 for line in text.splitlines() if line.strip())
    try:
        data = json.loads(text) if text.strip() else []
    except json.JSONDecodeError:
        return None
    if tool.count == "baseline-json":
        tool.extra = data
        return data.get("captures")
    if isinstance(data, list):
        return len(data)
    if isinstance(data, dict):  # tolerate a wrapper object, e.g. {"findings": [...]}
        for key in ("findings", "diagnostics", "results"):
            if isinstance(data.get(key), list):
                return len(data[key])
    return None


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, 9)  # the tool's own process group (start_new_session), incl. worker processes
    except ProcessLookupError:
        pass


def run_once(tool: Tool, timeout: float) -> dict:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(tool.argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=ROOT,
                                    start_new_session=True)
        except OSError as e:
            return {"ok": False, "error": f"cannot start {tool.argv[0]}: {e}"}
        timer = threading.Timer(timeout, _killpg, (proc.pid,))
        timer.start()
        try:
            _, status, ru = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
        code = os.waitstatus_to_exitcode(status)
        proc.returncode = code
        if wall >= timeout:
            return {"ok": False, "error": f"timed out after {timeout:.0f}s"}
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    rec = {
        "ok": code == 0,
        "exit": code,
        "wall_s": round(wall, 4),
        "cpu_s": round(ru.ru_utime + ru.ru_stime, 4),
        "rss_mb": round(ru.ru_maxrss / 1024, 1),  # Linux: ru_maxrss is in KiB
    }
    if code != 0:
        tail = stderr.decode("utf-8", "replace").strip().splitlines()[-5:]
        rec["error"] = f"exit {code}: " + " | ".join(tail)
    else:
        rec["findings"] = count_findings(tool, stdout)
    return rec


def version_of(argv: list[str]) -> str:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return (r.stdout or r.stderr).strip().splitlines()[0] if (r.stdout or r.stderr).strip() else "?"
    except Exception as e:  # noqa: BLE001 - informational only
        return f"? ({e.__class__.__name__})"


def git_rev() -> str:
    try:
        r = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        rev = r.stdout.strip() or "no commits"
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"], capture_output=True, text=True)
        return rev + ("+dirty" if dirty.stdout.strip() else "")
    except OSError:
        return "?"


def fmt(x: float | None, nd: int = 2) -> str:
    return "—" if x is None else f"{x:.{nd}f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, help="directory to check (default: bench/.corpus/full or small)")
    ap.add_argument("--small", action="store_true", help="use bench/.corpus/small")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per tool (default 5)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed warm-up rounds (default 1; never for flake8)")
    ap.add_argument("--flake8", action="store_true", help="also time flake8 --select ASYNC (slow: minutes per run)")
    ap.add_argument("--threads", type=int, default=2, help="threads for parse_baseline (default 2)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds before a single run is killed")
    ap.add_argument("--only", default="", help="comma-separated subset of tool names to run")
    ap.add_argument(
        "--loopsafe-variant",
        action="append",
        default=[],
        metavar="NAME=ARGS",
        help="extra loopsafe configuration to time alongside the default one, e.g. 'no-follow=--no-follow' "
        "(repeatable; ARGS are appended after LOOPSAFE_ARGS)",
    )
    ap.add_argument("--mark-failed", action="append", default=[], metavar="NAME=REASON",
                    help="report tool NAME as failed without running it (run.sh uses this when a build fails)")
    ap.add_argument("--results-dir", type=Path, default=BENCH / "results")
    a = ap.parse_args()

    corpus = (a.corpus or BENCH / ".corpus" / ("small" if a.small else "full")).resolve()
    if not corpus.is_dir():
        print(f"bench.py: corpus {corpus} does not exist; run bench/corpus.sh{' --small' if a.small else ''}",
              file=sys.stderr)
        return 1

    venv_bin = BENCH / ".venv" / "bin"
    loopsafe_bin = os.environ.get("LOOPSAFE_BIN", str(ROOT / "target" / "release" / "loopsafe"))
    loopsafe_args = shlex.split(os.environ.get("LOOPSAFE_ARGS", ""))
    baseline_bin = str(ROOT / "target" / "release" / "examples" / "parse_baseline")

    ls_common = [loopsafe_bin, "check", str(corpus), "--output-format", "json", "--exit-zero"]
    base_ls = ls_common + ["--no-cache"] + loopsafe_args
    # The default run follows calls across modules, cache off (cold). Beside it: the per-file run, and a
    # cached re-run of the unchanged corpus (its cache is filled by the warm-up round).
    tools = [
        Tool("loopsafe", base_ls, "loopsafe-json"),
        Tool("loopsafe[no-follow]", base_ls + ["--no-follow"], "loopsafe-json"),
        Tool("loopsafe[warm]", ls_common + ["--cache-dir", str(BENCH / ".cache")] + loopsafe_args, "loopsafe-json"),
    ]
    for v in a.loopsafe_variant:
        name, _, args = v.partition("=")
        tools.append(Tool(f"loopsafe[{name}]", base_ls + shlex.split(args), "loopsafe-json"))
    tools += [
        Tool("ruff", [str(venv_bin / "ruff"), "check", "--no-cache", "--isolated", "--select", "ASYNC",
                      "--exit-zero", "--output-format", "json", str(corpus)], "ruff-json"),
        Tool("parse-baseline", [baseline_bin, str(corpus), "--threads", str(a.threads), "--json"], "baseline-json"),
    ]
    if a.flake8:
        tools.append(Tool("flake8-async", [str(venv_bin / "flake8"), "--isolated", "--select", "ASYNC",
                                           "--exit-zero", str(corpus)], "lines", warmup=False))
    if a.only:
        keep = {s.strip() for s in a.only.split(",") if s.strip()}
        tools = [t for t in tools if t.name in keep or t.name.split("[")[0] in keep]

    for m in a.mark_failed:
        name, _, reason = m.partition("=")
        for t in tools:
            if t.name == name or t.name.startswith(name + "["):
                t.failed = reason or "marked failed"

    started = dt.datetime.now().astimezone()
    load_before = os.getloadavg()
    print(f"bench: corpus {corpus}, {a.runs} run(s) x {len(tools)} tool(s), warm-up {a.warmup}", file=sys.stderr)
    for t in tools:
        print(f"  {t.name}: {shlex.join(t.argv)}", file=sys.stderr)

    def record(t: Tool, rec: dict, label: str) -> None:
        if not rec["ok"]:
            t.failed = rec.get("error", "failed")
            print(f"  {label} {t.name}: FAILED ({t.failed}); skipping it from now on", file=sys.stderr)
            return
        print(f"  {label} {t.name}: {rec['wall_s']:.2f}s wall, {rec['cpu_s']:.2f}s cpu, {rec['rss_mb']:.0f} MB, "
              f"findings {rec.get('findings')}", file=sys.stderr)

    for w in range(a.warmup):
        for t in tools:
            if t.warmup and not t.failed:
                record(t, run_once(t, a.timeout), f"warm-up {w + 1}")

    for r in range(a.runs):
        order = tools[r % len(tools):] + tools[: r % len(tools)]
        for t in order:
            if t.failed:
                continue
            rec = run_once(t, a.timeout)
            rec["round"] = r + 1
            record(t, rec, f"run {r + 1}/{a.runs}")
            if rec["ok"]:
                t.runs.append(rec)
                t.findings.append(rec.get("findings"))
    load_after = os.getloadavg()

    summary = {}
    for t in tools:
        s: dict = {"argv": t.argv, "runs": t.runs, "failed": t.failed}
        if t.runs:
            walls = [x["wall_s"] for x in t.runs]
            s.update(
                median_s=statistics.median(walls),
                min_s=min(walls),
                max_s=max(walls),
                median_cpu_s=statistics.median(x["cpu_s"] for x in t.runs),
                median_rss_mb=statistics.median(x["rss_mb"] for x in t.runs),
                findings=t.findings[-1],
                findings_vary=len(set(t.findings)) > 1,
            )
        if t.extra:
            s["baseline"] = t.extra
        summary[t.name] = s

    def ratio(x: str, y: str) -> float | None:
        if summary.get(x, {}).get("median_s") and summary.get(y, {}).get("median_s"):
            return summary[x]["median_s"] / summary[y]["median_s"]
        return None

    ratios = {}
    for t in tools:
        if t.name.startswith("loopsafe"):
            ratios[f"{t.name}/ruff"] = ratio(t.name, "ruff")
            ratios[f"{t.name}/parse-baseline"] = ratio(t.name, "parse-baseline")
    if "flake8-async" in summary:
        ratios["flake8-async/loopsafe"] = ratio("flake8-async", "loopsafe")
    # The cross-module targets: following costs at most 1.3x the per-file run; a cached re-run is at
    # least 5x faster than a cold one.
    ratios["loopsafe/loopsafe[no-follow]"] = ratio("loopsafe", "loopsafe[no-follow]")
    ratios["loopsafe/loopsafe[warm]"] = ratio("loopsafe", "loopsafe[warm]")

    base = summary.get("parse-baseline", {}).get("baseline", {})
    meta = {
        "started": started.isoformat(timespec="seconds"),
        "corpus": str(corpus),
        "corpus_files": base.get("files"),
        "corpus_lines": base.get("lines"),
        "tree_sitter_error_files": base.get("error_files"),
        "runs": a.runs,
        "warmup": a.warmup,
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
        "git": git_rev(),
        "loopsafe_args": loopsafe_args,
        "versions": {
            "loopsafe": version_of([loopsafe_bin, "--version"]),
            "ruff": version_of([str(venv_bin / "ruff"), "--version"]),
            **({"flake8": version_of([str(venv_bin / "flake8"), "--version"])} if a.flake8 else {}),
            "python": platform.python_version(),
        },
    }

    # Markdown report on stdout.
    lines_ = meta["corpus_lines"]
    print(f"### loopsafe benchmark — {corpus.name} corpus"
          + (f" ({meta['corpus_files']:,} files, {lines_:,} lines)" if lines_ else ""))
    print()
    print(f"{meta['started']} · {meta['cpus']} CPUs · load {meta['loadavg_before'][0]} → {meta['loadavg_after'][0]} · "
          f"{a.runs} runs/tool (interleaved) · git {meta['git']}"
          + (f" · LOOPSAFE_ARGS=`{shlex.join(loopsafe_args)}`" if loopsafe_args else ""))
    print()
    print("| tool | median s | min s | max s | median CPU s | median peak RSS MB | findings |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for t in tools:
        s = summary[t.name]
        if not t.runs:
            print(f"| {t.name} | FAILED | | | | | {(t.failed or '')[:120].replace('|', '/')} |")
            continue
        f = s["findings"]
        ftxt = "?" if f is None else f"{f:,}"
        if t.name == "parse-baseline":
            ftxt += " captures"
        if s["findings_vary"]:
            ftxt += f" (varied: {sorted(set(x for x in t.findings if x is not None))})"
        note = " ⚠ failed later" if t.failed else ""
        print(f"| {t.name}{note} | {fmt(s['median_s'])} | {fmt(s['min_s'])} | {fmt(s['max_s'])} | "
              f"{fmt(s['median_cpu_s'])} | {s['median_rss_mb']:.0f} | {ftxt} |")
    print()
    for k, v in ratios.items():
        print(f"- {k} (median wall): {fmt(v)}×" if v is not None else f"- {k}: n/a")
    if base.get("error_files"):
        print(f"- tree-sitter ERROR nodes in {base['error_files']} file(s) (parse-baseline)")
    for t in tools:
        if t.failed:
            print(f"- {t.name} failed: {t.failed}")

    a.results_dir.mkdir(parents=True, exist_ok=True)
    out = a.results_dir / f"{started.strftime('%Y%m%d-%H%M%S')}-{corpus.name}.json"
    out.write_text(json.dumps({"meta": meta, "ratios": ratios, "tools": summary}, indent=2) + "\n")
    print(f"\nresults: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0 if all(t.runs for t in tools) else 3


if __name__ == "__main__":
    sys.exit(main())
