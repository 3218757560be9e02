#!/usr/bin/env bash
# End-to-end proof of loopsafe's fixes (issue 5), with real processes on loopback:
#
#   1. examples/slow_api (a FastAPI app whose routes block the loop on a slow external API, directly, two
#      helper calls deep and with time.sleep) is served by uvicorn, with tests/e2e/slow_server.py standing
#      in for the external API. BEFORE: a /healthcheck sent while a slow request is in flight waits for
#      it, and N slow requests are served one after the other (tests/e2e/drive.py measures and asserts).
#   2. A copy of the app is fixed with `loopsafe check --fix --unsafe-fixes`; the fixed copy compiles,
#      a second --fix changes nothing, and `loopsafe check` on it reports nothing (exit 0).
#   3. AFTER: the fixed copy is served the same way; /healthcheck answers at once while slow requests are
#      in flight, and N slow requests take about one slow call. The /sign chain is made async (its
#      functions coroutines, its module-level session an httpx.AsyncClient per event loop): of W=60
#      requests to it at once, more than the 40 threads an offload would lend them reach the slow
#      server together.
#
# Needs python3 (3.9+; python3-venv is installed with apt-get when missing and running as root), network
# access to PyPI (the packages are pinned in tests/e2e/requirements.txt), and a loopsafe binary (default
# ./target/release/loopsafe; run `cargo build --release -p loopsafe` first). Environment:
#   LOOPSAFE_BIN           the loopsafe binary to test
#   LOOPSAFE_E2E_VENV      a virtualenv directory to create or reuse (default: a fresh one in the temp dir)
#   LOOPSAFE_E2E_SLOW      seconds one slow call takes (default 1.5); LOOPSAFE_E2E_N requests per burst (5)
#   LOOPSAFE_E2E_WIDE      /sign requests in the wide burst after the fix (60; 0: none)
#   LOOPSAFE_E2E_KEEP=1    keep the temp dir (apps, logs) even when the test passes
#   LOOPSAFE_E2E_FIXED_APP a hand-fixed copy of examples/slow_api to use instead of running --fix. For
#                          testing this harness only: a run with it proves nothing about loopsafe.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
here="$repo/tests/e2e"
. "$repo/tests/lib/venv.sh"
. "$repo/tests/lib/script.sh"
loopsafe=${LOOPSAFE_BIN:-$repo/target/release/loopsafe}
python=${PYTHON:-python3}
slow=${LOOPSAFE_E2E_SLOW:-1.5}
n=${LOOPSAFE_E2E_N:-5}
wide=${LOOPSAFE_E2E_WIDE:-60}
fixed_app=${LOOPSAFE_E2E_FIXED_APP:-}

work=$(mktemp -d "${TMPDIR:-/tmp}/loopsafe-e2e.XXXXXX")
logs="$work/logs"
mkdir -p "$logs"
pids=()

stop() { # stop one process we started, politely then not
    local pid=$1
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# At exit: stop the servers; on failure, show the end of each log.
on_cleanup() {
    for pid in "${pids[@]}"; do stop "$pid"; done
    [ "$1" -ne 0 ] || return 0
    for log in "$logs"/*.log; do
        [ -f "$log" ] || continue
        echo "----- $log (last 60 lines)" >&2
        tail -n 60 "$log" >&2
    done
}
script_begin e2e "$work" LOOPSAFE_E2E_KEEP

# Loopback only: no proxy may stand between the test, the app and the slow server.
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
export PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1

step "loopsafe binary"
[ -x "$loopsafe" ] || fail "$loopsafe not found: build it with 'cargo build --release -p loopsafe' or set LOOPSAFE_BIN"
"$loopsafe" --version
if [ -n "$fixed_app" ]; then
    echo "LOOPSAFE_E2E_FIXED_APP=$fixed_app: the app is NOT fixed by loopsafe in this run (harness test only)"
elif ! "$loopsafe" check --help | grep -q -- '--fix'; then
    fail "this loopsafe has no 'check --fix' yet (issue 5): nothing to prove. To test the harness itself, set LOOPSAFE_E2E_FIXED_APP to a hand-fixed copy of examples/slow_api"
fi

step "virtualenv (tests/e2e/requirements.txt)"
venv=${LOOPSAFE_E2E_VENV:-$work/venv}
[ -x "$venv/bin/python" ] || make_venv "$python" "$venv"
"$venv/bin/python" -m pip install --quiet -r "$here/requirements.txt"
"$venv/bin/python" -m pip list --format freeze 2>/dev/null |
    grep -iE '^(fastapi|uvicorn|requests|httpx|anyio)==' | tr '\n' ' '
echo

free_port() {
    "$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

step "slow server (the external API: ${slow}s per call)"
"$venv/bin/python" "$here/slow_server.py" --delay "$slow" --port-file "$work/signer.port" > "$logs/slow_server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/signer.port" ] && break; sleep 0.1; done
[ -s "$work/signer.port" ] || fail "the slow server did not start"
signer="http://127.0.0.1:$(cat "$work/signer.port")"
echo "$signer"

app_pid=
start_app() { # start_app DIR NAME: serve DIR's slow_api.main:app with uvicorn on a free loopback port
    local dir=$1 name=$2 port
    for attempt in 1 2 3; do
        port=$(free_port)
        (cd "$dir" && exec env SLOW_API_SIGNER_URL="$signer" SLOW_API_REPORT_SECONDS="$slow" \
            "$venv/bin/python" -m uvicorn slow_api.main:app --app-dir "$dir" --host 127.0.0.1 --port "$port" \
            > "$logs/$name.log" 2>&1) &
        app_pid=$!
        pids+=("$app_pid")
        app="http://127.0.0.1:$port"
        if "$venv/bin/python" "$here/drive.py" wait "$app/healthcheck" --timeout 60; then
            echo "$name: uvicorn on $app (pid $app_pid)"
            return 0
        fi
        stop "$app_pid"
        grep -qi "address already in use" "$logs/$name.log" || break
        echo "$name: port $port was taken meanwhile, trying another (attempt $attempt)"
    done
    fail "$name: uvicorn did not start (see $logs/$name.log)"
}

findings() { # findings DIR OUT: loopsafe's JSON findings on DIR, one line each, into OUT (and shown)
    set +e
    (cd "$1" && "$loopsafe" check --no-cache --output-format json .) > "$work/findings.json" 2> "$logs/check.log"
    check_status=$?
    set -e
    "$venv/bin/python" - "$work/findings.json" > "$2" <<'PY'
import json, sys
for f in json.load(open(sys.argv[1])):
    via = " > ".join(h["name"] for h in f["chain"])
    print(f"  {f['path']}:{f['line']}:{f['column']}: {f['code']} [{f['rule']}] {f['function']} via {via}")
PY
    cat "$2"
}

step "BEFORE: loopsafe check on the app as written"
cp -R "$repo/examples/slow_api" "$work/before"
findings "$work/before" "$work/before.findings"
[ "$check_status" -eq 1 ] || fail "loopsafe check on the unfixed app exited $check_status, expected 1 (findings)"
for expected in "LS101 \[blocking-http\] sign via signing.sign_op1 > signing.internal_signing_op" \
    "LS101 \[blocking-http\] quote via requests" "LS102 \[blocking-sleep\] report via time.sleep"; do
    grep -q "$expected" "$work/before.findings" || fail "expected a finding matching '$expected'"
done
[ "$(wc -l < "$work/before.findings")" -eq 3 ] || fail "expected exactly 3 findings on the unfixed app"

step "BEFORE: serve the app and measure"
start_app "$work/before" app-before
"$venv/bin/python" "$here/drive.py" measure before --app "$app" --signer "$signer" --slow "$slow" --n "$n" |
    tee "$logs/measure-before.out"
stop "$app_pid"

step "FIX: loopsafe check --fix --unsafe-fixes on a copy"
if [ -n "$fixed_app" ]; then
    cp -R "$fixed_app" "$work/after"
    echo "(hand-fixed copy from $fixed_app: harness test only)"
else
    cp -R "$repo/examples/slow_api" "$work/after"
    set +e
    (cd "$work/after" && "$loopsafe" check --fix --unsafe-fixes .) 2>&1 | tee "$logs/fix.log"
    fix_status=${PIPESTATUS[0]}
    set -e
    echo "loopsafe check --fix --unsafe-fixes exited $fix_status"
    [ "$fix_status" -le 1 ] || fail "loopsafe check --fix --unsafe-fixes failed (exit $fix_status)"
fi
echo "--- the changes:"
diff -ru --exclude=.loopsafe_cache --exclude=__pycache__ "$work/before" "$work/after" | tee "$work/fix.diff" || true
[ -s "$work/fix.diff" ] || fail "the fix changed nothing"
"$venv/bin/python" - "$work/after" <<'PY'
import pathlib, sys
for p in sorted(pathlib.Path(sys.argv[1]).rglob("*.py")):
    compile(p.read_text(encoding="utf-8"), str(p), "exec")
print("the fixed app compiles")
PY

if [ -z "$fixed_app" ]; then
    # The chain route -> sign_op1 -> internal_signing_op -> _session.request is made async (issue 15),
    # not offloaded: its functions are coroutines, awaited, and the module-level session an AsyncClient.
    # The session becomes one client per event loop (`_session()`): an AsyncClient's pooled
    # connections belong to the loop that opened them.
    for expected in "slow_api/signing.py:_session_clients[loop] = httpx.AsyncClient(" \
        "slow_api/signing.py:async def sign_op1(" "slow_api/signing.py:async def internal_signing_op(" \
        "slow_api/signing.py:= await _session().request(" "slow_api/main.py:return await sign_op1(request_id)"; do
        grep -qF -- "${expected#*:}" "$work/after/${expected%%:*}" || fail "the fixed app lacks '${expected#*:}' in ${expected%%:*}"
    done
    ! grep -q "run_in_threadpool(sign_op1" "$work/after/slow_api/main.py" || fail "sign_op1 was offloaded, not made async"
    echo "the chain is made async: sign_op1 and internal_signing_op are coroutines on the running loop's httpx.AsyncClient"
fi

step "AFTER: loopsafe check on the fixed copy"
findings "$work/after" "$work/after.findings"
[ "$check_status" -eq 0 ] || fail "loopsafe check on the fixed app exited $check_status, expected 0 (no findings)"
echo "no findings (exit 0)"
if [ -z "$fixed_app" ]; then
    snapshot() { (cd "$work/after" && find . -name '*.py' -type f | sort | xargs cat | cksum); }
    before_second=$(snapshot)
    (cd "$work/after" && "$loopsafe" check --fix --unsafe-fixes .) > "$logs/fix-again.log" 2>&1 ||
        fail "a second --fix on the fixed app exited $? (see $logs/fix-again.log)"
    [ "$(snapshot)" = "$before_second" ] || fail "a second --fix changed the fixed app: the fixes do not converge"
    echo "a second --fix changes nothing"
fi

step "AFTER: serve the fixed copy and measure"
start_app "$work/after" app-after
"$venv/bin/python" "$here/drive.py" measure after --app "$app" --signer "$signer" --slow "$slow" --n "$n" --wide "$([ -z "$fixed_app" ] && echo "$wide" || echo 0)" |
    tee "$logs/measure-after.out"
stop "$app_pid"

step "PASS: the fixed app serves slow requests concurrently and its healthcheck at once"
