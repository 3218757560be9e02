#!/usr/bin/env python3
"""Draw the seeded samples of labels.csv for one application and print them as a reading sheet.

    python3 bench/precision/sample.py loopsafe APPDIR LOOPSAFE.json
    python3 bench/precision/sample.py peer APPDIR LOOPSAFE.json --ruff RUFF.json --hydroid HYDROID.json

`loopsafe`: the warning and critical sites (path, line) of `loopsafe check APP --output-format json`, run
in APPDIR's parent; `peer`: the sites ruff (ASYNC2xx rules only, the blocking-call ones) or hydroid-cli
report where loopsafe has no warning or critical finding. Either way: every site when there are at most
40, else random.Random(12).sample(sorted sites, 40), sorted. Each site is printed with its chain (or the
peers' messages) and the source line, one `=== app,file,line,tool,code,callee` header per site, the
first columns of its labels.csv row.
"""
import argparse
import json
import linecache
import random
import sys
from pathlib import Path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["loopsafe", "peer"])
    ap.add_argument("appdir")
    ap.add_argument("loopsafe_json")
    ap.add_argument("--ruff", help="`ruff check --output-format json` of APPDIR")
    ap.add_argument("--hydroid", help="`hydroid . --format json` run in APPDIR")
    ap.add_argument("-n", type=int, default=40)
    args = ap.parse_args()
    appdir = Path(args.appdir).resolve()
    app = appdir.name
    strip = lambda p: p.split("/", 1)[1]
    warn = {}
    for x in json.load(open(args.loopsafe_json)):
        if x["severity"] in ("warning", "critical"):
            warn.setdefault((strip(x["path"]), x["line"]), x)
    if args.kind == "loopsafe":
        sites = warn
    else:
        sites = {}
        if args.ruff:
            for x in json.load(open(args.ruff)):
                if x["code"].startswith("ASYNC2"):
                    k = (str(Path(x["filename"]).resolve().relative_to(appdir)), x["location"]["row"])
                    sites.setdefault(k, []).append(("ruff", x["code"], x["message"]))
        # ruff's and hydroid's columns differ by one (ruff 1-based, hydroid 0-based): only lines are compared.
        if args.hydroid:
            for x in json.load(open(args.hydroid))["diagnostics"]:
                k = (x["location"]["path"], x["location"]["line"])
                chain = " -> ".join(c["text"] + "@" + str(c["location"]["line"]) for c in x["chain"])
                sites.setdefault(k, []).append(("hydroid", x["sink"]["qualname"], f"[{x['severity']}] {chain}"))
        sites = {k: v for k, v in sites.items() if k not in warn}
    keys = sorted(sites)
    if len(keys) > args.n:
        keys = sorted(random.Random(12).sample(keys, args.n))
    print(f"{app} {args.kind}: population {len(sites)}, sampled {len(keys)}", file=sys.stderr)
    for k in keys:
        src = lambda p, l: linecache.getline(str(appdir / p), l).strip()[:160]
        if args.kind == "loopsafe":
            x = sites[k]
            print(f"=== {app},{k[0]},{k[1]},loopsafe,{x['code']},{x['callee']}  [{x['severity']} {x['rule']}] in {x['function']}")
            for i, c in enumerate(x["chain"]):
                print(f"   {i} {strip(c['path'])}:{c['line']} {c['name']}: {src(strip(c['path']), c['line'])}")
        else:
            tool, code, _ = sites[k][0]
            print(f"=== {app},{k[0]},{k[1]},peer,{code},  [{' / '.join(t for t, _, _ in sites[k])}]")
            for t, c, m in sites[k]:
                print(f"   {t} {c}: {m[:200]}")
            print(f"   {k[0]}:{k[1]}: {src(k[0], k[1])}")


if __name__ == "__main__":
    main()
