"""A src/ layout with namespace packages (no __init__.py): modules are named from src/."""
import shutil


def disk_free(path: str) -> int:
    return shutil.disk_usage(path).free


def can_store(path: str, size: int) -> bool:
    return disk_free(path) > size
