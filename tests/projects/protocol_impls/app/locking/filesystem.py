# Locks kept in files: asking whether a key is locked reads its lock file.
import json
from pathlib import Path

from .protocol import LockManager


class FileLockManager(LockManager):
    def __init__(self, root: Path):
        self.root = root

    def _info(self, key: str):
        with open(self.root / f"{key}.lock") as fh:
            return json.load(fh)

    def is_locked(self, key: str) -> bool:
        return self._info(key) is not None

    def release(self, key: str) -> None:
        pass

    async def await_lock(self, key: str, timeout=None) -> bool:
        return True
