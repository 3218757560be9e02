# fix: all
"""Several sleeps in one run: the import of time goes with its last use."""
import asyncio


async def poll(n):
    await asyncio.sleep(1)
    for _ in range(n):
        await asyncio.sleep(0.5)
    return n
