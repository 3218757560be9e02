# fix: async-sleep
import time

import anyio


async def worker():
    await anyio.sleep(2)
