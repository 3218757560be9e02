# fix: all-unsafe
# follow: yes
# `serve` is sync: it blocks, then returns a coroutine. `return await serve()` must not become
# `return await await asyncio.to_thread(serve)` (CPython refuses `await await`), nor offload it at all:
# the coroutine must be made and awaited on the loop. The offload is refused (with its reason);
# `load`, a plain blocking helper whose result is not awaited, is still offloaded.
import asyncio
import time


def serve():
    time.sleep(1)
    return asyncio.sleep(0)


def load(path):
    time.sleep(1)
    return path


async def main():
    return await serve()


async def parenthesized():
    return await (serve())


async def handler(path):
    data = load(path)
    return data
