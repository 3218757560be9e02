"""Runs a Python program with the recorder on, then writes the recording (see SCHEMA.md).

    python -m loopsafe.record -o loopsafe-runtime.json -- uvicorn app.main:app --port 8000
    python -m loopsafe.record -o FILE -- python -m mypackage.worker
    python -m loopsafe.record -o FILE -- script.py ARGS...

The program runs in this process (a console script such as `uvicorn` is looked up on PATH and run as
a Python script), so that its event loops run with the recorder installed. The file is written
atomically when the program ends (normally, by SystemExit, or on SIGINT/SIGTERM that the program
handles). Python processes the program starts (uvicorn --workers and --reload, multiprocessing,
subprocess) record too, each into a partial file merged into FILE at the end (see `_children`;
`--no-children` turns this off).
"""

from __future__ import annotations

import argparse
import os
import runpy
import shutil
import sys

from . import _children
from ._recorder import Recorder, load, merge, write


def _target(command):
    """(kind, name, argv): kind "module" or "path"."""
    cmd = list(command)
    if not cmd:
        raise SystemExit("loopsafe.record: no command given (put it after --)")
    first = os.path.basename(cmd[0])
    if first.startswith("python") or os.path.abspath(cmd[0]) == os.path.abspath(sys.executable):
        cmd = cmd[1:]
        if cmd[:1] == ["-m"] and len(cmd) >= 2:
            return "module", cmd[1], cmd[1:]
        if not cmd or cmd[0].startswith("-"):
            raise SystemExit("loopsafe.record: give `python -m MODULE ...` or `python SCRIPT ...`")
        return "path", cmd[0], cmd
    if cmd[0] == "-m" and len(cmd) >= 2:
        return "module", cmd[1], cmd[1:]
    if os.path.isfile(cmd[0]):
        return "path", cmd[0], cmd
    found = shutil.which(cmd[0])
    if found is None:
        raise SystemExit(f"loopsafe.record: {cmd[0]}: command not found")
    with open(found, "rb") as f:
        head = f.readline()
    if b"python" not in head and not found.endswith(".py"):
        raise SystemExit(f"loopsafe.record: {found} is not a Python program (it must run in this process)")
    return "path", found, cmd


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" in argv:
        i = argv.index("--")
        own, command = argv[:i], argv[i + 1 :]
    else:
        own, command = argv, []
    parser = argparse.ArgumentParser(prog="python -m loopsafe.record", description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--output", required=True, help="the recording to write (JSON)")
    parser.add_argument("--append", action="store_true", help="merge into the recording FILE already holds")
    parser.add_argument(
        "--slow-callback-ms",
        type=float,
        default=None,
        help="a callback running longer is an event (default: each loop's slow_callback_duration, 100 ms)",
    )
    parser.add_argument(
        "--no-children", action="store_true", help="do not record the Python processes the program starts"
    )
    args = parser.parse_args(own)
    kind, name, program_argv = _target(command)
    output = os.path.abspath(args.output)
    recorder = Recorder(slow_callback_ms=args.slow_callback_ms)
    status = 0
    sys.argv = program_argv
    if kind == "path":
        sys.path.insert(0, os.path.dirname(os.path.abspath(name)))
    else:
        sys.path.insert(0, os.getcwd())
    _children.release()
    recorder.install()
    children = None if args.no_children else _children.propagate(args.slow_callback_ms)
    try:
        if kind == "module":
            runpy.run_module(name, run_name="__main__", alter_sys=True)
        else:
            runpy.run_path(name, run_name="__main__")
    except SystemExit as e:
        code = e.code
        status = code if isinstance(code, int) else (0 if code is None else 1)
        if code is not None and not isinstance(code, int):
            print(code, file=sys.stderr)
    except KeyboardInterrupt:
        status = 130
    finally:
        recorder.uninstall()
        docs = children.collect() if children is not None else []
        doc = merge([recorder.data()] + docs)
        if docs:
            print(f"loopsafe.record: merged the recordings of {len(docs)} child processes", file=sys.stderr)
        if args.append and os.path.exists(output):
            doc = merge([load(output), doc])
        write(output, doc)
        print(f"loopsafe.record: {len(doc['events'])} blocking call sites recorded in {output}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
