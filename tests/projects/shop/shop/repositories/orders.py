import sqlite3
import time

from .base import DB_PATH, BaseRepository


class OrderRepository(BaseRepository):
    table = "orders"

    @staticmethod
    def _fetch_all(sql: str, params: tuple) -> list[tuple]:
        # A static helper that opens the database itself.
        with sqlite3.connect(DB_PATH, timeout=5) as conn:
            return conn.execute(sql, params).fetchall()

    @staticmethod
    def backoff(attempt: int) -> None:
        # Used by callers that retry on "database is locked".
        time.sleep(0.05 * 2**attempt)

    @classmethod
    def for_customer(cls, customer_id: int) -> list[tuple]:
        # `cls.method()` in a classmethod reaches the static helper.
        return cls._fetch_all("SELECT id, total FROM orders WHERE customer_id = ?", (customer_id,))
