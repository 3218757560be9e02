"""Unit tests of the runtime recorder (standard library only: `python -m unittest discover python/tests`;
`cargo test --test runtime` runs them)."""

import asyncio
import builtins
import importlib.util
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_SOURCE = os.path.dirname(HERE)
sys.path.insert(0, PYTHON_SOURCE)

from loopsafe import Recorder, load, merge, write  # noqa: E402
from loopsafe import _recorder  # noqa: E402

ORIGINAL_SLEEP = time.sleep
ORIGINAL_OPEN = builtins.open
ORIGINAL_CONNECT = socket.socket.connect


def events(rec, callee=None, kind=None):
    return [
        e
        for e in rec.data()["events"]
        if (callee is None or e["callee"] == callee) and (kind is None or e["kind"] == kind)
    ]


def busy(seconds):
    """Holds the thread for `seconds` without calling anything the recorder wraps."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def line_of(fn, text):
    """The line number of the first line of `fn`'s source file (this file) containing `text` after the def."""
    import inspect

    lines, start = inspect.getsourcelines(fn)
    for i, line in enumerate(lines):
        if text in line:
            return start + i
    raise AssertionError(f"{text!r} not in {fn.__name__}")


def helper_that_sleeps():
    time.sleep(0.001)


class RecorderTest(unittest.TestCase):
    def tearDown(self):
        # Whatever a test did, nothing stays wrapped.
        self.assertIs(time.sleep, ORIGINAL_SLEEP)
        self.assertIs(builtins.open, ORIGINAL_OPEN)
        self.assertIs(socket.socket.connect, ORIGINAL_CONNECT)

    def test_recording_off_means_no_wrapping(self):
        self.assertIs(time.sleep, ORIGINAL_SLEEP)
        self.assertNotIn("_loopsafe_patched", vars(asyncio.events.Handle))
        self.assertFalse(hasattr(asyncio.events.Handle._run, "__loopsafe_original__"))
        rec = Recorder().install()
        try:
            self.assertIsNot(time.sleep, ORIGINAL_SLEEP)
            self.assertIs(time.sleep.__loopsafe_original__, ORIGINAL_SLEEP)
            self.assertTrue(hasattr(asyncio.events.Handle._run, "__loopsafe_original__"))
        finally:
            rec.uninstall()
        self.assertIs(time.sleep, ORIGINAL_SLEEP)
        self.assertFalse(hasattr(asyncio.events.Handle._run, "__loopsafe_original__"))
        # Outside a loop, wrapped or not, nothing is recorded.
        with Recorder() as rec:
            time.sleep(0.001)
        self.assertEqual(rec.data()["events"], [])

    def test_a_blocking_call_on_the_loop_is_recorded_with_its_coroutine_frame(self):
        async def route():
            for _ in range(3):
                time.sleep(0.002)

        with Recorder() as rec:
            asyncio.run(route())
        [e] = events(rec, "time.sleep")
        self.assertEqual(e["count"], 3)
        self.assertGreaterEqual(e["max_ms"], 1.5)
        self.assertGreaterEqual(e["total_ms"], e["max_ms"])
        co = e["coroutine"]
        self.assertEqual(co["file"], os.path.abspath(__file__))
        self.assertTrue(co["function"].endswith("route"), co)
        self.assertEqual(co["line"], line_of(route, "time.sleep"))
        self.assertEqual(e["site"], co)
        self.assertEqual(e["stack"], [co])

    def test_the_stack_goes_down_through_sync_helpers(self):
        async def route():
            helper_that_sleeps()

        with Recorder() as rec:
            asyncio.run(route())
        [e] = events(rec, "time.sleep")
        self.assertEqual([s["function"] for s in e["stack"]][-1], "helper_that_sleeps")
        self.assertTrue(e["stack"][0]["function"].endswith("route"))
        self.assertEqual(e["coroutine"]["line"], line_of(route, "helper_that_sleeps()"))
        self.assertEqual(e["site"]["line"], line_of(helper_that_sleeps, "time.sleep"))

    def test_other_threads_and_to_thread_offloads_are_not_recorded(self):
        def work():
            time.sleep(0.002)
            with open(__file__, encoding="utf-8") as f:
                f.read(10)

        async def route():
            await asyncio.to_thread(work)
            await asyncio.get_running_loop().run_in_executor(None, work)
            t = threading.Thread(target=work)
            t.start()
            await asyncio.sleep(0.02)
            t.join()

        with Recorder() as rec:
            asyncio.run(route())
        # t.join() is a wait on the loop, but not one of the wrapped calls: only the sleep matters here.
        self.assertEqual(events(rec, "time.sleep"), [])
        self.assertEqual(events(rec, "builtins.open"), [])

    def test_nested_loops_each_report_their_own_coroutine(self):
        async def inner():
            time.sleep(0.001)

        async def outer():
            # A loop of its own, in a worker thread: that thread runs a loop, so its call is reported.
            await asyncio.to_thread(asyncio.run, inner())

        with Recorder() as rec:
            asyncio.run(outer())
        [e] = events(rec, "time.sleep")
        self.assertTrue(e["coroutine"]["function"].endswith("inner"), e["coroutine"])

    def test_an_exception_inside_a_wrapped_call_propagates_and_is_recorded(self):
        missing = os.path.join(tempfile.gettempdir(), "loopsafe-does-not-exist", "x.txt")

        async def route():
            with open(missing, encoding="utf-8"):
                pass

        with Recorder() as rec:
            with self.assertRaises(FileNotFoundError):
                asyncio.run(route())
            # The recorder still works after the exception.
            async def again():
                time.sleep(0.001)

            asyncio.run(again())
        self.assertEqual(len([e for e in events(rec, "builtins.open") if e["coroutine"]]), 1)
        self.assertEqual(len(events(rec, "time.sleep")), 1)

    def test_a_wrapped_call_inside_another_is_one_event(self):
        async def route():
            subprocess.run([sys.executable, "-c", "pass"], check=True)

        with Recorder() as rec:
            asyncio.run(route())
        callees = {e["callee"] for e in events(rec, kind="call") if e["coroutine"]}
        self.assertEqual(callees, {"subprocess.run"})

    def test_sockets_block_only_when_they_are_blocking(self):
        async def route():
            a, b = socket.socketpair()
            with a, b:
                a.sendall(b"x")  # blocking socket: reported
                b.recv(1)
                loop = asyncio.get_running_loop()
                a.setblocking(False)
                b.setblocking(False)
                await loop.sock_sendall(a, b"y")  # non-blocking, through the loop: not reported
                await loop.sock_recv(b, 1)

        with Recorder() as rec:
            asyncio.run(route())
        callees = sorted(e["callee"] for e in events(rec, kind="call") if e["coroutine"])
        self.assertEqual(callees, ["socket.socket.recv", "socket.socket.sendall"])

    def test_sqlite3(self):
        async def route():
            db = sqlite3.connect(":memory:")
            db.execute("create table t (x)")
            cur = db.cursor()
            cur.execute("select count(*) from t")
            self.assertEqual(cur.fetchone(), (0,))
            db.close()

        with Recorder() as rec:
            asyncio.run(route())
        callees = {e["callee"] for e in events(rec, kind="call") if e["coroutine"]}
        self.assertTrue({"sqlite3.connect", "sqlite3.Cursor.execute", "sqlite3.Cursor.fetchone"} <= callees, callees)
        self.assertIsInstance(sqlite3.connect(":memory:"), sqlite3.Connection)

    def test_a_slow_callback_is_recorded_with_the_stack_where_the_time_went(self):
        async def route():
            busy(0.3)

        with Recorder(slow_callback_ms=50) as rec:
            asyncio.run(route())
        slow = [e for e in events(rec, kind="slow-callback") if e["coroutine"]]
        self.assertEqual(len(slow), 1, rec.data())
        e = slow[0]
        self.assertTrue(e["coroutine"]["function"].endswith("route"))
        self.assertEqual(e["coroutine"]["line"], line_of(route, "busy(0.3)"))
        self.assertTrue(e["stack"][-1]["function"].endswith("busy"), e["stack"])
        self.assertGreaterEqual(e["max_ms"], 250)

    def test_wrapped_time_is_not_counted_again_as_a_slow_callback(self):
        async def route():
            time.sleep(0.15)

        with Recorder(slow_callback_ms=50) as rec:
            asyncio.run(route())
        self.assertEqual(len(events(rec, "time.sleep")), 1)
        self.assertEqual([e for e in events(rec, kind="slow-callback") if e["coroutine"]], [])

    def test_the_stall_detector_finds_a_busy_coroutine_on_any_loop(self):
        # `stalls=True`: the loop-agnostic detector (a heartbeat per loop, the loop thread's stack
        # sampled) on a plain asyncio loop, with `Handle._run` left alone, as on uvloop.
        async def route():
            busy(0.4)
            time.sleep(0.3)  # a wrapped call: its own event, not a stall too
            await asyncio.sleep(0)

        with Recorder(slow_callback_ms=100, stalls=True) as rec:
            asyncio.run(route())
        self.assertIsNone(getattr(asyncio.events.Handle._run, "__loopsafe_original__", None))
        [stall] = [e for e in events(rec, kind="slow-callback") if e["coroutine"]]
        self.assertTrue(stall["coroutine"]["function"].endswith("route"), stall)
        self.assertEqual(stall["coroutine"]["line"], line_of(route, "busy(0.4)"))
        self.assertTrue(stall["stack"][-1]["function"].endswith("busy"), stall["stack"])
        self.assertGreaterEqual(stall["max_ms"], 200)
        self.assertLess(stall["max_ms"], 650)  # the 300 ms of time.sleep are not counted again
        [sleep] = events(rec, "time.sleep")
        self.assertEqual(sleep["coroutine"]["line"], line_of(route, "time.sleep(0.3)"))

    def test_an_idle_loop_is_no_stall(self):
        async def route():
            await asyncio.sleep(0.3)

        with Recorder(slow_callback_ms=50, stalls=True) as rec:
            asyncio.run(route())
        self.assertEqual(events(rec, kind="slow-callback"), [])

    def test_uvloop(self):
        if importlib.util.find_spec("uvloop") is None:
            self.skipTest("uvloop is not installed (pip install uvloop to run this test)")
        import uvloop

        async def route():
            time.sleep(0.01)
            busy(0.4)
            await asyncio.sleep(0)

        with Recorder(slow_callback_ms=100) as rec:
            loop = uvloop.new_event_loop()
            try:
                loop.run_until_complete(route())
            finally:
                loop.close()
        self.assertEqual([e["coroutine"]["function"] for e in events(rec, "time.sleep")], [route.__qualname__])
        [stall] = [e for e in events(rec, kind="slow-callback") if e["coroutine"]]
        self.assertEqual(stall["coroutine"]["line"], line_of(route, "busy(0.4)"))
        self.assertTrue(stall["stack"][-1]["function"].endswith("busy"), stall["stack"])

    def test_tls_over_a_blocking_socket(self):
        import shutil
        import ssl

        if shutil.which("openssl") is None:
            self.skipTest("openssl is not on PATH (needed to make the test's certificate)")
        with tempfile.TemporaryDirectory() as d:
            cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                 "-days", "1", "-subj", "/CN=localhost"],
                check=True, capture_output=True,
            )
            server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            server_ctx.load_cert_chain(cert, key)
            listener = socket.create_server(("127.0.0.1", 0))
            port = listener.getsockname()[1]

            def serve():
                conn, _ = listener.accept()
                with server_ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(tls.recv(5).upper())

            server = threading.Thread(target=serve)
            server.start()
            client_ctx = ssl.create_default_context(cafile=cert)
            client_ctx.check_hostname = False

            async def route():
                with socket.create_connection(("127.0.0.1", port)) as raw:
                    with client_ctx.wrap_socket(raw) as tls:
                        tls.sendall(b"hello")
                        return tls.recv(5)

            with Recorder() as rec:
                self.assertEqual(asyncio.run(route()), b"HELLO")
            server.join()
            listener.close()
        callees = {e["callee"] for e in events(rec, kind="call") if e["coroutine"]}
        want = {"ssl.SSLSocket.do_handshake", "ssl.SSLSocket.sendall", "ssl.SSLSocket.recv"}
        self.assertTrue(want <= callees, callees)
        # The server's thread runs no loop: nothing of it.
        self.assertTrue(all(e["coroutine"]["function"].endswith("route") for e in events(rec, kind="call")
                            if e["coroutine"]))

    def test_merge_and_atomic_write(self):
        async def route():
            time.sleep(0.001)

        docs = []
        for _ in range(2):
            with Recorder() as rec:
                asyncio.run(route())
            docs.append(rec.data())
        # Same call site in two recordings (two xdist workers): one event, counts added.
        merged = merge(docs)
        [e] = [e for e in merged["events"] if e["callee"] == "time.sleep"]
        self.assertEqual(e["count"], 2)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "sub", "rec.json")
            write(path, merged)
            self.assertEqual(load(path), json.loads(json.dumps(merged)))
            self.assertEqual(os.listdir(os.path.dirname(path)), ["rec.json"])
        with self.assertRaises(ValueError):
            merge([{"version": 999, "events": []}])


class CommandLineTest(unittest.TestCase):
    def run_python(self, args, cwd, **env):
        e = dict(os.environ, PYTHONPATH=PYTHON_SOURCE, **env)
        return subprocess.run([sys.executable] + args, cwd=cwd, env=e, capture_output=True, text=True, timeout=120)

    def record_app(self, d, files, *options, program=("python", "app.py")):
        """Writes `files` (name -> dedented text) into `d`, runs `python -m loopsafe.record -o rec.json
        [options] -- program` there and returns the process and the recorded `time.sleep` events."""
        for name, text in files.items():
            with open(os.path.join(d, name), "w", encoding="utf-8") as f:
                f.write(textwrap.dedent(text))
        out = os.path.join(d, "rec.json")
        r = self.run_python(["-m", "loopsafe.record", "-o", out, *options, "--", *program], d)
        sleeps = [e for e in load(out)["events"] if e["callee"] == "time.sleep"] if os.path.exists(out) else None
        return r, sleeps

    def test_record_runs_a_program_and_writes_the_file(self):
        with tempfile.TemporaryDirectory() as d:
            app = os.path.join(d, "app.py")
            files = {
                "app.py": """\
                    import asyncio, sys, time

                    async def main():
                        time.sleep(0.001)

                    asyncio.run(main())
                    sys.exit(3)
                    """,
            }
            r, sleeps = self.record_app(d, files, program=("python", app))
            self.assertEqual(r.returncode, 3, r.stderr)
            [e] = sleeps
            self.assertEqual(e["coroutine"], {"file": app, "line": 4,
                                              "function": "main", "module": "__main__"})
            # --append adds to what the file holds.
            r, sleeps = self.record_app(d, {}, "--append", program=(app,))
            self.assertEqual(r.returncode, 3, r.stderr)
            [e] = sleeps
            self.assertEqual(e["count"], 2)

    def test_child_processes_record_into_the_parent_file(self):
        # A subprocess running Python and a multiprocessing child (spawn): each records into a
        # partial file the parent merges.
        with tempfile.TemporaryDirectory() as d:
            files = {
                "work.py": """\
                    import asyncio, time

                    async def in_child(tag):
                        time.sleep(0.001)

                    def work(tag):
                        asyncio.run(in_child(tag))
                    """,
                "child.py": """\
                    import sys
                    from work import work
                    work("subprocess")
                    """,
                "app.py": """\
                    import multiprocessing, os, subprocess, sys
                    from work import work

                    if __name__ == "__main__":
                        subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "child.py")], check=True)
                        p = multiprocessing.get_context("spawn").Process(target=work, args=("spawn",))
                        p.start()
                        p.join()
                        sys.exit(p.exitcode)
                    """,
            }
            r, sleeps = self.record_app(d, files)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("merged the recordings of 2 child processes", r.stderr)
            [e] = sleeps
            self.assertEqual(e["count"], 2)
            self.assertEqual(e["coroutine"]["file"], os.path.join(d, "work.py"))
            self.assertEqual(e["coroutine"]["function"], "in_child")
            # The temporary directory of partial files is gone, the environment untouched.
            self.assertEqual(sorted(os.listdir(d)), ["__pycache__", "app.py", "child.py", "rec.json", "work.py"]
                             if os.path.isdir(os.path.join(d, "__pycache__")) else
                             ["app.py", "child.py", "rec.json", "work.py"])
            # --no-children: the parent's own calls only (none here).
            r, sleeps = self.record_app(d, {}, "--no-children")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(sleeps, [])

    def test_a_child_ended_by_sigterm_records_too(self):
        # multiprocessing's terminate() (and uvicorn's server process, which re-raises SIGTERM after
        # its graceful shutdown) ends a child with no exit handler run: it still writes its recording,
        # then dies of the signal.
        if not hasattr(signal, "SIGTERM") or sys.platform == "win32":
            self.skipTest("no SIGTERM default action on this platform")
        with tempfile.TemporaryDirectory() as d:
            files = {
                "work.py": """\
                    import asyncio, time

                    async def in_child(ready):
                        time.sleep(0.001)
                        ready.set()
                        await asyncio.sleep(60)

                    def work(ready):
                        asyncio.run(in_child(ready))
                    """,
                "app.py": """\
                    import multiprocessing, sys
                    from work import work

                    if __name__ == "__main__":
                        ctx = multiprocessing.get_context("spawn")
                        ready = ctx.Event()
                        p = ctx.Process(target=work, args=(ready,))
                        p.start()
                        assert ready.wait(30), "the child did not start"
                        p.terminate()
                        p.join()
                        print("exitcode", p.exitcode)
                    """,
            }
            r, sleeps = self.record_app(d, files)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(f"exitcode {-signal.SIGTERM}", r.stdout)
            [e] = sleeps
            self.assertEqual(e["coroutine"]["function"], "in_child")

    def test_a_forked_child_records_too(self):
        if not hasattr(os, "fork"):
            self.skipTest("no fork on this platform")
        with tempfile.TemporaryDirectory() as d:
            files = {
                "app.py": """\
                    import asyncio, multiprocessing, time

                    async def forked():
                        time.sleep(0.001)

                    def work():
                        asyncio.run(forked())

                    if __name__ == "__main__":
                        p = multiprocessing.get_context("fork").Process(target=work)
                        p.start()
                        p.join()
                    """,
            }
            r, sleeps = self.record_app(d, files)
            self.assertEqual(r.returncode, 0, r.stderr)
            [e] = sleeps
            self.assertEqual((e["coroutine"]["function"], e["count"]), ("forked", 1))

    @unittest.skipUnless(importlib.util.find_spec("pytest"), "pytest is not installed")
    def test_pytest_plugin(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "test_app.py"), "w", encoding="utf-8") as f:
                f.write(
                    textwrap.dedent(
                        """\
                        import asyncio, time

                        async def route():
                            time.sleep(0.001)

                        def test_route():
                            asyncio.run(route())
                        """
                    )
                )
            out = os.path.join(d, "rec.json")
            args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", f"--loopsafe-record={out}", "test_app.py"]
            # Installed (the wheel's pytest11 entry point) or not: loaded by name.
            if not _plugin_registered():
                args[2:2] = ["-p", "loopsafe.pytest_plugin"]
            r = self.run_python(args, d)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            [e] = [e for e in load(out)["events"] if e["callee"] == "time.sleep"]
            self.assertEqual(e["coroutine"]["function"], "route")


def _plugin_registered():
    try:
        from importlib.metadata import entry_points
    except ImportError:
        return False
    try:
        eps = entry_points(group="pytest11")
    except TypeError:
        eps = entry_points().get("pytest11", [])
    return any(ep.value == "loopsafe.pytest_plugin" for ep in eps)


if __name__ == "__main__":
    unittest.main()
