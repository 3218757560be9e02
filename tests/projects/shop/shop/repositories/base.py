import sqlite3
from pathlib import Path

DB_PATH = Path(__file__).parent.parent / "shop.db"


class BaseRepository:
    """Shared plumbing: every query opens its own connection (the app is not long-lived per request)."""

    table: str = ""

    def __init__(self, path: Path = DB_PATH) -> None:
        # Cheap: remembers the path, opens nothing.
        self.path = path

    def _query(self, sql: str, params: tuple = ()) -> list[tuple]:
        # The only place that talks to SQLite for the subclasses: connect first, then execute.
        conn = sqlite3.connect(self.path)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def count(self) -> int:
        # Inherited by every repository; blocks through `_query`.
        return self._query(f"SELECT COUNT(*) FROM {self.table}")[0][0]

    def table_name(self) -> str:
        # Pure.
        return self.table
