# fix: async-sleep
"""`import time` stays: `time.monotonic` still uses it, and `sleep` is re-exported by `__all__`."""
import asyncio
import time
from time import sleep

__all__ = ["sleep"]


async def worker(delay):
    started = time.monotonic()
    await asyncio.sleep(delay)
    await asyncio.sleep(0.5)
    return started
