# fix: async-sleep
import time

import trio


async def worker():
    await trio.sleep(2)
