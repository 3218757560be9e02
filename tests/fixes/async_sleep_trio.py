# fix: async-sleep
import time

import trio


async def worker():
    time.sleep(2)
