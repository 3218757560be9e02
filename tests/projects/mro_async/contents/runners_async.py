from .fileio import AsyncFileManagerMixin
from .runner import Runner


class AsyncRunner(Runner, AsyncFileManagerMixin):
    pass


class SyncStat(Runner):
    def _stat(self, path):
        return 0
