import sqlite3

import aiosqlite

DB = "app.db"


async def fetch_user(user_id: int) -> dict:
    async with aiosqlite.connect(DB) as conn:
        conn.row_factory = sqlite3.Row
        row = await (await conn.execute("select id, name from users where id = ?", (user_id,))).fetchone()
        await conn.commit()
    return dict(row)


async def rename(user_id: int, name: str) -> int:
    conn = await aiosqlite.connect(DB)
    try:
        cur = await conn.execute("update users set name = ? where id = ?", (name, user_id))
        await conn.commit()
        return cur.rowcount
    finally:
        await conn.close()
