# fix: async-sleep
import asyncio


async def worker(delay):
    await asyncio.sleep(delay)
    await asyncio.sleep(0.5)
    return await asyncio.sleep(1) or delay
