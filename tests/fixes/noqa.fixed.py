# fix: noqa
import time


async def worker(path):
    time.sleep(1)  # noqa: LS102
    open(path).read()  # noqa: ASYNC251, LS104
    time.sleep(2)  # a comment  # noqa: LS102
    time.sleep(3)  # noqa
