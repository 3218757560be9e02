import asyncio
import time


class SyncBase:
    def _read(self):
        time.sleep(1)


class Left(SyncBase):
    pass


class Right(SyncBase):
    async def _read(self):
        await asyncio.sleep(0)
