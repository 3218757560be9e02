from . import archive


def to_csv(number: int) -> None:
    archive.store(number)
