"""Started by Python in a child process of a loopsafe recording (this directory is first on its
PYTHONPATH, see loopsafe/_children.py): starts the recorder, then runs the environment's own
`sitecustomize`, if any, which this module hides."""


def _loopsafe_start() -> None:
    import os
    import sys

    if os.environ.get("LOOPSAFE_RECORD_CHILDREN"):
        try:
            from loopsafe import _children

            _children.start_child()
        except Exception as e:  # noqa: BLE001 - the child must run even when recording cannot
            sys.stderr.write(f"loopsafe.record: not recording this child process: {e}\n")
    # The sitecustomize this one shadows.
    here = os.path.dirname(os.path.abspath(__file__))
    import importlib.machinery
    import importlib.util

    path = [p for p in sys.path if os.path.abspath(p or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        sys.modules["sitecustomize"] = module
        spec.loader.exec_module(module)


_loopsafe_start()
