# fix: all
"""Several sleeps in one run: the import of time goes with its last use."""
import time


async def poll(n):
    time.sleep(1)
    for _ in range(n):
        time.sleep(0.5)
    return n
