"""The pytest plugin (registered through the `pytest11` entry point):

    pytest --loopsafe-record=loopsafe-runtime.json

records the blocking calls the test run makes on event loops (see SCHEMA.md). With pytest-xdist each
worker records its own, sends it to the controller when it finishes, and the controller writes one merged
file, atomically, when the session ends.
"""

from __future__ import annotations

import json
import os

import pytest

from . import _children
from ._recorder import Recorder, merge, write

_KEY = "loopsafe_record"


def pytest_addoption(parser) -> None:
    group = parser.getgroup("loopsafe")
    group.addoption(
        "--loopsafe-record",
        metavar="FILE",
        default=None,
        help="record the blocking calls made on event loops while the tests run into FILE (JSON)",
    )
    group.addoption(
        "--loopsafe-slow-callback-ms",
        type=float,
        default=None,
        help="with --loopsafe-record: a loop callback running longer is an event (default: the loop's slow_callback_duration)",
    )


class _State:
    def __init__(self, path: str, recorder: Recorder) -> None:
        self.path = path
        self.recorder = recorder
        self.workers: list = []


def pytest_configure(config) -> None:
    path = config.getoption("loopsafe_record")
    if not path:
        return
    _children.release()  # a test run started by a recording program records here instead
    recorder = Recorder(slow_callback_ms=config.getoption("loopsafe_slow_callback_ms")).install()
    config._loopsafe_state = _State(os.path.abspath(path), recorder)


def pytest_sessionfinish(session) -> None:
    state = getattr(session.config, "_loopsafe_state", None)
    workeroutput = getattr(session.config, "workeroutput", None)
    if state is not None and workeroutput is not None:
        # An xdist worker: its recording goes to the controller.
        workeroutput[_KEY] = json.dumps(state.recorder.data())


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    state = getattr(node.config, "_loopsafe_state", None)
    output = getattr(node, "workeroutput", None) or {}
    if state is not None and _KEY in output:
        state.workers.append(json.loads(output[_KEY]))


def pytest_unconfigure(config) -> None:
    state = getattr(config, "_loopsafe_state", None)
    if state is None:
        return
    state.recorder.uninstall()
    if getattr(config, "workeroutput", None) is not None:
        return
    doc = merge([state.recorder.data()] + state.workers)
    write(state.path, doc)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"loopsafe: {len(doc['events'])} blocking call sites recorded in {state.path}")
