import sqlite3

from .audit import log_query

DB = "app.db"


def fetch_user(user_id: int) -> dict:
    conn = sqlite3.connect(DB)
    log_query(conn, "fetch_user")
    row = conn.execute("select id, name from users where id = ?", (user_id,)).fetchone()
    conn.close()
    return {"id": row[0], "name": row[1]}


def rename(user_id: int, name: str) -> int:
    conn = sqlite3.connect(DB)
    cur = conn.execute("update users set name = ? where id = ?", (name, user_id))
    conn.commit()
    for _ in cur:
        pass
    conn.close()
    return cur.rowcount
