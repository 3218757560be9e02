# fix: async-sleep
import anyio


async def worker():
    await anyio.sleep(2)
