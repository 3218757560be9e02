from .checkpoints import AsyncCheckpoints, Checkpoints
from .fileio import AsyncFileManagerMixin, FileManagerMixin


class FileCheckpoints(FileManagerMixin, Checkpoints):
    def create_checkpoint(self, src, dest):
        self._copy(src, dest)


class AsyncFileCheckpoints(FileCheckpoints, AsyncFileManagerMixin, AsyncCheckpoints):
    # C3 across modules: AsyncFileCheckpoints, FileCheckpoints, AsyncFileManagerMixin, FileManagerMixin,
    # AsyncCheckpoints, Checkpoints. This file alone sees `FileManagerMixin` (through `FileCheckpoints`)
    # before `AsyncFileManagerMixin`, whose own base it cannot see.
    async def create_checkpoint(self, src, dest):
        await self._copy(src, dest)

    async def restore_checkpoint(self, src, dest):
        return await self._read_file(src)

    async def stat_checkpoint(self, path):
        # No async `_stat` in the MRO: the sync one runs, awaited or not.
        await self._stat(path)  # expect: blocking-file via fileio.FileManagerMixin._stat > open

    async def copy_unawaited(self, src, dest):
        # Called without `await` on this class: the async `_copy` makes a coroutine, no blocking.
        self._copy(src, dest)


class SyncFileCheckpoints(FileCheckpoints):
    # No async mixin: `_copy` is the sync one.
    async def create_checkpoint(self, src, dest):
        self._copy(src, dest)  # expect: blocking-file via fileio.FileManagerMixin._copy > shutil.copyfile
