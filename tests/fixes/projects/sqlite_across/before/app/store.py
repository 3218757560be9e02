import sqlite3

DB = "app.db"


def fetch_user(user_id: int) -> dict:
    with sqlite3.connect(DB) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("select id, name from users where id = ?", (user_id,)).fetchone()
    return dict(row)


def rename(user_id: int, name: str) -> int:
    conn = sqlite3.connect(DB)
    try:
        cur = conn.execute("update users set name = ? where id = ?", (name, user_id))
        conn.commit()
        return cur.rowcount
    finally:
        conn.close()
