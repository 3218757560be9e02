# fix: make-async
# follow: yes
import psycopg
from fastapi import FastAPI

app = FastAPI()
DSN = "postgresql://notes@127.0.0.1/notes"
BY_ID = "select id, text from notes where id = %s"


async def load_note(note_id: int) -> dict | None:
    conn = await psycopg.AsyncConnection.connect(DSN, connect_timeout=5, cursor_factory=psycopg.AsyncClientCursor)
    try:
        cur = conn.cursor(row_factory=psycopg.rows.dict_row)
        await cur.execute(BY_ID, (note_id,))
        row = await cur.fetchone()
        await cur.close()
    except psycopg.OperationalError:
        row = None
    finally:
        await conn.close()
    return row


async def save_note(text: str, tags: list) -> int:
    conn = await psycopg.AsyncConnection.connect(DSN, cursor_factory=psycopg.AsyncClientCursor)
    async with conn.cursor() as cur:
        await cur.execute(
            "insert into notes (text, tags) values (%(text)s, %(tags)s) returning id",
            {"text": text, "tags": tags},
        )
        note_id = (await cur.fetchone())[0]
        await cur.execute("select tag from tags where tag = any(%s)", (tags,))
        async for (tag,) in cur:
            print(tag, cur.rowcount)
    await conn.commit()
    await conn.close()
    return note_id


@app.get("/notes/{note_id}")
async def get_note(note_id: int):
    return await load_note(note_id)


@app.post("/notes")
async def post_note(text: str):
    return {"id": await save_note(text.strip(), ["new"])}
