# fix: make-async
# follow: yes
import psycopg
from fastapi import FastAPI

app = FastAPI()
DSN = "postgresql://notes@127.0.0.1/notes"


def move_note(note_id: int, folder: str) -> None:
    with psycopg.connect(DSN) as conn:
        with conn.transaction():
            conn.execute("delete from inbox where note_id = %s", (note_id,))
            conn.execute(
                "insert into folders (note_id, folder) values (%s, %s)", (note_id, folder)
            )


@app.post("/notes/{note_id}/move")
async def move(note_id: int, folder: str):
    move_note(note_id, folder)
    return {"moved": note_id}
