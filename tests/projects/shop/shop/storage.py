import sqlite3


class Store:
    """Snapshot store: constructing one opens the database file."""

    def __init__(self, path: str = "snapshots.db") -> None:
        self.conn = sqlite3.connect(path)

    def put(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO snapshots VALUES (?, ?)", (key, value))
        self.conn.commit()


class Settings:
    """Plain configuration: constructing one does no I/O."""

    def __init__(self, env: str = "prod") -> None:
        self.env = env
