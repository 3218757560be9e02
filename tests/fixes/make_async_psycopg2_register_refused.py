# fix: make-async
# follow: yes
import psycopg2
import psycopg2.extras
from fastapi import FastAPI

psycopg2.extras.register_uuid()

app = FastAPI()
DSN = "postgresql://notes@127.0.0.1/notes"


def owner(note_id: int):
    conn = psycopg2.connect(DSN)
    cur = conn.cursor()
    cur.execute("select owner_uuid from notes where id = %s", (note_id,))
    row = cur.fetchone()
    conn.close()
    return row[0]


@app.get("/notes/{note_id}/owner")
async def get_owner(note_id: int):
    return {"owner": str(owner(note_id))}
