#!/usr/bin/env python3
"""Language-server benchmark: drives `loopsafe server` (and `ruff server`) over stdio as an editor would.

Measures, for loopsafe: the time to index the workspace (from `initialized` to the end of its `$/progress`)
and the server's peak RSS; for both servers, in each file given: the time from each `didChange` to the
`publishDiagnostics` of that version (p50, p99, max) for what a person types in a coroutine's body (see
`scenarios`): a new statement typed character by character through its broken states and erased, `x` at
column 0 of a body line and deleted, a comment at the end of a line, a 7-line block pasted and deleted, a
line deleted and restored, a statement typed after a function's last line, blank lines typed between two
functions, and a statement, a definition, a class and imports typed on a new line after a module-level
assignment (when the file has one).
`ruff server` (rules ASYNC only) gets the same edits in the same run, interleaved: each of `--rounds`
rounds runs loopsafe then ruff, and the figures are medians over the rounds (the 1-minute load average is
printed). `--baseline BIN` runs another loopsafe binary (main's) first in each round, for an A/B. Run it
with bench/lsp.sh. `lsp_bench.py --dump-edits FILE REPEAT` prints the same edits as byte edits, for
`server/examples/replay_edits.rs` (their analysis in-process, in CPU time).
"""
import argparse
import json
import os
import queue
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
            body = out.read(length)
            read = time.perf_counter()
            msg = json.loads(body)
            # Decoded (as before `--records`, the times include this client's decoding); `_read`: before.
            msg["_t"] = time.perf_counter()
            msg["_read"] = read
            msg["_bytes"] = length
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


def start(argv, workspace, options=None):
    s = Server(argv, workspace)
    caps = {
        "general": {"positionEncodings": ["utf-16"]},
        "window": {"workDoneProgress": True},
        "textDocument": {"publishDiagnostics": {"versionSupport": True}},
    }
    uri = Path(workspace).resolve().as_uri()
    s.request("initialize", {"processId": os.getpid(), "capabilities": caps, "rootUri": uri,
                             "workspaceFolders": [{"uri": uri, "name": "bench"}], "initializationOptions": options})
    t0 = time.perf_counter()
    s.notify("initialized", {})
    return s, t0


STATEMENT = "resp = requests.get(url, timeout=5)"
BLOCK = [
    "a = 1",
    "b = requests.get(a)",
    "if b:",
    "    c = b.json()",
    "else:",
    "    c = None",
    "print(c)",
]


def u16(s):
    return len(s.encode("utf-16-le")) // 2


def body_line(lines):
    """A line in a coroutine's body where a person would start a new statement: a one-line statement
    in an `async def` (a method: 8 spaces), followed by another statement at the same indentation.
    Returns its index and its indentation."""
    import re
    in_async, indent = False, None
    for i, l in enumerate(lines[:-1]):
        m = re.match(r"^( *)(async )?def ", l)
        if m:
            in_async, indent = bool(m.group(2)), len(m.group(1)) + 4
            continue
        pad = " " * (indent or 0)
        nxt = lines[i + 1]
        if (in_async and l.startswith(pad) and not l.startswith(pad + " ") and re.match(r"^ *[A-Za-z_][\w.]* = [^#]*[\w)\]'\"]$", l)
                and l.count("(") == l.count(")") and l.count("[") == l.count("]") and l.count("{") == l.count("}")
                and nxt.startswith(pad) and not nxt.startswith(pad + " ") and nxt.strip() and nxt.strip()[0] not in ")]}#"):
            return i, indent
    raise SystemExit("no coroutine body line to edit")


def last_line(lines):
    """The last line of a coroutine's body (a method: 8 spaces), a one-line statement followed by a
    blank line and the next method (or its decorator): where a person adds a statement at the end of
    a function, or blank lines between two. Returns its index and the body's indentation."""
    import re
    in_async = False
    for i, l in enumerate(lines[:-2]):
        m = re.match(r"^    (async )?def ", l)
        if m:
            in_async = bool(m.group(1))
            continue
        if (in_async and re.match(r"^        (return |[A-Za-z_][\w.]* = )[^#]*[\w)\]'\"]$", l)
                and l.count("(") == l.count(")") and l.count("[") == l.count("]") and l.count("{") == l.count("}")
                and lines[i + 1] == "" and re.match(r"^    (async def |def |@)", lines[i + 2])):
            return i, 8
    raise SystemExit("no last line of a coroutine to edit")


def module_line(lines):
    """A module-level assignment on one line (`NAME = value`), followed by a line that is not its
    continuation: where a person adds a module-level statement. Its index, or None."""
    import re
    for i, l in enumerate(lines[:-1]):
        if (re.match(r"^[A-Za-z_]\w* = [^#]*[\w)\]}'\"]$", l) and l.count("(") == l.count(")")
                and l.count("[") == l.count("]") and l.count("{") == l.count("}")
                and not lines[i + 1].startswith((" ", "\t", ")", "]", "}"))):
            return i
    return None


def rng(line, col, end_line=None, end_col=None):
    return {"start": {"line": line, "character": col},
            "end": {"line": line if end_line is None else end_line, "character": col if end_col is None else end_col}}


def scenarios(lines, repeat):
    """Each scenario: a name and the list of content changes a person's keystrokes send, one
    `didChange` each, in order (the text is back to the original after each scenario)."""
    at, indent = body_line(lines)
    line = lines[at]
    pad = " " * indent
    eol = u16(line)
    out = []
    # A new statement typed character by character on a new line of the body, through the broken states
    # (`resp =`, `requests.`, the open `(`), then erased character by character and the line removed.
    steps = []
    for _ in range(repeat):
        steps.append({"range": rng(at, eol), "text": "\n" + pad})
        for k, ch in enumerate(STATEMENT):
            steps.append({"range": rng(at + 1, indent + k), "text": ch})
        for k in reversed(range(len(STATEMENT))):
            steps.append({"range": rng(at + 1, indent + k, at + 1, indent + k + 1), "text": ""})
        steps.append({"range": rng(at, eol, at + 1, indent), "text": ""})
    out.append(("statement typed and erased", steps))
    # `x` typed at column 0 of a body line and deleted.
    steps = []
    for _ in range(repeat * 20):
        steps.append({"range": rng(at, 0), "text": "x"})
        steps.append({"range": rng(at, 0, at, 1), "text": ""})
    out.append(("x at column 0 and deleted", steps))
    # A comment typed at the end of the line, then erased.
    comment = "  # retried by the caller"
    steps = []
    for _ in range(repeat):
        for k, ch in enumerate(comment):
            steps.append({"range": rng(at, eol + k), "text": ch})
        for k in reversed(range(len(comment))):
            steps.append({"range": rng(at, eol + k, at, eol + k + 1), "text": ""})
    out.append(("comment at end of line", steps))
    # A 7-line block pasted before the next line, then deleted.
    block = "".join(pad + b + "\n" for b in BLOCK)
    steps = []
    for _ in range(repeat * 20):
        steps.append({"range": rng(at + 1, 0), "text": block})
        steps.append({"range": rng(at + 1, 0, at + 1 + len(BLOCK), 0), "text": ""})
    out.append(("7-line block pasted and deleted", steps))
    # The line deleted, then put back (undo).
    steps = []
    for _ in range(repeat * 20):
        steps.append({"range": rng(at, 0, at + 1, 0), "text": ""})
        steps.append({"range": rng(at, 0), "text": line + "\n"})
    out.append(("line deleted and restored", steps))
    # After a function's last line: a new line, the statement typed and erased as above, the line removed.
    end, indent = last_line(lines)
    pad = " " * indent
    eol = u16(lines[end])
    steps = []
    for _ in range(repeat):
        steps.append({"range": rng(end, eol), "text": "\n" + pad})
        for k, ch in enumerate(STATEMENT):
            steps.append({"range": rng(end + 1, indent + k), "text": ch})
        for k in reversed(range(len(STATEMENT))):
            steps.append({"range": rng(end + 1, indent + k, end + 1, indent + k + 1), "text": ""})
        steps.append({"range": rng(end, eol, end + 1, indent), "text": ""})
    out.append(("statement after a function's last line", steps))
    # Blank lines typed between two functions (Enter three times on the blank line), then deleted.
    steps = []
    for _ in range(repeat * 7):
        for _ in range(3):
            steps.append({"range": rng(end + 1, 0), "text": "\n"})
        for _ in range(3):
            steps.append({"range": rng(end + 1, 0, end + 2, 0), "text": ""})
    out.append(("blank lines between functions", steps))
    # Module level: a new line after a module-level assignment, the statement typed at column 0 through
    # its broken states and erased, the line removed.
    mod = module_line(lines)
    if mod is not None:
        eol = u16(lines[mod])
        steps = []
        for _ in range(repeat):
            steps.append({"range": rng(mod, eol), "text": "\n"})
            for k, ch in enumerate(STATEMENT):
                steps.append({"range": rng(mod + 1, k), "text": ch})
            for k in reversed(range(len(STATEMENT))):
                steps.append({"range": rng(mod + 1, k, mod + 1, k + 1), "text": ""})
            steps.append({"range": rng(mod, eol, mod + 1, 0), "text": ""})
        out.append(("module-level statement typed and erased", steps))
        # A definition, a class and imports typed at column 0 on a new line after that assignment, through
        # their broken states (`def`, `def _fetch(`, the `:` without a body, `from fnmatch import`), Enter
        # giving the body's indentation in one change, then erased key by key and the line removed. Their
        # names are read nowhere in the file.
        for name, typed in MODULE_TYPED:
            out.append((name, typed_and_erased(mod, u16(lines[mod]), typed, repeat)))
    # Imports typed on a new line at the top of the module (before its first import) and inside its
    # import block, through their broken states (`import`, `from concurrent.futures imp`), then erased.
    for where, i in import_lines(lines):
        for what, typed in IMPORTS_TYPED:
            out.append((f"{what} typed {where} and erased", typed_and_erased(i, u16(lines[i]), typed, repeat)))
    return at, out


def typed_and_erased(after, eol, typed, repeat):
    """The changes that type `typed` key by key (`typing_keys`) on a new line after line `after` (whose
    length is `eol`), erase it key by key and remove the line, `repeat` times."""
    steps = []
    for _ in range(repeat):
        steps.append({"range": rng(after, eol), "text": "\n"})
        keys = typing_keys(typed)
        line, col = after + 1, 0
        pos = []
        for key in keys:
            steps.append({"range": rng(line, col), "text": key})
            pos.append((line, col))
            if key.startswith("\n"):
                line, col = line + 1, len(key) - 1
            else:
                col += len(key)
        for key, (l, c) in zip(reversed(keys), reversed(pos)):
            end = (l + 1, len(key) - 1) if key.startswith("\n") else (l, c + len(key))
            steps.append({"range": rng(l, c, *end), "text": ""})
        steps.append({"range": rng(after, eol, after + 1, 0), "text": ""})
    return steps


def import_lines(lines):
    """Where a person adds an import: after the line before the module's first import at column 0 ("at
    the top"), and after a one-line import followed by another in the middle of the import block ("in
    the import block"). [(where, line index)]; empty when the module imports nothing at column 0."""
    import re
    one = re.compile(r"^(import [\w., ]+|from [\w.]+ import [\w, ]+)$")
    first = next((i for i, l in enumerate(lines) if re.match(r"^(import|from) ", l)), None)
    if first is None:
        return []
    out = [("at the top", first - 1)] if first > 0 else []
    block = [i for i in range(first, len(lines) - 1) if one.match(lines[i]) and one.match(lines[i + 1])]
    if block:
        out.append(("in the import block", block[len(block) // 2]))
    return out


IMPORTS_TYPED = [
    ("import", "import requests"),
    ("from-import", "from concurrent.futures import ThreadPoolExecutor"),
]


MODULE_TYPED = [
    ("def typed at module level and erased", "def _fetch(url):\n    return requests.get(url)"),
    ("class typed at module level and erased", "class _Retry:\n    limit = 3"),
    ("import typed at module level and erased", "import shlex"),
    ("from-import typed at module level and erased", "from fnmatch import fnmatch"),
]


def typing_keys(text):
    """The keystrokes that type `text`: one character each, a line break with the next line's
    indentation as one (an editor's Enter indents)."""
    keys = []
    i = 0
    while i < len(text):
        if text[i] == "\n":
            j = i + 1
            while j < len(text) and text[j] == " ":
                j += 1
            keys.append(text[i:j])
            i = j
        else:
            keys.append(text[i])
            i += 1
    return keys


def edit_latencies(s, path, steps, first_version):
    """Sends each change as one `didChange` and waits for the `publishDiagnostics` of that version;
    returns the latencies (ms) and the next version."""
    uri = Path(path).resolve().as_uri()
    times = []
    version = first_version
    for change in steps:
        sent = time.time()
        t = time.perf_counter()
        s.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]})
        msg = s.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                     and m["params"]["uri"] == uri and m["params"].get("version") == version, timeout=60)
        times.append((msg["_t"] - t) * 1000)
        if RECORDS is not None:
            RECORDS.append({"sent_unix_ms": round(sent * 1000, 1), "version": version, "ms": round(times[-1], 3),
                            "decode_ms": round((msg["_t"] - msg["_read"]) * 1000, 3),
                            "diagnostics": len(msg["params"]["diagnostics"]), "bytes": msg["_bytes"],
                            "change": change})
        version += 1
    return times, version


ONLY = None
# `--records`: one dict per keystroke, written as JSON lines at the end (None: not asked for).
RECORDS = None
SERVER = None


def run_file(s, path, repeat):
    """Opens `path`, runs every scenario on it, closes it. Returns [(scenario, latencies)]."""
    uri = Path(path).resolve().as_uri()
    text = Path(path).read_text(encoding="utf-8")
    s.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}})
    # The diagnostics of this open (version 1), not the empty ones a previous close published.
    s.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri
           and m["params"].get("version") == 1, timeout=120)
    _, plan = scenarios(text.split("\n"), repeat)
    version = 2
    out = []
    for name, steps in plan:
        if ONLY and name not in ONLY:
            continue
        first = len(RECORDS or [])
        times, version = edit_latencies(s, path, steps, version)
        for r in (RECORDS or [])[first:]:
            r.update(server=SERVER, file=str(path), scenario=name)
        out.append((name, times))
    s.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    return out


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


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def dump_edits(path, repeat):
    """Prints the scenarios' edits of `path` as byte edits, one line each: scenario, byte offset, bytes
    removed and the text inserted (JSON), tab-separated, for `server/examples/replay_edits.rs` (the same
    keystrokes analysed in-process, without the protocol)."""
    text = Path(path).read_text(encoding="utf-8")
    _, plan = scenarios(text.split("\n"), repeat)
    data = text.encode()

    def offset(pos):
        lines = data.split(b"\n")
        before = sum(len(l) + 1 for l in lines[:pos["line"]])
        line = lines[pos["line"]].decode()
        # UTF-16 columns to bytes.
        units, chars = 0, 0
        while chars < len(line) and units < pos["character"]:
            units += u16(line[chars])
            chars += 1
        return before + len(line[:chars].encode())

    for name, steps in plan:
        for change in steps:
            start, end = offset(change["range"]["start"]), offset(change["range"]["end"])
            print(f"{name}\t{start}\t{end - start}\t{json.dumps(change['text'])}")
            data = data[:start] + change["text"].encode() + data[end:]


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--dump-edits":
        return dump_edits(sys.argv[2], int(sys.argv[3]))
    ap = argparse.ArgumentParser()
    ap.add_argument("--loopsafe", required=True)
    ap.add_argument("--ruff")
    ap.add_argument("--baseline", help="another loopsafe binary (main's, for an A/B), run in each round before loopsafe")
    ap.add_argument("--workspace", required=True, help="indexed by loopsafe")
    ap.add_argument("--file", required=True, action="append", help="a file edited (repeatable)")
    ap.add_argument("--repeat", type=int, default=5, help="repetitions of each scenario")
    ap.add_argument("--only", action="append", help="run only this scenario (repeatable; by its name)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds, loopsafe then ruff in each (interleaved); figures are medians over rounds")
    ap.add_argument("--records", help="write every keystroke's latency to this file, one JSON object a line "
                    "(server, file, scenario, version, ms, when it was sent in unix ms, the change, the number and "
                    "size in bytes of the diagnostics): to match with the server's `LOOPSAFE_LSP_TIMING` lines")
    a = ap.parse_args()
    global ONLY, RECORDS, SERVER
    ONLY = a.only
    RECORDS = [] if a.records else None
    a.loopsafe = str(Path(a.loopsafe).resolve())
    a.ruff = a.ruff and str(Path(a.ruff).resolve())
    a.baseline = a.baseline and str(Path(a.baseline).resolve())
    # (server, file) -> {scenario: [(p50, p99, max) per round]}, in scenario order
    results = {}
    floors, rss, index_s, index_rss = {}, {}, [], []
    load = [os.getloadavg()[0]]

    def record(server, f, s):
        global SERVER
        SERVER = server
        runs = run_file(s, f, a.repeat)
        per = results.setdefault((server, f), {})
        for name, lat in runs:
            per.setdefault(name, []).append((pct(lat, 50), pct(lat, 99), max(lat)))

    for _ in range(a.rounds):
        if a.baseline:
            s, _ = start([a.baseline, "server", "--log-level", "warn"], a.workspace)
            s.wait(lambda m: m.get("method") == "$/progress" and m["params"]["value"].get("kind") == "end")
            for f in a.file:
                record("baseline", f, s)
            s.stop()
        s, t0 = start([a.loopsafe, "server", "--log-level", "warn"], a.workspace)
        s.wait(lambda m: m.get("method") == "$/progress" and m["params"]["value"].get("kind") == "end")
        index_s.append(time.perf_counter() - t0)
        index_rss.append(s.peak_rss_mb())
        for f in a.file:
            record("loopsafe", f, s)
        floors.setdefault("loopsafe", []).append(pct(round_trips(s, a.file[0]), 50))
        rss.setdefault("loopsafe", []).append(s.peak_rss_mb())
        s.stop()

        if a.ruff:
            # ruff's own rules for blocking calls in coroutines only, whatever the project configures.
            options = {"settings": {"lint": {"select": ["ASYNC"]}, "configurationPreference": "editorOnly"}}
            r, _ = start([a.ruff, "server"], a.workspace, options)
            for f in a.file:
                record("ruff server", f, r)
            floors.setdefault("ruff server", []).append(pct(round_trips(r, a.file[0]), 50))
            rss.setdefault("ruff server", []).append(r.peak_rss_mb())
            r.stop()
        load.append(os.getloadavg()[0])

    print(f"loopsafe indexed `{a.workspace}` in {median(index_s):.2f} s, peak RSS {median(index_rss):.0f} MB after "
          f"indexing; peak RSS at the end: " + ", ".join(f"{k} {median(v):.0f} MB" for k, v in rss.items()) + ".\n")
    print(f"Time from each `didChange` to the `publishDiagnostics` of that version, in ms: each server's p50, p99 "
          f"and max per round, the median over {a.rounds} interleaved round(s) (loopsafe then ruff server in each). "
          f"1-minute load average during the run: {min(load):.1f}–{max(load):.1f}.\n")
    for f in a.file:
        lines = sum(1 for _ in open(f, encoding="utf-8"))
        print(f"#### {f} ({lines} lines)\n")
        base = results.get(("baseline", f), {})
        print("| scenario | edits | loopsafe p50 | p99 | max | ruff server p50 | p99 | max | p50 ruff/loopsafe |"
              + (" baseline p50 | p99 | max |" if base else ""))
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|---:|" if base else ""))
        ours = results[("loopsafe", f)]
        theirs = results.get(("ruff server", f), {})
        edits = {name: len(steps) for name, steps in
                 scenarios(Path(f).read_text(encoding="utf-8").split("\n"), a.repeat)[1]}
        med = {}
        for name, rounds in ours.items():
            m = tuple(median([r[k] for r in rounds]) for k in range(3))
            med[name] = m
            row = f"| {name} | {edits[name]} | {m[0]:.2f} | {m[1]:.2f} | {m[2]:.2f} |"
            if name in theirs:
                t = tuple(median([r[k] for r in theirs[name]]) for k in range(3))
                row += f" {t[0]:.2f} | {t[1]:.2f} | {t[2]:.2f} | {t[0] / m[0]:.1f}× |"
            else:
                row += " | | | |"
            if name in base:
                b = tuple(median([r[k] for r in base[name]]) for k in range(3))
                row += f" {b[0]:.2f} | {b[1]:.2f} | {b[2]:.2f} |"
            print(row)
        worst = max(med, key=lambda n: med[n][1])
        w = med[worst]
        print(f"\nWorst loopsafe scenario by p99: {worst} (p50 {w[0]:.2f} ms, p99 {w[1]:.2f} ms, max {w[2]:.2f} ms).\n")
    if a.records:
        with open(a.records, "w", encoding="utf-8") as out:
            for r in RECORDS:
                out.write(json.dumps(r) + "\n")
    print("Round trip of a hover request answered at once (this client's floor), p50: "
          + ", ".join(f"{name} {median(v):.2f} ms" for name, v in floors.items()) + ".")


if __name__ == "__main__":
    sys.exit(main())
