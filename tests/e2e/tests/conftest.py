"""The pytest suite of the end-to-end app (examples/slow_api): httpx's AsyncClient against the ASGI app
in the test's own event loop, with the slow external API stood in for by tests/e2e/slow_server.py on
loopback (0.2 s per call). Run by tests/e2e/tests/run.sh, recorded with `--loopsafe-record`.

The app reads SLOW_API_SIGNER_URL when it is imported: the slow server starts, and the variable is set,
before the tests import it.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SLOW_SERVER = os.environ.get("LOOPSAFE_E2E_SLOW_SERVER") or os.path.join(os.path.dirname(HERE), "slow_server.py")
DELAY = float(os.environ.get("LOOPSAFE_E2E_TEST_DELAY", "0.2"))


def _start_slow_server():
    folder = tempfile.mkdtemp(prefix="loopsafe-e2e-tests-")
    port_file = os.path.join(folder, "port")
    proc = subprocess.Popen(
        [sys.executable, SLOW_SERVER, "--delay", str(DELAY), "--port-file", port_file],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            if os.path.exists(port_file):
                with open(port_file) as f:
                    return proc, f"http://127.0.0.1:{f.read().strip()}"
            time.sleep(0.05)
        proc.kill()
        raise RuntimeError("the slow server did not start")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# One slow server per test process (each xdist worker has its own), started at import, before the app.
_server, _url = _start_slow_server()
os.environ["SLOW_API_SIGNER_URL"] = _url
os.environ["SLOW_API_REPORT_SECONDS"] = str(DELAY)
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")


def pytest_unconfigure(config):
    _server.terminate()
    _server.wait(timeout=10)


@pytest.fixture
def anyio_backend():
    return "asyncio"
