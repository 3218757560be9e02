# fix: async-sleep
import trio


async def worker():
    await trio.sleep(2)
