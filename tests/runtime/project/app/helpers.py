import time


def _slow_render(kind: str) -> dict:
    time.sleep(1)
    return {"kind": kind}


def dispatch(kind: str) -> dict:
    handler = globals()["_" + kind + "_render"]
    return handler(kind)
