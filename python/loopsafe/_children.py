"""Recording in the child Python processes of a recorded program (uvicorn `--workers`/`--reload`,
multiprocessing with spawn or forkserver, `subprocess` running Python).

The recording parent (`python -m loopsafe.record`, the pytest plugin) calls `propagate()` before the
program starts: it makes a directory for partial recordings and sets, for every process started from
now on,

* `LOOPSAFE_RECORD_CHILDREN`: that directory (and `LOOPSAFE_RECORD_SLOW_MS`, the threshold);
* `PYTHONPATH`: this package's `_bootstrap` directory first, whose `sitecustomize` module (which
  Python imports at startup, unless run with `-S` or `-I`) starts a recorder in the child, then runs
  the environment's own `sitecustomize` if there is one; and the directory this package is in last,
  so that a child with another `sys.path` still finds it.

Each child writes its own partial recording into the directory when it exits (atomically; a child
killed by SIGKILL writes nothing). A child ended by SIGTERM while it has no handler of its own runs no
exit handler (multiprocessing's `terminate()`; uvicorn's server process, which re-raises the signal
after its graceful shutdown): the child's recorder then handles SIGTERM, writes, and dies of the
signal as it would have. The parent merges them into its own at the end (`collect()`),
as it merges pytest-xdist workers'. A process forked from a recording one (multiprocessing's fork)
keeps recording and writes its partial file when it exits (multiprocessing's exit handlers included).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading

from . import _recorder

ENV_DIR = "LOOPSAFE_RECORD_CHILDREN"
ENV_SLOW = "LOOPSAFE_RECORD_SLOW_MS"
_BOOTSTRAP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_bootstrap")
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Children:
    """The environment set for child processes, undone by `collect()`."""

    def __init__(self, directory: str, saved: dict) -> None:
        self.directory = directory
        self._saved = saved

    def collect(self) -> list:
        """Restores the environment and returns the children's recordings (the directory removed)."""
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        docs = []
        try:
            names = sorted(os.listdir(self.directory))
        except OSError:
            names = []
        for name in names:
            if not name.endswith(".json"):
                continue
            try:
                docs.append(_recorder.load(os.path.join(self.directory, name)))
            except (OSError, ValueError) as e:
                sys.stderr.write(f"loopsafe.record: a child's recording {name} is unreadable, left out: {e}\n")
        shutil.rmtree(self.directory, ignore_errors=True)
        return docs


def propagate(slow_callback_ms: "float | None" = None) -> Children:
    """Makes the child processes started from now on record (see the module's doc)."""
    directory = tempfile.mkdtemp(prefix="loopsafe-record-")
    keys = (ENV_DIR, ENV_SLOW, "PYTHONPATH")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ[ENV_DIR] = directory
    if slow_callback_ms is not None:
        os.environ[ENV_SLOW] = repr(float(slow_callback_ms))
    else:
        os.environ.pop(ENV_SLOW, None)
    parts = [p for p in (saved["PYTHONPATH"] or "").split(os.pathsep) if p and p != _BOOTSTRAP]
    os.environ["PYTHONPATH"] = os.pathsep.join([_BOOTSTRAP] + parts + [_PACKAGE_PARENT])
    return Children(directory, saved)


_child = None
# Writes the partial recording of this process's recorder (set by `_at_exit`), for the SIGTERM handler.
_finish = None


def start_child() -> None:
    """In a child process (from `_bootstrap/sitecustomize.py`): records until the process exits, then
    writes the partial recording into the parent's directory."""
    global _child
    directory = os.environ.get(ENV_DIR)
    if not directory or _child is not None or _recorder._current is not None:
        return
    slow = os.environ.get(ENV_SLOW)
    recorder = _recorder.Recorder(slow_callback_ms=float(slow) if slow else None).install()
    _child = recorder
    _at_exit(recorder, directory)


def release() -> None:
    """Stops this child's own recorder, unwritten, for a recorder the program installs itself
    (`python -m loopsafe.record` or `pytest --loopsafe-record` run as a child of a recording)."""
    global _child
    if _child is not None and _child is _recorder._current:
        _child.uninstall()
    _child = None


def _at_exit(recorder, directory: str) -> None:
    import atexit

    written = threading.Event()

    def finish() -> None:
        if written.is_set() or recorder is not _child:
            return
        written.set()
        recorder.uninstall()
        doc = recorder.data()
        if doc["events"]:
            name = f"child-{os.getpid()}-{id(recorder):x}.json"
            try:
                _recorder.write(os.path.join(directory, name), doc)
            except OSError as e:
                sys.stderr.write(f"loopsafe.record: cannot write this child's recording: {e}\n")

    atexit.register(finish)
    global _finish
    _finish = finish
    _write_before_sigterm()

    # multiprocessing's children end with os._exit after running its own exit handlers, and a forked
    # one clears the handlers it inherits, then runs its after-fork hooks.
    def on_exit_of_multiprocessing(m) -> None:
        m.Finalize(None, finish, exitpriority=-100)
        m.register_after_fork(recorder, lambda _r: m.Finalize(None, finish, exitpriority=-100))

    mp_util = sys.modules.get("multiprocessing.util")
    if mp_util is not None:
        on_exit_of_multiprocessing(mp_util)
    else:
        _after_import("multiprocessing.util", on_exit_of_multiprocessing)


def _on_sigterm(signum, frame) -> None:
    """SIGTERM with no handler of the program's: the recording is written, then the process dies of
    the signal (the default action, exit status -SIGTERM) as it would have without loopsafe."""
    import signal

    try:
        if _finish is not None:
            _finish()
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)


def _write_before_sigterm() -> None:
    """Handles SIGTERM (see `_on_sigterm`) when the program does not: only from the main thread, and
    only over the default action. A handler the program installs later replaces this one; a program
    that restores the handler it found (uvicorn) restores this one."""
    import signal

    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        return
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):
        pass


def _after_fork_in_child() -> None:
    """A fork of a recording process: its own recording, from now on, to its own partial file."""
    global _child
    recorder = _recorder._current
    directory = os.environ.get(ENV_DIR)
    if recorder is None or not directory:
        return
    recorder.uninstall()
    fresh = _recorder.Recorder(slow_callback_ms=recorder.slow_callback_ms, stalls=recorder.stalls).install()
    _child = fresh
    _at_exit(fresh, directory)


def _after_import(name: str, then) -> None:
    """Runs `then(module)` once `name` is imported (a one-shot meta path finder)."""
    import importlib.abc
    import importlib.util

    class _Once(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path=None, target=None):
            if fullname != name:
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec(fullname)
            if spec is None or spec.loader is None:
                return spec
            loader = spec.loader
            exec_module = loader.exec_module

            class _Loader(importlib.abc.Loader):
                def create_module(self, spec):
                    return loader.create_module(spec)

                def exec_module(self, module):
                    exec_module(module)
                    try:
                        then(module)
                    except Exception:  # noqa: BLE001 - recording must not break the import
                        pass

            spec.loader = _Loader()
            return spec

    sys.meta_path.insert(0, _Once())


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
