from .fileio import FileManagerMixin


class Runner(FileManagerMixin):
    # `self` may be an `AsyncRunner` (runners_async.py), whose MRO puts the async `_copy` first: an
    # awaited `self._copy(...)` can only be that one (awaiting what the sync one returns would raise).
    async def run(self, src, dest):
        await self._copy(src, dest)

    # Not awaited: the sync `_copy` of a `Runner` instance.
    async def run_sync_copy(self, src, dest):
        self._copy(src, dest)  # expect: blocking-file via fileio.FileManagerMixin._copy > shutil.copyfile

    # No subclass overrides `_stat` with a coroutine: awaited, it is still the sync one.
    async def check(self, path):
        await self._stat(path)  # expect: blocking-file via fileio.FileManagerMixin._stat > open
