# fix: async-sleep
import time
import asyncio
from time import sleep


async def worker(delay):
    await asyncio.sleep(delay)
    await asyncio.sleep(0.5)
    return await asyncio.sleep(1) or delay
