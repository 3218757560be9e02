# fix: all
"""A re-exported module stays imported after every sleep is fixed."""
import asyncio
import time

__all__ = ["time", "poll"]


async def poll(n):
    await asyncio.sleep(1)
    await asyncio.sleep(2)
    return n
