# fix: all
"""A re-exported module stays imported after every sleep is fixed."""
import time

__all__ = ["time", "poll"]


async def poll(n):
    time.sleep(1)
    time.sleep(2)
    return n
