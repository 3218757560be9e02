#!/usr/bin/env python3
"""Precision and recall of loopsafe's warning and critical findings on real applications, from findings
read by hand (labels.csv) and the tools' current output.

    python3 bench/precision/measure.py                                  # loopsafe only (release build)
    python3 bench/precision/measure.py --ruff bench/.venv/bin/ruff \\
        --hydroid bench/.venv-peer/bin/hydroid --python bench/.venv-peer  # the peers too (hydroid: minutes)

Two sets of applications: homeassistant and prefect live in the pinned corpus (bench/corpus.sh, --corpus);
the applications of apps.txt (datasette, jupyter-server, litellm, chainlit) in --apps, unpacked by
bench/precision/fetch_apps.sh. `--app NAME` (repeatable) limits the run to some of them.

labels.csv holds one row per site read by hand: the app, the file (relative to the app's directory in
the corpus), the line, the tool whose finding it was, the verdict (`true`: a reviewer would ask for a
change; `false`: a reviewer would wave it through, with its class and reason). samples.csv says how each
set was drawn and from how many sites, so that sampled rates are scaled to the whole population.

- precision: among labelled loopsafe findings still reported at warning or critical today, the share of
  `true`, per app and weighted by each app's current number of warning/critical findings;
- negligible share: among the same findings, the share labelled `false` with a class that says the call
  does wait but too briefly or too rarely to matter (NEGLIGIBLE below), weighted the same way; the rest
  of the `false` ones do not wait on the loop at all (the wrong method, an in-memory buffer, a dead branch);
- `config-dependent`: `true` rows that block only under a deployment option (litellm's get_secret with a
  hosted secret manager); the precision counting them `false` is printed beside;
- recall: real sites (labelled `true`, from loopsafe's sample or from the peer-only sample) that the tool
  reports today, each sample scaled to its population; loopsafe counts at warning or critical only.
Sites loopsafe reports today that no row labels are counted, so the labels can be extended. A site folded
into another finding as its related information (an operation on a handle whose opening that finding
reports) counts as reported, at that finding's severity; `findings now` counts findings' own lines.
"""
import argparse
import csv
import json
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
# `false` classes where the call does wait, but once, briefly or while nothing else is served.
NEGLIGIBLE = {"lazy-once", "metadata", "small-file", "shutdown", "brief-lock", "logging", "console"}


def run_json(cmd, cwd=None):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    try:
        return json.loads(p.stdout)
    except json.JSONDecodeError:
        sys.exit(f"{cmd[0]} failed: {p.stderr[-800:]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=str(ROOT / "bench/.corpus/full"))
    ap.add_argument("--apps", default=str(ROOT / "bench/.corpus/apps"), help="where fetch_apps.sh unpacked apps.txt")
    ap.add_argument("--app", action="append", help="only these apps (repeatable)")
    ap.add_argument("--loopsafe", default=str(ROOT / "target/release/loopsafe"))
    ap.add_argument("--ruff")
    ap.add_argument("--hydroid")
    ap.add_argument("--python", help="the virtualenv hydroid resolves imports against")
    ap.add_argument("--hydroid-json", help="saved `hydroid --format json` output per app instead of running it: a path with {app}")
    ap.add_argument("--show", action="store_true", help="list labelled findings no longer reported, and unlabelled ones")
    args = ap.parse_args()
    args.loopsafe = str(Path(args.loopsafe).resolve())
    pinned = {l.split("==")[0] for l in open(HERE / "apps.txt") if "==" in l and not l.startswith("#")}
    labels = list(csv.DictReader(open(HERE / "labels.csv")))
    samples = {(r["app"], r["tool"]): r for r in csv.DictReader(open(HERE / "samples.csv"))}
    apps = sorted({r["app"] for r in labels} & set(args.app or [r["app"] for r in labels]))
    labels = [r for r in labels if r["app"] in apps]

    # Current output, as sets of (file, line) per app.
    ls_warn, ls_any, ls_count, ruff, hyd = {}, {}, {}, {}, {}
    for app in apps:
        corpus = Path(args.apps if app in pinned else args.corpus)
        d = run_json([args.loopsafe, "check", app, "--no-cache", "--output-format", "json", "--exit-zero"], corpus)
        strip = lambda p: p.split("/", 1)[1]
        warn = [x for x in d if x["severity"] in ("warning", "critical")]
        ls_count[app] = len({(strip(x["path"]), x["line"]) for x in warn})
        # A site folded into another finding (an operation on a handle whose opening that finding
        # reports: a `related` entry with a `message`) is still shown, under that finding: it counts as
        # reported, at that finding's severity.
        sites = lambda x: [(strip(x["path"]), x["line"])] + [
            (strip(r["path"]), r["line"]) for r in x.get("related", []) if "message" in r]
        ls_any[app] = {k for x in d for k in sites(x)}
        ls_warn[app] = {k for x in warn for k in sites(x)}
        if args.ruff:
            r = run_json([args.ruff, "check", "--no-cache", "--isolated", "--select", "ASYNC2", "--exit-zero",
                          "--output-format", "json", str(corpus / app)])
            ruff[app] = {(str(Path(x["filename"]).relative_to(corpus / app)), x["location"]["row"]) for x in r}
        if args.hydroid_json:
            h = json.load(open(args.hydroid_json.format(app=app)))
            hyd[app] = {(x["location"]["path"], x["location"]["line"]) for x in h["diagnostics"]}
        elif args.hydroid:
            h = run_json([args.hydroid, ".", "--python", args.python, "--no-cache", "--format", "json"], corpus / app)
            hyd[app] = {(x["location"]["path"], x["location"]["line"]) for x in h["diagnostics"]}

    print("### Precision of loopsafe's warning and critical findings (read by hand)\n")
    print("| app | findings now | labelled, still reported | true | precision | without config-dependent | negligible share | labelled, no longer reported (true/false) | unlabelled |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    tot = Counter()
    classes = Counter()
    gone = []
    for app in apps:
        rows = [r for r in labels if r["app"] == app and r["tool"] == "loopsafe"]
        keyed = {(r["file"], int(r["line"])): r for r in rows}
        still = [r for k, r in keyed.items() if k in ls_warn[app]]
        lost = [r for k, r in keyed.items() if k not in ls_warn[app]]
        gone += [(app, r) for r in lost]
        t = sum(r["verdict"] == "true" for r in still)
        cd = sum(r["verdict"] == "true" and r["class"] == "config-dependent" for r in still)
        ng = sum(r["verdict"] == "false" and r["class"] in NEGLIGIBLE for r in still)
        n = ls_count[app]
        unlabelled = len(ls_warn[app] - keyed.keys())
        if still:
            tot["n"] += n
            tot["true"] += n * t / len(still)
            tot["strict"] += n * (t - cd) / len(still)
            tot["negligible"] += n * ng / len(still)
        classes.update(r["class"] for r in still if r["verdict"] == "false")
        lt = sum(r["verdict"] == "true" for r in lost)
        f = lambda x: f"{x / len(still):.2f}" if still else "n/a"
        print(f"| {app} | {n} | {len(still)} | {t} | {f(t)} | {f(t - cd)} | {f(ng)} | {lt}/{len(lost) - lt} | {unlabelled} |")
    print(f"\nPrecision, weighted by each app's findings: **{tot['true'] / tot['n']:.2f}** ({tot['true'] / tot['n']:.4f}) "
          f"({tot['strict'] / tot['n']:.2f} counting config-dependent sites false); "
          f"negligible share: **{tot['negligible'] / tot['n']:.2f}**")
    if classes:
        print("False positives still reported, by class (labelled sample): " + ", ".join(f"{c} {n}" for c, n in classes.most_common()))

    # Recall: each labelled real site, scaled by its sample's fraction.
    print("\n### Recall against the real sites any tool finds (labelled, scaled to each sample's population)\n")
    tools = ["loopsafe (warning+)", "loopsafe (any tier)"] + (["ruff ASYNC2"] if args.ruff else []) + (
        ["hydroid"] if args.hydroid or args.hydroid_json else [])
    found = defaultdict(float)
    total = Counter()
    for r in labels:
        if r["verdict"] != "true":
            continue
        s = samples[(r["app"], r["tool"])]
        w = int(s["population"]) / int(s["sampled"])
        k = (r["file"], int(r["line"]))
        app = r["app"]
        for a in (app, "all"):
            total[a] += w
            found[a, "loopsafe (warning+)"] += w * (k in ls_warn[app])
            found[a, "loopsafe (any tier)"] += w * (k in ls_any[app])
            if args.ruff:
                found[a, "ruff ASYNC2"] += w * (k in ruff[app])
            if hyd:
                found[a, "hydroid"] += w * (k in hyd[app])
    print("| app | real sites (est.) | " + " | ".join(tools) + " |")
    print("|---|---:|" + "---:|" * len(tools))
    for a in apps + ["all"]:
        if total[a]:
            cells = " | ".join(f"{found[a, t]:.0f} ({found[a, t] / total[a]:.2f})" for t in tools)
            print(f"| {'**all**' if a == 'all' else a} | {total[a]:.0f} | {cells} |")
    if args.show:
        for app, r in gone:
            print(f"no longer at warning+: {app}/{r['file']}:{r['line']} {r['verdict']} {r['class']} {r['reason']}")
        for app in apps:
            keyed = {(r["file"], int(r["line"])) for r in labels if r["app"] == app}
            for f, l in sorted(ls_warn[app] - keyed):
                print(f"unlabelled: {app}/{f}:{l}")
        for r in labels:
            if r["verdict"] == "true" and r["tool"] != "loopsafe" and (r["file"], int(r["line"])) not in ls_warn[r["app"]]:
                print(f"real site missed at warning+: {r['app']}/{r['file']}:{r['line']} ({r['tool']}) {r['reason']}")


if __name__ == "__main__":
    main()
