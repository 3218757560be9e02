# fix: make-async
# follow: yes
import psycopg
from fastapi import FastAPI

app = FastAPI()
DSN = "postgresql://notes@127.0.0.1/notes"


async def save_note(text: str) -> int:
    async with await psycopg.AsyncConnection.connect(DSN) as conn:
        row = await (await conn.execute(
            "insert into notes (text) values (%s) returning id", (text,)
        )).fetchone()
    return row[0]


async def add(text: str) -> dict:
    return {"id": await save_note(text.strip())}


async def list_notes(limit: int) -> list:
    conn = await psycopg.AsyncConnection.connect(DSN, connect_timeout=5)
    try:
        async with conn.cursor() as cur:
            await cur.execute("select id, text from notes order by id limit %s", (limit,))
            notes = [{"id": i, "text": t} for i, t in await cur.fetchall()]
        async for (total,) in await conn.execute("select count(*) from notes"):
            notes.append({"total": total})
    finally:
        await conn.close()
    return notes


@app.post("/notes")
async def post_note(text: str):
    return await add(text)


@app.get("/notes")
async def get_notes(limit: int = 10):
    return await list_notes(limit)
