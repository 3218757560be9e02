# Locks kept in memory: nothing here blocks.
from .protocol import LockManager


class MemoryLockManager(LockManager):
    def __init__(self):
        self._locks = {}

    def is_locked(self, key: str) -> bool:
        return key in self._locks

    def release(self, key: str) -> None:
        self._locks.pop(key, None)

    async def await_lock(self, key: str, timeout=None) -> bool:
        return True
