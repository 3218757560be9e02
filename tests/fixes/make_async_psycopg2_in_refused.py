# fix: make-async
# follow: yes
import psycopg2
from fastapi import FastAPI

app = FastAPI()
DSN = "postgresql://notes@127.0.0.1/notes"


def load_notes(ids: tuple) -> list:
    conn = psycopg2.connect(DSN)
    cur = conn.cursor()
    cur.execute("select id, text from notes where id IN %s", (ids,))
    rows = cur.fetchall()
    conn.close()
    return rows


@app.get("/notes")
async def get_notes(a: int, b: int):
    return load_notes((a, b))
