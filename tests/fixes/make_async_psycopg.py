# fix: make-async
# follow: yes
import psycopg
from fastapi import FastAPI

app = FastAPI()
DSN = "postgresql://notes@127.0.0.1/notes"


def save_note(text: str) -> int:
    with psycopg.connect(DSN) as conn:
        row = conn.execute(
            "insert into notes (text) values (%s) returning id", (text,)
        ).fetchone()
    return row[0]


def add(text: str) -> dict:
    return {"id": save_note(text.strip())}


def list_notes(limit: int) -> list:
    conn = psycopg.connect(DSN, connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute("select id, text from notes order by id limit %s", (limit,))
            notes = [{"id": i, "text": t} for i, t in cur.fetchall()]
        for (total,) in conn.execute("select count(*) from notes"):
            notes.append({"total": total})
    finally:
        conn.close()
    return notes


@app.post("/notes")
async def post_note(text: str):
    return add(text)


@app.get("/notes")
async def get_notes(limit: int = 10):
    return list_notes(limit)
