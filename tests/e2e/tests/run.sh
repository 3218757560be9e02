#!/usr/bin/env bash
# End-to-end proof of `loopsafe check --runtime` (issue 17) on the end-to-end app, examples/slow_api:
#
#   1. its pytest suite (this folder: httpx's AsyncClient against the ASGI app, the slow external API
#      stood in for by tests/e2e/slow_server.py on loopback) runs on a copy of the app, with the suite
#      in the copy's tests/ folder; the suite mounts /export/{fmt}, which picks its exporter with
#      getattr on a name built at run time (tests/e2e/tests/exports.py);
#   2. the overhead: the suite's wall time without and with `--loopsafe-record`, medians of N runs each
#      (one process, no xdist), printed;
#   3. the recorded run (pytest-xdist, 2 workers: one merged file): `loopsafe check --runtime` confirms
#      the app's three static findings, and reports the getattr-dispatched `time.sleep` that static
#      analysis does not see (blocking-seen-at-runtime, LS190), and nothing else;
#   4. after `loopsafe check --fix --unsafe-fixes` on the copy, the suite passes, recorded again: no
#      blocking call is left in the app's own files; the getattr one remains (no static fix knows it);
#   5. the app served by uvicorn with --workers 2 and with --reload under `python -m loopsafe.record`:
#      the blocking call of /report, made in uvicorn's child processes, is in the recording.
#
# Needs python3 (3.9+) and PyPI (tests/e2e/tests/requirements.txt); the recorder is loaded from
# python/ of this checkout (PYTHONPATH, `-p loopsafe.pytest_plugin`), as the wheel's pytest11 entry
# point would. Environment: LOOPSAFE_BIN (default ./target/release/loopsafe), LOOPSAFE_E2E_VENV (a
# virtualenv to create or reuse), LOOPSAFE_E2E_RUNS (timed runs each way, default 5),
# LOOPSAFE_E2E_KEEP=1 (keep the temp dir).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../../.." && pwd)
here="$repo/tests/e2e/tests"
. "$repo/tests/lib/venv.sh"
. "$repo/tests/lib/script.sh"
loopsafe=${LOOPSAFE_BIN:-$repo/target/release/loopsafe}
python=${PYTHON:-python3}
runs=${LOOPSAFE_E2E_RUNS:-5}
work=$(mktemp -d "${TMPDIR:-/tmp}/loopsafe-e2e-runtime.XXXXXX")

script_begin "e2e runtime" "$work" LOOPSAFE_E2E_KEEP

export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
export PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
export LOOPSAFE_E2E_SLOW_SERVER="$repo/tests/e2e/slow_server.py"

[ -x "$loopsafe" ] || fail "$loopsafe not found: build it with 'cargo build --release -p loopsafe' or set LOOPSAFE_BIN"
"$loopsafe" --version

step "virtualenv (tests/e2e/tests/requirements.txt)"
venv=${LOOPSAFE_E2E_VENV:-$work/venv}
[ -x "$venv/bin/python" ] || make_venv "$python" "$venv"
"$venv/bin/python" -m pip install --quiet -r "$here/requirements.txt"

# copy_app DIR: the app and its test suite, as a project would have them.
copy_app() {
    cp -R "$repo/examples/slow_api" "$1"
    mkdir -p "$1/tests"
    cp "$here"/conftest.py "$here"/exports.py "$here"/test_app.py "$1/tests/"
}

# The plugin by name, unless the venv has loopsafe's wheel (its pytest11 entry point loads it already,
# and pytest refuses one plugin registered twice).
plugin=(-p loopsafe.pytest_plugin)
if "$venv/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(0 if any(e.value == "loopsafe.pytest_plugin" for e in m.entry_points(group="pytest11")) else 1)'; then
    plugin=()
fi

# suite DIR ARGS...: the suite on DIR's app.
suite() {
    local dir=$1
    shift
    (cd "$dir" && PYTHONPATH="$dir:$dir/tests:$repo/python" \
        "$venv/bin/python" -m pytest -q -p no:cacheprovider "${plugin[@]}" "$@" tests)
}

# findings DIR RECORDING OUT: `loopsafe check --runtime` on DIR as one line per finding.
findings() {
    set +e
    (cd "$1" && "$loopsafe" check --no-cache --output-format json --runtime "$2" .) > "$work/findings.json"
    status=$?
    set -e
    [ "$status" -le 1 ] || fail "loopsafe check --runtime exited $status"
    "$venv/bin/python" - "$work/findings.json" > "$3" <<'PY'
import json, sys
for f in json.load(open(sys.argv[1])):
    seen = f.get("runtime")
    seen = f"seen {seen['count']}x, max {seen['max_ms']:.0f} ms" if seen else "not seen at runtime"
    via = " > ".join(h["name"] for h in f["chain"])
    print(f"{f['path']}:{f['line']}: {f['code']} [{f['rule']}] {f['function']} via {via}: {seen}")
PY
    cat "$3"
}

step "the app and its suite"
copy_app "$work/app"
suite "$work/app" > "$work/plain.log" 2>&1 || { cat "$work/plain.log"; fail "the suite fails on the app as written"; }
tail -n 1 "$work/plain.log"

step "overhead: the suite without and with --loopsafe-record ($runs runs each, interleaved)"
: > "$work/times"
for i in $(seq "$runs"); do
    for mode in off on; do
        args=()
        [ "$mode" = on ] && args=(--loopsafe-record="$work/timed.json")
        t0=$("$venv/bin/python" -c 'import time; print(time.perf_counter())')
        suite "$work/app" "${args[@]}" > "$work/timed.log" 2>&1 || { cat "$work/timed.log"; fail "run $i ($mode) failed"; }
        t1=$("$venv/bin/python" -c 'import time; print(time.perf_counter())')
        echo "$mode $t0 $t1" >> "$work/times"
    done
done
"$venv/bin/python" - "$work/times" <<'PY'
import statistics, sys
t = {"off": [], "on": []}
for line in open(sys.argv[1]):
    mode, a, b = line.split()
    t[mode].append(float(b) - float(a))
off, on = statistics.median(t["off"]), statistics.median(t["on"])
print(f"wall time, median of {len(t['off'])}: without {off:.2f} s, with --loopsafe-record {on:.2f} s, ratio {on / off:.3f}")
PY

step "recorded run (pytest-xdist, 2 workers) and loopsafe check --runtime"
suite "$work/app" -n 2 --loopsafe-record="$work/before.json" | tail -n 2
findings "$work/app" "$work/before.json" "$work/before.findings"
for expected in \
    "slow_api/main.py:27: LS101 \[blocking-http\] sign via signing.sign_op1 > signing.internal_signing_op > requests.Session.request: seen 2x" \
    "slow_api/main.py:33: LS101 \[blocking-http\] quote via requests.get: seen 1x" \
    "slow_api/main.py:41: LS102 \[blocking-sleep\] report via time.sleep: seen 1x" \
    "tests/exports.py:22: LS190 \[blocking-seen-at-runtime\] export via exports.Exporter.to_csv > time.sleep: seen 1x"; do
    grep -q "$expected" "$work/before.findings" || fail "expected a finding matching '$expected'"
done
[ "$(wc -l < "$work/before.findings")" -eq 4 ] || fail "expected exactly 4 findings"
static=$(cd "$work/app" && "$loopsafe" check --no-cache --quiet . | grep -c ': LS[0-9]* \[' || true)
[ "$static" -eq 3 ] || fail "the static check alone has $static findings, expected 3 (the getattr call is not one of them)"
echo "the static check alone: 3 findings"

step "after loopsafe check --fix --unsafe-fixes: recorded again"
copy_app "$work/fixed"
(cd "$work/fixed" && "$loopsafe" check --no-cache --fix --unsafe-fixes . > "$work/fix.log" 2>&1) || true
tail -n 2 "$work/fix.log"
suite "$work/fixed" --loopsafe-record="$work/after.json" | tail -n 2
"$venv/bin/python" - "$work/after.json" "$work/fixed" <<'PY'
import json, os, sys
doc = json.load(open(sys.argv[1]))
app = os.path.join(sys.argv[2], "slow_api") + os.sep
left = [e for e in doc["events"] if any(f["file"].startswith(app) for f in e["stack"])]
for e in left:
    print("still blocking in the app:", e["kind"], e["callee"], e["stack"][-1], file=sys.stderr)
sys.exit(1 if left else 0)
PY
echo "no blocking call recorded in the fixed app's files"
findings "$work/fixed" "$work/after.json" "$work/after.findings"
[ "$(wc -l < "$work/after.findings")" -eq 1 ] && grep -q "LS190 \[blocking-seen-at-runtime\] export" "$work/after.findings" ||
    fail "after the fix, only the getattr-dispatched call should be left"

# The app served by a real uvicorn whose server runs in child processes: with --workers 2 (each
# worker a spawned child) and with --reload (the server a spawned child, ended by SIGTERM, which
# uvicorn re-raises after its graceful shutdown). `python -m loopsafe.record -- uvicorn ...` records
# them: the blocking call of /report reaches the parent's file.
for mode in "--workers 2" "--reload"; do
    step "python -m loopsafe.record -- uvicorn slow_api.main:app $mode"
    port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    rm -f "$work/uvicorn.json"
    # shellcheck disable=SC2086 # $mode is two words on purpose
    (cd "$work/app" && PYTHONPATH="$repo/python" SLOW_API_REPORT_SECONDS=0.05 exec "$venv/bin/python" \
        -m loopsafe.record -o "$work/uvicorn.json" -- "$venv/bin/uvicorn" slow_api.main:app \
        --host 127.0.0.1 --port "$port" $mode > "$work/uvicorn.log" 2>&1) &
    recorder=$!
    "$venv/bin/python" - "$port" <<'PY' || { cat "$work/uvicorn.log"; fail "uvicorn $mode did not serve /report"; }
import sys, time, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/report"
for _ in range(300):
    try:
        urllib.request.urlopen(url, timeout=5).read()
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("uvicorn did not answer")
for _ in range(3):
    urllib.request.urlopen(url, timeout=5).read()
PY
    kill -INT "$recorder"
    wait "$recorder" || { cat "$work/uvicorn.log"; fail "loopsafe.record -- uvicorn $mode exited $?"; }
    "$venv/bin/python" - "$work/uvicorn.json" <<'PY' || { cat "$work/uvicorn.log"; fail "uvicorn $mode: the server processes' calls were not recorded"; }
import json, sys
events = json.load(open(sys.argv[1]))["events"]
seen = [e for e in events if e["callee"] == "time.sleep" and e["coroutine"]["function"] == "report"]
assert seen and seen[0]["count"] >= 4, events
print(f"recorded in the server processes: time.sleep in report, {seen[0]['count']} times")
PY
    grep "merged the recordings" "$work/uvicorn.log"
done

step "PASS: the recording confirms the static findings, adds the one they miss, and is clean in the fixed app"
