# A store whose lock manager is typed by the Protocol: a call of one of its methods runs the method of
# any class of the project that implements it, so the file lock manager's read is reached.
from typing import Optional

from .locking.protocol import LockManager


class ResultStore:
    lock_manager: Optional[LockManager] = None

    def is_locked(self, key: str) -> bool:
        if self.lock_manager is None:
            return False
        return self.lock_manager.is_locked(key)

    def release(self, key: str) -> None:
        if self.lock_manager is not None:
            self.lock_manager.release(key)

    async def write(self, key: str, value: bytes) -> None:
        if self.is_locked(key):  # expect: blocking-file via results.ResultStore.is_locked > filesystem.FileLockManager.is_locked > filesystem.FileLockManager._info > open
            raise RuntimeError(key)
        # No implementation blocks in `release`: no finding.
        self.release(key)

    async def check(self, key: str) -> bool:
        return self.lock_manager.is_locked(key)  # expect: blocking-file via filesystem.FileLockManager.is_locked > filesystem.FileLockManager._info > open
