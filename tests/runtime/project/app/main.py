import time

from . import helpers


async def report() -> dict:
    time.sleep(0.5)
    return {"ok": True}


async def export(kind: str) -> dict:
    return helpers.dispatch(kind)


async def healthcheck() -> dict:
    open("/tmp/loopsafe-fixture").close()
    return {}


async def ignored(kind: str) -> dict:
    return helpers.dispatch(kind)  # noqa: LS190
