"""The recorder: blocking calls made on a thread while that thread runs an asyncio event loop.

Two detectors, both active only between `Recorder.install()` and `Recorder.uninstall()`:

* wrapped calls: the blocking functions of loopsafe's catalog (time.sleep, blocking socket I/O, open and
  os file calls, subprocess, requests / urllib3, sqlite3) are replaced by wrappers. A wrapper called on a
  thread with no running loop (a worker thread, `asyncio.to_thread`, code run before the loop starts)
  calls the original at once; on the loop's thread it times the call and records it with its stack.
  A wrapped call inside another one (requests -> urllib3 -> socket) is one event: the outermost.
* slow callbacks, for everything else (C extensions, calls reached through dynamic dispatch): every
  callback the loop runs (`asyncio.events.Handle._run`, what asyncio's debug mode times) is timed; one
  that runs longer than the loop's `slow_callback_duration` (0.1 s by default, as in debug mode), not
  counting the wrapped calls inside it, is an event. A watchdog thread samples the loop thread's stack
  while such a callback runs, so the event has the stack where the time went.
* stalls, for loops whose callbacks are not `asyncio.events.Handle`s (uvloop): the watchdog posts a
  heartbeat to each running loop (`call_soon_threadsafe`); when the loop does not run it within the
  threshold, the loop thread is stuck in something, and its stack is sampled (`sys._current_frames()`)
  to find the coroutine frame and the innermost frame. When the heartbeat runs, a stall longer than the
  threshold, not counting the wrapped calls made meanwhile (already events), is a `slow-callback`
  event with the most sampled stack.

Child processes (`python -m loopsafe.record -- uvicorn app:app --workers 2`, multiprocessing with
spawn, subprocess) record too: see `_children`.

Standard library only; Python 3.8+.
"""

from __future__ import annotations

import builtins
import functools
import json
import os
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from asyncio import events as _events

SCHEMA_VERSION = 1
MAX_STACK = 64

_perf = time.perf_counter
_sleep = time.sleep
_get_running_loop = _events._get_running_loop
_get_ident = threading.get_ident
_CO_ASYNC = 0x80 | 0x100 | 0x200  # CO_COROUTINE | CO_ITERABLE_COROUTINE | CO_ASYNC_GENERATOR
_HERE = os.path.dirname(os.path.abspath(__file__))

# Per thread: `depth` > 0 inside a wrapped call; `handles`, the callbacks being run (innermost last),
# each [start, seconds spent in wrapped calls, samples].
_local = threading.local()

# The recorder installed now (one at a time).
_current: "Recorder | None" = None


def _library_roots():
    roots = {_HERE}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        try:
            p = sysconfig.get_paths().get(key)
        except Exception:  # noqa: BLE001 - a broken sysconfig must not stop the program
            p = None
        if p:
            roots.add(os.path.abspath(p))
    return tuple(sorted(roots))


_LIBRARY_ROOTS = _library_roots()


def is_library(path: str) -> bool:
    """Whether a frame's file is the standard library, an installed package or this recorder."""
    if not path or path.startswith("<"):
        return True
    p = os.path.abspath(path)
    if os.sep + "site-packages" + os.sep in p or os.sep + "dist-packages" + os.sep in p:
        return True
    return any(p == r or p.startswith(r + os.sep) for r in _LIBRARY_ROOTS)


def _frame_info(f) -> dict:
    code = f.f_code
    return {
        "file": os.path.abspath(code.co_filename) if not code.co_filename.startswith("<") else code.co_filename,
        "line": f.f_lineno or code.co_firstlineno,
        "function": getattr(code, "co_qualname", code.co_name),
        "module": f.f_globals.get("__name__") if isinstance(f.f_globals, dict) else None,
    }


def _stack_from(frame):
    """(stack outermost first, coroutine frame or None): frames from the innermost coroutine frame
    down to `frame`, this recorder's own frames left out."""
    frames = []
    coroutine = None
    f = frame
    depth = 0
    while f is not None and depth < 4 * MAX_STACK:
        depth += 1
        if not f.f_code.co_filename.startswith(_HERE + os.sep):
            frames.append(f)
            if f.f_code.co_flags & _CO_ASYNC:
                coroutine = f
                break
        f = f.f_back
    frames = frames[:MAX_STACK]
    frames.reverse()
    stack = [_frame_info(x) for x in frames]
    return stack, (stack[0] if coroutine is not None and stack else None)


class Recorder:
    """Records blocking calls made on event-loop threads. `install()` starts, `uninstall()` stops,
    `data()` is the recording as the JSON document described in SCHEMA.md."""

    def __init__(self, slow_callback_ms: "float | None" = None, stalls: "bool | None" = None) -> None:
        # None: each loop's own `slow_callback_duration`.
        self.slow_callback_ms = slow_callback_ms
        # The stall detector: None for the loops whose callbacks `Handle._run` does not time (uvloop),
        # True for every loop (and `Handle._run` left alone), False never.
        self.stalls = stalls
        self._loops: dict = {}  # thread id -> heartbeat state of the loop running there
        self._stall_lock = threading.Lock()
        self._wrapped: dict = {}  # thread id -> seconds spent in wrapped calls there (for stalls)
        self._events: dict = {}
        self._lock = threading.Lock()
        self._undo: list = []
        self._pending: dict = {}
        self._finder = None
        self._watchdog = None
        self._stop = threading.Event()
        self._active: dict = {}  # thread id -> the innermost callback entry being run there
        self.installed = False

    # ----- recording

    def _add(self, kind: str, callee: "str | None", stack: list, coroutine, seconds: float) -> None:
        key = (kind, callee, tuple((s["file"], s["line"], s["function"]) for s in stack))
        ms = seconds * 1000.0
        with self._lock:
            e = self._events.get(key)
            if e is None:
                site = next((s for s in reversed(stack) if not is_library(s["file"])), None)
                self._events[key] = e = {
                    "kind": kind,
                    "callee": callee,
                    "coroutine": coroutine,
                    "site": site,
                    "stack": stack,
                    "count": 0,
                    "total_ms": 0.0,
                    "max_ms": 0.0,
                }
            e["count"] += 1
            e["total_ms"] += ms
            e["max_ms"] = max(e["max_ms"], ms)

    def _call_done(self, callee: str, caller_frame, seconds: float) -> None:
        stack, coroutine = _stack_from(caller_frame)
        self._add("call", callee, stack, coroutine, seconds)
        handles = getattr(_local, "handles", None)
        if handles:
            handles[-1][1] += seconds
        tid = _get_ident()
        self._wrapped[tid] = self._wrapped.get(tid, 0.0) + seconds
        loop = _get_running_loop()
        if getattr(_local, "seen_loop", None) is not loop:
            # A loop running since before `install()` (or one that uvloop started with the
            # `_set_running_loop` it imported before): watched from its first wrapped call.
            _local.seen_loop = loop
            self._loop_running(loop)

    def data(self) -> dict:
        with self._lock:
            events = [dict(e, stack=list(e["stack"])) for e in self._events.values()]
        return _document(events)

    # ----- install / uninstall

    def install(self) -> "Recorder":
        global _current
        if self.installed:
            return self
        if _current is not None:
            raise RuntimeError("another loopsafe recorder is installed")
        _current = self
        self.installed = True
        for module, attr, callee, check in _TARGETS:
            if module in sys.modules:
                self._patch(sys.modules[module], attr, callee, check)
            else:
                self._pending.setdefault(module, []).append((attr, callee, check))
        self._patch_sqlite_when_loaded()
        if self._pending:
            self._finder = _Finder(self)
            sys.meta_path.insert(0, self._finder)
        if self.stalls is not True:
            self._patch_handles()
        self._patch_running_loop()
        self._loop_running(_get_running_loop())
        self._stop.clear()
        self._watchdog = threading.Thread(target=self._watch, name="loopsafe-watchdog", daemon=True)
        self._watchdog.start()
        return self

    def uninstall(self) -> None:
        global _current
        if not self.installed:
            return
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join(timeout=1.0)
            self._watchdog = None
        for tid, state in list(self._loops.items()):
            if state["posted"] is not None and state["answered"] is not None:
                self._stall_end(tid, state, state["answered"])
        if self._finder is not None:
            try:
                sys.meta_path.remove(self._finder)
            except ValueError:
                pass
            self._finder = None
        for owner, attr, original, had in reversed(self._undo):
            if had:
                setattr(owner, attr, original)
            else:
                try:
                    delattr(owner, attr)
                except AttributeError:
                    pass
        self._undo.clear()
        self._pending.clear()
        self._loops.clear()
        self.installed = False
        _current = None

    def __enter__(self) -> "Recorder":
        return self.install()

    def __exit__(self, *exc) -> None:
        self.uninstall()

    def _set(self, owner, attr: str, value) -> None:
        had = attr in vars(owner) if isinstance(owner, type) else hasattr(owner, attr)
        self._undo.append((owner, attr, getattr(owner, attr, None), had))
        setattr(owner, attr, value)

    def _patch(self, module, attr: str, callee: str, check) -> None:
        owner = module
        parts = attr.split(".")
        for p in parts[:-1]:
            owner = getattr(owner, p, None)
            if owner is None:
                return
        original = getattr(owner, parts[-1], None)
        if original is None or getattr(original, "__loopsafe_original__", None) is not None:
            return
        self._set(owner, parts[-1], _wrap(callee, original, check))
        if module is builtins and attr == "open":
            import io

            self._set(io, "open", builtins.open)

    def _loaded(self, name: str) -> None:
        """A module the finder was waiting for has just been executed."""
        module = sys.modules.get(name)
        if module is None:
            return
        for attr, callee, check in self._pending.pop(name, []):
            self._patch(module, attr, callee, check)
        if name == "sqlite3":
            self._patch_sqlite(module)

    def _patch_sqlite_when_loaded(self) -> None:
        if "sqlite3" in sys.modules:
            self._patch_sqlite(sys.modules["sqlite3"])
        else:
            self._pending.setdefault("sqlite3", [])

    def _patch_sqlite(self, sqlite3) -> None:
        # Connection and Cursor are immutable C types: connections are made of subclasses instead.
        original = sqlite3.connect
        if getattr(original, "__loopsafe_original__", None) is not None:
            return
        timed = _wrap("sqlite3.connect", original, None)

        @functools.wraps(original)
        def connect(*args, **kwargs):
            if len(args) < 6:
                kwargs["factory"] = _sqlite_connection(sqlite3, kwargs.get("factory") or sqlite3.Connection)
            return timed(*args, **kwargs)

        connect.__loopsafe_original__ = original
        self._set(sqlite3, "connect", connect)
        dbapi2 = sys.modules.get("sqlite3.dbapi2")
        if dbapi2 is not None and getattr(dbapi2, "connect", None) is original:
            self._set(dbapi2, "connect", connect)

    def _patch_handles(self) -> None:
        handle = _events.Handle
        original = handle._run
        recorder = self

        def _run(self):
            tid = _get_ident()
            handles = getattr(_local, "handles", None)
            if handles is None:
                handles = _local.handles = []
            entry = [_perf(), 0.0, None]
            handles.append(entry)
            recorder._active[tid] = entry
            try:
                return original(self)
            finally:
                elapsed = _perf() - entry[0]
                handles.pop()
                if handles:
                    recorder._active[tid] = handles[-1]
                else:
                    recorder._active.pop(tid, None)
                recorder._callback_done(self, entry, elapsed)

        _run.__loopsafe_original__ = original
        self._set(handle, "_run", _run)

    def _patch_running_loop(self) -> None:
        """Loops are known when they start: `asyncio._set_running_loop`, which asyncio's loops and
        uvloop's (imported after `install()`) call when they start and stop running."""
        import asyncio

        original = _events._set_running_loop
        recorder = self

        def _set_running_loop(loop):
            original(loop)
            if recorder.installed:
                if loop is None:
                    recorder._loop_stopped()
                else:
                    recorder._loop_running(loop)

        _set_running_loop.__loopsafe_original__ = original
        self._set(_events, "_set_running_loop", _set_running_loop)
        if getattr(asyncio, "_set_running_loop", None) is original:
            self._set(asyncio, "_set_running_loop", _set_running_loop)

    def _loop_stopped(self) -> None:
        """The loop of this thread stops running: a stall in progress ends here."""
        tid = _get_ident()
        state = self._loops.pop(tid, None)
        if state is not None and state["posted"] is not None:
            self._stall_end(tid, state, state["answered"] or _perf())

    def _stall_end(self, tid, state, answered: float) -> None:
        with self._stall_lock:  # the loop thread (its loop stops) and the watchdog
            posted = state["posted"]
            state["posted"] = None
        if posted is None:
            return
        threshold = self._threshold(state["loop"])
        own = (answered - posted) - (self._wrapped.get(tid, 0.0) - state["wrapped"])
        samples = state["samples"]
        if own >= threshold and samples:
            _count, stack, coroutine = max(samples.values(), key=lambda s: s[0])
            last = stack[-1]
            callee = ".".join(x for x in (last.get("module"), last["function"]) if x)
            self._add("slow-callback", callee, stack, coroutine, own)

    def _loop_running(self, loop) -> None:
        """Watches `loop`, running on this thread, for stalls (if the detector applies to it)."""
        if loop is None or self.stalls is False:
            return
        if self.stalls is None and isinstance(loop, _base_loop()):
            return  # its callbacks are timed by `Handle._run`
        tid = _get_ident()
        state = self._loops.get(tid)
        if state is None or state["loop"] is not loop:
            self._loops[tid] = {"loop": loop, "posted": None, "answered": None, "samples": {}, "wrapped": 0.0}

    def _threshold(self, loop=None) -> float:
        if self.slow_callback_ms is not None:
            return self.slow_callback_ms / 1000.0
        loop = loop if loop is not None else _get_running_loop()
        return float(getattr(loop, "slow_callback_duration", 0.1) or 0.1)

    def _callback_done(self, handle, entry, elapsed: float) -> None:
        threshold = self._threshold()
        own = elapsed - entry[1]
        if own < threshold:
            return
        samples = entry[2]
        if samples:
            _count, stack, coroutine = max(samples.values(), key=lambda s: s[0])
        else:
            stack, coroutine = _handle_stack(handle)
        callee = None
        if stack:
            last = stack[-1]
            callee = ".".join(x for x in (last.get("module"), last["function"]) if x)
        self._add("slow-callback", callee, stack, coroutine, own)

    def _watch(self) -> None:
        while not self._stop.is_set():
            _sleep(0.02)
            if self._loops:
                try:
                    self._watch_stalls()
                except Exception:  # noqa: BLE001 - the watchdog must never stop the program
                    pass
            if not self._active:
                continue
            now = _perf()
            frames = None
            for tid, entry in list(self._active.items()):
                # Sampled once past half the smallest threshold: where the loop thread spends its time.
                limit = (self.slow_callback_ms / 1000.0) if self.slow_callback_ms is not None else 0.05
                if now - entry[0] < limit:
                    continue
                if frames is None:
                    frames = sys._current_frames()
                frame = frames.get(tid)
                if frame is None:
                    continue
                stack, coroutine = _stack_from(frame)
                key = tuple((s["file"], s["line"], s["function"]) for s in stack)
                if entry[2] is None:
                    entry[2] = {}
                hit = entry[2].get(key)
                entry[2][key] = [(hit[0] + 1) if hit else 1, stack, coroutine]
            frames = None


    def _watch_stalls(self) -> None:
        """One heartbeat round over the loops the stall detector watches (see the module's doc)."""
        now = _perf()
        frames = None
        for tid, state in list(self._loops.items()):
            loop = state["loop"]
            if state["posted"] is not None and state["answered"] is not None:
                self._stall_end(tid, state, state["answered"])
            if loop.is_closed():
                self._loops.pop(tid, None)
                continue
            if not loop.is_running():
                state["posted"] = None  # between two runs: the thread is not the loop's
                continue
            posted = state["posted"]
            if posted is None:
                token = object()
                state.update(posted=now, answered=None, samples={}, wrapped=self._wrapped.get(tid, 0.0), token=token)
                try:
                    loop.call_soon_threadsafe(_beat, state, token)
                except Exception:  # noqa: BLE001 - closed meanwhile
                    self._loops.pop(tid, None)
                continue
            # Not answered yet: sampled once past half the threshold.
            if now - posted < self._threshold(loop) / 2:
                continue
            if frames is None:
                frames = sys._current_frames()
            frame = frames.get(tid)
            if frame is None or _in_wrapped_call(frame):
                continue  # a wrapped call is an event of its own
            stack, coroutine = _stack_from(frame)
            if not stack:
                continue
            key = tuple((s["file"], s["line"], s["function"]) for s in stack)
            hit = state["samples"].get(key)
            state["samples"][key] = [(hit[0] + 1) if hit else 1, stack, coroutine]


def _beat(state, token) -> None:
    """The heartbeat, run by a watched loop: it came back to its loop."""
    if state.get("token") is token:
        state["answered"] = _perf()


def _base_loop():
    global _BASE_LOOP
    if _BASE_LOOP is None:
        from asyncio import base_events

        _BASE_LOOP = base_events.BaseEventLoop
    return _BASE_LOOP


_BASE_LOOP = None


def _in_wrapped_call(frame) -> bool:
    f = frame
    while f is not None:
        if f.f_code is _WRAPPER_CODE:
            return True
        f = f.f_back
    return False


def _handle_stack(handle):
    """Where a callback that ran too long without being sampled was: its coroutine's frame (the task's
    next await) or the callback's own code."""
    cb = getattr(handle, "_callback", None)
    task = getattr(cb, "__self__", None)
    coro = getattr(task, "get_coro", None)
    coro = coro() if coro else None
    frame = getattr(coro, "cr_frame", None)
    if frame is not None:
        return _stack_from(frame)
    code = getattr(cb, "__code__", None)
    if code is not None:
        info = {"file": os.path.abspath(code.co_filename), "line": code.co_firstlineno,
                "function": getattr(code, "co_qualname", code.co_name), "module": getattr(cb, "__module__", None)}
        return [info], None
    return [], None


def _wrap(callee: str, original, check):
    """A wrapper that records `original`'s calls made on a thread running an event loop."""

    def wrapper(*args, **kwargs):
        rec = _current
        if rec is None or _get_running_loop() is None or getattr(_local, "depth", 0):
            return original(*args, **kwargs)
        if check is not None:
            try:
                blocking = check(args, kwargs)
            except Exception:  # noqa: BLE001 - e.g. a closed socket: let the call itself raise
                blocking = False
            if not blocking:
                return original(*args, **kwargs)
        _local.depth = 1
        start = _perf()
        try:
            return original(*args, **kwargs)
        finally:
            elapsed = _perf() - start
            try:
                rec._call_done(callee, sys._getframe(1), elapsed)
            finally:
                _local.depth = 0

    try:
        functools.update_wrapper(wrapper, original)
    except (AttributeError, TypeError):
        pass
    wrapper.__loopsafe_original__ = original
    return wrapper


_WRAPPER_CODE = _wrap("", lambda: None, None).__code__


def _socket_blocking(args, kwargs) -> bool:
    # timeout 0.0 is a non-blocking socket (asyncio's own); None or > 0 waits.
    return args[0].gettimeout() != 0.0


def _fd_blocking(args, kwargs) -> bool:
    return os.get_blocking(args[0])


_SQLITE_CLASSES: dict = {}


def _sqlite_connection(sqlite3, base):
    cls = _SQLITE_CLASSES.get(base)
    if cls is not None:
        return cls

    cursor_cls = _SQLITE_CLASSES.get("cursor")
    if cursor_cls is None:
        methods = {
            m: _wrap(f"sqlite3.Cursor.{m}", getattr(sqlite3.Cursor, m), None)
            for m in ("execute", "executemany", "executescript", "fetchone", "fetchmany", "fetchall")
        }
        cursor_cls = _SQLITE_CLASSES["cursor"] = type("Cursor", (sqlite3.Cursor,), methods)

    class Connection(base):
        def cursor(self, factory=None):
            return base.cursor(self, factory or cursor_cls)

        def execute(self, *args, **kwargs):
            return self.cursor().execute(*args, **kwargs)

        def executemany(self, *args, **kwargs):
            return self.cursor().executemany(*args, **kwargs)

        def executescript(self, *args, **kwargs):
            return self.cursor().executescript(*args, **kwargs)

        commit = _wrap("sqlite3.Connection.commit", base.commit, None)

    _SQLITE_CLASSES[base] = Connection
    return Connection


class _Loader:
    def __init__(self, loader, name: str, recorder: Recorder) -> None:
        self._loader = loader
        self._name = name
        self._recorder = recorder

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        if self._recorder.installed:
            self._recorder._loaded(self._name)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _Finder:
    """Patches the modules the recorder waits for as soon as they are imported."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def find_spec(self, name, path=None, target=None):
        if name not in self.recorder._pending:
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _Loader(spec.loader, name, self.recorder)
        return spec


# (module, attribute, callee as reported, check: None or f(args, kwargs) -> whether the call blocks)
_TARGETS = [
    ("time", "sleep", "time.sleep", None),
    ("socket", "socket.connect", "socket.socket.connect", _socket_blocking),
    ("socket", "socket.accept", "socket.socket.accept", _socket_blocking),
    ("socket", "socket.recv", "socket.socket.recv", _socket_blocking),
    ("socket", "socket.recv_into", "socket.socket.recv_into", _socket_blocking),
    ("socket", "socket.recvfrom", "socket.socket.recvfrom", _socket_blocking),
    ("socket", "socket.send", "socket.socket.send", _socket_blocking),
    ("socket", "socket.sendall", "socket.socket.sendall", _socket_blocking),
    ("socket", "socket.sendto", "socket.socket.sendto", _socket_blocking),
    # TLS over a blocking socket (`ssl.SSLSocket`, the object of `SSLContext.wrap_socket`: `http.client`,
    # `smtplib`, ...); asyncio's TLS uses `ssl.SSLObject` over memory buffers, which never blocks.
    ("ssl", "SSLSocket.recv", "ssl.SSLSocket.recv", _socket_blocking),
    ("ssl", "SSLSocket.recv_into", "ssl.SSLSocket.recv_into", _socket_blocking),
    ("ssl", "SSLSocket.read", "ssl.SSLSocket.read", _socket_blocking),
    ("ssl", "SSLSocket.write", "ssl.SSLSocket.write", _socket_blocking),
    ("ssl", "SSLSocket.send", "ssl.SSLSocket.send", _socket_blocking),
    ("ssl", "SSLSocket.sendall", "ssl.SSLSocket.sendall", _socket_blocking),
    ("ssl", "SSLSocket.do_handshake", "ssl.SSLSocket.do_handshake", _socket_blocking),
    ("ssl", "SSLSocket.connect", "ssl.SSLSocket.connect", _socket_blocking),
    ("socket", "getaddrinfo", "socket.getaddrinfo", None),
    ("socket", "gethostbyname", "socket.gethostbyname", None),
    ("builtins", "open", "builtins.open", None),
    ("os", "read", "os.read", _fd_blocking),
    ("os", "write", "os.write", _fd_blocking),
    ("os", "listdir", "os.listdir", None),
    ("os", "scandir", "os.scandir", None),
    ("os", "stat", "os.stat", None),
    ("os", "remove", "os.remove", None),
    ("os", "unlink", "os.unlink", None),
    ("os", "rename", "os.rename", None),
    ("os", "replace", "os.replace", None),
    ("os", "mkdir", "os.mkdir", None),
    ("os", "makedirs", "os.makedirs", None),
    ("os", "rmdir", "os.rmdir", None),
    ("os", "fsync", "os.fsync", None),
    ("os", "system", "os.system", None),
    ("subprocess", "run", "subprocess.run", None),
    ("subprocess", "call", "subprocess.call", None),
    ("subprocess", "check_call", "subprocess.check_call", None),
    ("subprocess", "check_output", "subprocess.check_output", None),
    ("subprocess", "Popen.communicate", "subprocess.Popen.communicate", None),
    ("subprocess", "Popen.wait", "subprocess.Popen.wait", None),
    ("requests.sessions", "Session.request", "requests.Session.request", None),
    ("requests.adapters", "HTTPAdapter.send", "requests.adapters.HTTPAdapter.send", None),
    ("urllib3.connectionpool", "HTTPConnectionPool.urlopen", "urllib3.connectionpool.HTTPConnectionPool.urlopen", None),
]


# ----- the file


def _document(events: list) -> dict:
    events.sort(
        key=lambda e: (
            (e.get("coroutine") or {}).get("file") or "",
            (e.get("coroutine") or {}).get("line") or 0,
            e.get("kind") or "",
            e.get("callee") or "",
            json.dumps(e.get("stack"), sort_keys=True),
        )
    )
    for e in events:
        e["total_ms"] = round(e["total_ms"], 3)
        e["max_ms"] = round(e["max_ms"], 3)
    return {
        "version": SCHEMA_VERSION,
        "tool": "loopsafe.record",
        "python": sys.version.split()[0],
        "cwd": os.getcwd(),
        "events": events,
    }


def merge(docs) -> dict:
    """One recording from several (pytest-xdist workers, `--append`): events with the same kind,
    callee and stack are one, their counts and times added."""
    merged: dict = {}
    for doc in docs:
        if not doc:
            continue
        if doc.get("version") != SCHEMA_VERSION:
            raise ValueError(f"loopsafe recording version {doc.get('version')!r}, expected {SCHEMA_VERSION}")
        for e in doc.get("events", []):
            key = (e["kind"], e.get("callee"), tuple((s["file"], s["line"], s["function"]) for s in e["stack"]))
            m = merged.get(key)
            if m is None:
                merged[key] = dict(e, stack=list(e["stack"]))
            else:
                m["count"] += e["count"]
                m["total_ms"] += e["total_ms"]
                m["max_ms"] = max(m["max_ms"], e["max_ms"])
    return _document(list(merged.values()))


def load(path: str) -> dict:
    with builtins.open(path, encoding="utf-8") as f:
        return json.load(f)


def write(path: str, doc: dict) -> None:
    """Writes `doc` to `path` atomically: a temporary file in the same directory, flushed, renamed over."""
    path = os.path.abspath(path)
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    with builtins.open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
