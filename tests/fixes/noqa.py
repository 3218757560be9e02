# fix: noqa
import time


async def worker(path):
    time.sleep(1)
    open(path).read()  # noqa: ASYNC251
    time.sleep(2)  # a comment
    time.sleep(3)  # noqa
