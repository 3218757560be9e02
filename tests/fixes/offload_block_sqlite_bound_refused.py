# fix: offload-block
# A `with` block using a sqlite3 connection (or its cursor) opened outside it, in the coroutine, by the
# caller or at import: in a worker thread the connection raises `ProgrammingError`. Refused with the
# reason: the after file is this file unchanged.
import sqlite3
from contextlib import closing

DB = sqlite3.connect("app.db")


async def opened_before(path):
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO t VALUES (1)")


async def cursor_of_a_connection_opened_before(path):
    conn = sqlite3.connect(path)
    with closing(conn.cursor()) as cur:
        cur.execute("SELECT 1")
        return cur.fetchall()


async def given(conn: sqlite3.Connection):
    with closing(conn.cursor()) as cur:
        cur.execute("SELECT 1")
        return cur.fetchall()


async def at_import():
    with DB:
        DB.execute("INSERT INTO t VALUES (1)")
