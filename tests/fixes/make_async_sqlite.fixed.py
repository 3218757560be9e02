# fix: make-async
# follow: yes
import sqlite3

import aiosqlite
from fastapi import FastAPI

app = FastAPI()
DB = "notes.db"


async def save_note(text: str) -> int:
    async with aiosqlite.connect(DB) as conn:
        await conn.execute("create table if not exists notes (text)")
        cur = await conn.execute("insert into notes values (?)", (text,))
        note_id = cur.lastrowid
        await conn.commit()
    return note_id


async def add(text: str) -> dict:
    return {"id": await save_note(text.strip())}


async def list_notes(limit: int) -> list:
    conn = await aiosqlite.connect(DB, timeout=5)
    conn.row_factory = sqlite3.Row
    cur = await conn.cursor()
    await cur.execute("select rowid, text from notes limit ?", (limit,))
    rows = [dict(r) for r in await cur.fetchall()]
    total = (await (await conn.execute("select count(*) from notes")).fetchone())[0]
    await conn.close()
    return rows + [{"total": total}]


@app.post("/notes")
async def post_note(text: str):
    return await add(text)


@app.get("/notes")
async def get_notes(limit: int = 10):
    return await list_notes(limit)
