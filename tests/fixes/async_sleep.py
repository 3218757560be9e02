# fix: async-sleep
import time
from time import sleep


async def worker(delay):
    time.sleep(delay)
    sleep(0.5)
    return time.sleep(1) or delay
