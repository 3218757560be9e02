import asyncio

from .bases import SyncBase
from .mixins import Both


class Local(SyncBase):
    pass


class LocalAsync(SyncBase):
    async def _read(self):
        await asyncio.sleep(0)


class Diamond(Local, LocalAsync):
    # C3: Diamond, Local, LocalAsync, SyncBase: `LocalAsync._read` comes before `SyncBase._read`.
    async def handle(self):
        await self._read()


class SyncFirst(Local):
    async def handle(self):
        self._read()  # expect: blocking-sleep via bases.SyncBase._read > time.sleep


async def across_modules():
    await Both()._read()
