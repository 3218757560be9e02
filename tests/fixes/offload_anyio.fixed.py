# fix: offload
import functools

import anyio
import requests


async def main(u):
    a = await anyio.to_thread.run_sync(requests.get, u)
    b = await anyio.to_thread.run_sync(functools.partial(requests.get, u, timeout=3))
    return a, b


anyio.run(main, "https://example.com")
