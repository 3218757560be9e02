# fix: async-sleep
import asyncio


async def worker(delay):
    await asyncio.sleep(delay)
    return delay
