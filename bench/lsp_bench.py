#!/usr/bin/env python3
"""Language-server benchmark: drives `loopsafe server` (and `ruff server`) over stdio as an editor would.

Measures, for loopsafe: the time to index the workspace (from `initialized` to the end of its `$/progress`)
and the server's peak RSS; for both servers: the time from a one-character `didChange` to the
`publishDiagnostics` of that version, over N edits in one file (p50, p99), for two kinds of edit: typing
inside a comment, and typing in code (an assigned name in a function body). Run it with bench/lsp.sh.
"""
import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path


class Server:
    def __init__(self, argv, cwd):
        self.proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.inbox = queue.Queue()
        self.next_id = 1
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                line = line.strip()
                if not line:
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            msg = json.loads(out.read(length))
            msg["_t"] = time.perf_counter()
            if "method" in msg and "id" in msg:
                # A request from the server: progress tokens, registrations, configuration.
                result = [{}] * len(msg["params"]["items"]) if msg["method"] == "workspace/configuration" else None
                self.send({"jsonrpc": "2.0", "id": msg["id"], "result": result})
            self.inbox.put(msg)

    def send(self, msg):
        body = json.dumps(msg).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def request(self, method, params):
        rid = self.next_id
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        return self.wait(lambda m: m.get("id") == rid and "method" not in m)

    def notify(self, method, params):
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def wait(self, pred, timeout=600):
        deadline = time.perf_counter() + timeout
        while True:
            msg = self.inbox.get(timeout=max(0.001, deadline - time.perf_counter()))
            if pred(msg):
                return msg

    def peak_rss_mb(self):
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return float("nan")

    def stop(self):
        try:
            self.request("shutdown", None)
            self.notify("exit", None)
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()


def start(argv, workspace):
    s = Server(argv, workspace)
    caps = {
        "general": {"positionEncodings": ["utf-16"]},
        "window": {"workDoneProgress": True},
        "textDocument": {"publishDiagnostics": {"versionSupport": True}},
    }
    uri = Path(workspace).resolve().as_uri()
    s.request("initialize", {"processId": os.getpid(), "capabilities": caps, "rootUri": uri,
                             "workspaceFolders": [{"uri": uri, "name": "bench"}]})
    t0 = time.perf_counter()
    s.notify("initialized", {})
    return s, t0


def edit_target(lines, kind):
    """Where the edits are typed: `comment` types inside the first comment in a function body (the
    analysis cannot change); `code` types at the end of the first assigned name in a function body
    (`data = ...` becomes `datax = ...` and back: a real change of meaning, always valid Python)."""
    import re
    for i, l in enumerate(lines):
        if kind == "comment" and l.startswith("        #"):
            return i, len(l.encode("utf-16-le")) // 2
        m = re.match(r"^        ([A-Za-z_][A-Za-z_0-9]*) = ", l)
        if kind == "code" and m:
            return i, m.end(1)
    raise SystemExit(f"no place for a {kind} edit")


def edit_latencies(s, path, edits, kind):
    uri = Path(path).resolve().as_uri()
    text = Path(path).read_text(encoding="utf-8")
    target, col = edit_target(text.splitlines(), kind)
    s.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}})
    # The diagnostics of this open (version 1), not the empty ones a previous close published.
    s.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri
           and m["params"].get("version") == 1, timeout=120)
    times = []
    for i in range(edits):
        version = i + 2
        if i % 2 == 0:
            change = {"range": {"start": {"line": target, "character": col}, "end": {"line": target, "character": col}}, "text": "x"}
        else:
            change = {"range": {"start": {"line": target, "character": col}, "end": {"line": target, "character": col + 1}}, "text": ""}
        t = time.perf_counter()
        s.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]})
        msg = s.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                     and m["params"]["uri"] == uri and m["params"].get("version") == version, timeout=60)
        times.append((msg["_t"] - t) * 1000)
    s.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    return times


def round_trips(s, path, n=300):
    """The client's own floor: the time from sending a request the server answers at once (a hover
    where there is nothing to show) to reading its response, with the file open."""
    uri = Path(path).resolve().as_uri()
    text = Path(path).read_text(encoding="utf-8")
    s.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}})
    s.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri
           and m["params"].get("version") == 1, timeout=120)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        msg = s.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}})
        times.append((msg["_t"] - t) * 1000)
    s.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    return times


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loopsafe", required=True)
    ap.add_argument("--ruff")
    ap.add_argument("--workspace", required=True, help="indexed by loopsafe")
    ap.add_argument("--file", required=True, help="the file edited")
    ap.add_argument("--edits", type=int, default=1000)
    a = ap.parse_args()
    a.loopsafe = str(Path(a.loopsafe).resolve())
    a.ruff = a.ruff and str(Path(a.ruff).resolve())
    rows = []

    s, t0 = start([a.loopsafe, "server", "--log-level", "warn"], a.workspace)
    s.wait(lambda m: m.get("method") == "$/progress" and m["params"]["value"].get("kind") == "end")
    index_s = time.perf_counter() - t0
    index_rss = s.peak_rss_mb()
    for kind in KINDS:
        rows.append(("loopsafe", kind, edit_latencies(s, a.file, a.edits, kind)))
    floors = {"loopsafe": round_trips(s, a.file)}
    rss = {"loopsafe": s.peak_rss_mb()}
    s.stop()

    if a.ruff:
        r, _ = start([a.ruff, "server"], a.workspace)
        for kind in KINDS:
            rows.append(("ruff server", kind, edit_latencies(r, a.file, a.edits, kind)))
        floors["ruff server"] = round_trips(r, a.file)
        rss["ruff server"] = r.peak_rss_mb()
        r.stop()

    lines = sum(1 for _ in open(a.file, encoding="utf-8"))
    print(f"### language server: {a.edits} one-character edits of each kind in {a.file} ({lines} lines)\n")
    print(f"loopsafe indexed `{a.workspace}` in {index_s:.2f} s, peak RSS {index_rss:.0f} MB after indexing.\n")
    print("| server | edit | p50 ms | p99 ms | mean ms | max ms | peak RSS MB |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, kind, lat in rows:
        print(f"| {name} | {kind} | {pct(lat, 50):.2f} | {pct(lat, 99):.2f} | {statistics.mean(lat):.2f} | {max(lat):.2f} | {rss[name]:.0f} |")
    print()
    print("Round trip of a hover request answered at once (this client's floor), p50: "
          + ", ".join(f"{name} {pct(lat, 50):.2f} ms" for name, lat in floors.items()) + ".")
    if a.ruff:
        print()
        for kind in KINDS:
            ours = next(lat for n, k, lat in rows if n == "loopsafe" and k == kind)
            theirs = next(lat for n, k, lat in rows if n == "ruff server" and k == kind)
            print(f"{kind} edits: ruff server p50 / loopsafe p50 = {pct(theirs, 50) / pct(ours, 50):.2f}×, "
                  f"p99 ratio {pct(theirs, 99) / pct(ours, 99):.2f}×")


KINDS = ("comment", "code")


if __name__ == "__main__":
    sys.exit(main())
