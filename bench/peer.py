#!/usr/bin/env python3
"""Compare loopsafe with hydroid-cli (an interprocedural checker built on ty) on whole applications.

For each project: every blocking call hydroid reports must be reported by loopsafe at the same line
(hydroid needs a virtualenv with the app's dependencies; loopsafe reads none), and both are timed,
interleaved, with their caches off (cold) and on (warm). Medians and ratios are printed as Markdown.

    bench/peer.sh                       # the example app and every project under tests/projects
    bench/peer.sh --runs 7 DIR [DIR...]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(cmd, cwd):
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return time.perf_counter() - t, p


def hydroid_findings(out):
    data = json.loads(out)
    return {(d["location"]["path"], d["location"]["line"]) for d in data.get("diagnostics", [])}


def loopsafe_findings(out):
    return {(d["path"], d["line"]) for d in json.loads(out)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("projects", nargs="*")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--loopsafe", default=str(ROOT / "target/release/loopsafe"))
    ap.add_argument("--hydroid", required=True)
    ap.add_argument("--python", required=True, help="the virtualenv hydroid resolves imports against")
    args = ap.parse_args()
    projects = [Path(p).resolve() for p in args.projects] or [ROOT / "examples/fastapi_app"] + sorted(
        p for p in (ROOT / "tests/projects").iterdir() if p.is_dir()
    )
    rows, missing_total = [], 0
    for proj in projects:
        ls_json = ["--output-format", "json", "--exit-zero"]
        variants = {
            "loopsafe cold": [args.loopsafe, "check", ".", "--no-cache", *ls_json],
            "loopsafe warm": [args.loopsafe, "check", ".", *ls_json],
            "hydroid cold": [args.hydroid, ".", "--python", args.python, "--no-cache", "--format", "json"],
            "hydroid warm": [args.hydroid, ".", "--python", args.python, "--format", "json"],
        }
        times = {k: [] for k in variants}
        outputs = {}
        for name, cmd in variants.items():  # warm-up, also fills the caches
            _, p = run(cmd, proj)
            outputs[name] = p
        for _ in range(args.runs):
            for name, cmd in variants.items():
                dt, p = run(cmd, proj)
                times[name].append(dt)
        try:
            h = hydroid_findings(outputs["hydroid cold"].stdout)
        except (json.JSONDecodeError, KeyError):
            print(f"{proj}: hydroid failed: {outputs['hydroid cold'].stderr[-500:]}", file=sys.stderr)
            h = set()
        lsf = loopsafe_findings(outputs["loopsafe cold"].stdout)
        missing, suppressed = [], []
        for m in sorted(h - lsf):
            # A line the user suppressed for loopsafe (`# noqa`, `# noqa: LS101`) is not a miss.
            try:
                line = (proj / m[0]).read_text(encoding="utf-8").splitlines()[m[1] - 1]
            except (OSError, IndexError):
                line = ""
            (suppressed if "# noqa" in line else missing).append(m)
        for m in suppressed:
            print(f"  suppressed with # noqa in loopsafe: {proj.name}/{m[0]}:{m[1]}", file=sys.stderr)
        missing_total += len(missing)
        for m in missing:
            print(f"  loopsafe misses what hydroid reports: {proj.name}/{m[0]}:{m[1]}", file=sys.stderr)
        med = {k: statistics.median(v) for k, v in times.items()}
        rows.append((proj.relative_to(ROOT) if proj.is_relative_to(ROOT) else proj, len(h), len(lsf), len(missing), med))
    print(f"### loopsafe vs hydroid-cli ({args.runs} interleaved runs, medians, {os.cpu_count()} CPUs)\n")
    print("| project | hydroid findings | loopsafe findings | hydroid's missed by loopsafe | loopsafe cold s | hydroid cold s | ratio | loopsafe warm s | hydroid warm s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, nh, nl, nm, med in rows:
        ratio = med["hydroid cold"] / med["loopsafe cold"] if med["loopsafe cold"] else float("nan")
        print(
            f"| {name} | {nh} | {nl} | {nm} | {med['loopsafe cold']:.3f} | {med['hydroid cold']:.3f} | {ratio:.1f}× faster"
            f" | {med['loopsafe warm']:.3f} | {med['hydroid warm']:.3f} |"
        )
    return 1 if missing_total else 0


if __name__ == "__main__":
    sys.exit(main())
