from .cache import last_seen


def main() -> None:
    print(last_seen("admin"))
