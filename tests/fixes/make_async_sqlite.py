# fix: make-async
# follow: yes
import sqlite3

from fastapi import FastAPI

app = FastAPI()
DB = "notes.db"


def save_note(text: str) -> int:
    with sqlite3.connect(DB) as conn:
        conn.execute("create table if not exists notes (text)")
        cur = conn.execute("insert into notes values (?)", (text,))
        note_id = cur.lastrowid
    return note_id


def add(text: str) -> dict:
    return {"id": save_note(text.strip())}


def list_notes(limit: int) -> list:
    conn = sqlite3.connect(DB, timeout=5)
    conn.row_factory = sqlite3.Row
    cur = conn.cursor()
    cur.execute("select rowid, text from notes limit ?", (limit,))
    rows = [dict(r) for r in cur.fetchall()]
    total = conn.execute("select count(*) from notes").fetchone()[0]
    conn.close()
    return rows + [{"total": total}]


@app.post("/notes")
async def post_note(text: str):
    return add(text)


@app.get("/notes")
async def get_notes(limit: int = 10):
    return list_notes(limit)
