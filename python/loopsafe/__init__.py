"""loopsafe's runtime recorder: which blocking calls an asyncio program really makes on its event loop.

The `loopsafe` binary (the static checker) comes in the same wheel. This package is pure Python, with no
dependency beyond the standard library:

    python -m loopsafe.record -o loopsafe-runtime.json -- uvicorn app.main:app
    pytest --loopsafe-record=loopsafe-runtime.json        (the pytest plugin, `loopsafe.pytest_plugin`)
    loopsafe check --runtime loopsafe-runtime.json .      (merges the recording into the static findings)

The file's schema is in SCHEMA.md beside this file.
"""

from ._recorder import Recorder, load, merge, write

__all__ = ["Recorder", "load", "merge", "write"]
