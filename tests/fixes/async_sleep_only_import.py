# fix: async-sleep
import time


async def worker(delay):
    time.sleep(delay)
    return delay
