# fix: make-async
# follow: yes
import psycopg2
from fastapi import FastAPI

app = FastAPI()
DSN = "postgresql://notes@127.0.0.1/notes"


def move_note(note_id: int, folder: str) -> None:
    conn = psycopg2.connect(DSN)
    with conn:
        with conn.cursor() as cur:
            cur.execute("delete from inbox where note_id = %s", (note_id,))
            cur.execute("insert into folders (note_id, folder) values (%s, %s)", (note_id, folder))
    conn.close()


@app.post("/notes/{note_id}/move")
async def move(note_id: int, folder: str):
    move_note(note_id, folder)
    return {"moved": note_id}
