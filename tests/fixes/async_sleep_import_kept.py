# fix: async-sleep
"""`import time` stays: `time.monotonic` still uses it, and `sleep` is re-exported by `__all__`."""
import time
from time import sleep

__all__ = ["sleep"]


async def worker(delay):
    started = time.monotonic()
    time.sleep(delay)
    sleep(0.5)
    return started
