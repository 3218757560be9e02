# fix: make-async
# follow: yes
import psycopg
from fastapi import FastAPI

app = FastAPI()
DSN = "postgresql://notes@127.0.0.1/notes"


def save_note(text: str) -> None:
    with psycopg.connect(DSN) as conn:
        with conn.pipeline():
            conn.execute("insert into notes (text) values (%s)", (text,))


def count(conn: psycopg.Connection) -> int:
    return conn.execute("select count(*) from notes").fetchone()[0]


def total() -> int:
    conn = psycopg.connect(DSN)
    n = count(conn)
    conn.close()
    return n


@app.post("/notes")
async def post_note(text: str):
    save_note(text)


@app.get("/notes/count")
async def get_count():
    return total()
