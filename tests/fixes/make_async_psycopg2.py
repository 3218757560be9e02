# fix: make-async
# follow: yes
import psycopg2
import psycopg2.extras
from fastapi import FastAPI

app = FastAPI()
DSN = "postgresql://notes@127.0.0.1/notes"
BY_ID = "select id, text from notes where id = %s"


def load_note(note_id: int) -> dict | None:
    conn = psycopg2.connect(DSN, connect_timeout=5)
    try:
        cur = conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor)
        cur.execute(BY_ID, (note_id,))
        row = cur.fetchone()
        cur.close()
    except psycopg2.OperationalError:
        row = None
    finally:
        conn.close()
    return row


def save_note(text: str, tags: list) -> int:
    conn = psycopg2.connect(DSN)
    with conn.cursor() as cur:
        cur.execute(
            "insert into notes (text, tags) values (%(text)s, %(tags)s) returning id",
            {"text": text, "tags": tags},
        )
        note_id = cur.fetchone()[0]
        cur.execute("select tag from tags where tag = any(%s)", (tags,))
        for (tag,) in cur:
            print(tag, cur.rowcount)
    conn.commit()
    conn.close()
    return note_id


@app.get("/notes/{note_id}")
async def get_note(note_id: int):
    return load_note(note_id)


@app.post("/notes")
async def post_note(text: str):
    return {"id": save_note(text.strip(), ["new"])}
