# A lock manager typed by a Protocol that imports none of its implementations: they subclass it
# (`class FileLockManager(LockManager)`), as prefect's `locking` package does.
from typing import Optional, Protocol


class LockManager(Protocol):
    def is_locked(self, key: str) -> bool: ...

    def release(self, key: str) -> None: ...

    async def await_lock(self, key: str, timeout: Optional[float] = None) -> bool: ...
