import asyncio
import shutil


class FileManagerMixin:
    def _copy(self, src, dest):
        shutil.copyfile(src, dest)

    def _read_file(self, path):
        with open(path) as f:
            return f.read()

    def _stat(self, path):
        with open(path) as f:
            return f.fileno()


class AsyncFileManagerMixin(FileManagerMixin):
    async def _copy(self, src, dest):
        await asyncio.to_thread(shutil.copyfile, src, dest)

    async def _read_file(self, path):
        return await asyncio.to_thread(FileManagerMixin._read_file, self, path)
