# fix: make-async
# follow: yes
import psycopg2
import psycopg2.extras
from fastapi import FastAPI

app = FastAPI()
DSN = "postgresql://notes@127.0.0.1/notes"


def save_note(text: str, meta: dict) -> None:
    conn = psycopg2.connect(DSN)
    cur = conn.cursor()
    cur.execute("insert into notes (text, meta) values (%s, %s)", (text, psycopg2.extras.Json(meta)))
    conn.commit()
    conn.close()


@app.post("/notes")
async def post_note(text: str):
    save_note(text, {"source": "api"})
