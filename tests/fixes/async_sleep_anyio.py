# fix: async-sleep
import time

import anyio


async def worker():
    time.sleep(2)
