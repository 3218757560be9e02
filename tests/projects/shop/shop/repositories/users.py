from .base import BaseRepository

COLUMNS = ("id", "name", "email")


class UserRepository(BaseRepository):
    table = "users"

    def fetch(self, user_id: int) -> dict | None:
        # Uses the inherited `_query` (defined in base.py).
        rows = self._query("SELECT id, name, email FROM users WHERE id = ?", (user_id,))
        return dict(zip(COLUMNS, rows[0])) if rows else None

    def by_email(self, email: str) -> dict | None:
        rows = self._query("SELECT id, name, email FROM users WHERE email = ?", (email,))
        return dict(zip(COLUMNS, rows[0])) if rows else None

    async def fetch_async(self, user_id: int) -> dict | None:
        # A coroutine calling a sync method of its own class through `self`: blocks the loop.
        return self.fetch(user_id)  # expect: blocking-database via users.UserRepository.fetch > base.BaseRepository._query > sqlite3.connect

    async def describe(self) -> str:
        # `self.table_name()` is inherited and pure: no finding.
        return f"repository for {self.table_name()}"
