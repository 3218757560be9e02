# fix: make-async
# follow: yes
import psycopg2
from fastapi import FastAPI

app = FastAPI()
DSN = "postgresql://notes@127.0.0.1/notes"


def archive(note_id: int) -> int:
    conn = psycopg2.connect(DSN)
    cur = conn.cursor()
    cur.execute(
        "update notes set archived = true where id = %s; select count(*) from notes where archived",
        (note_id,),
    )
    n = cur.fetchone()[0]
    conn.commit()
    conn.close()
    return n


@app.post("/notes/{note_id}/archive")
async def post_archive(note_id: int):
    return {"archived": archive(note_id)}
