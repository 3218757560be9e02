"""Notes in PostgreSQL, through psycopg2."""

import psycopg
import psycopg2

DSN = "postgresql://notes@127.0.0.1/notes"
BY_FOLDER = "select id, text from notes where folder = %s order by id limit %s"


async def notes_in(folder: str, limit: int) -> list:
    conn = await psycopg.AsyncConnection.connect(DSN, connect_timeout=5, cursor_factory=psycopg.AsyncClientCursor)
    try:
        async with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
            await cur.execute(BY_FOLDER, (folder, limit))
            return await cur.fetchall()
    finally:
        await conn.close()


def add_note(folder: str, text: str) -> int:
    conn = psycopg2.connect(DSN)
    try:
        with conn:
            cur = conn.cursor()
            cur.execute("insert into notes (folder, text) values (%s, %s) returning id", (folder, text))
            (note_id,) = cur.fetchone()
    except psycopg2.IntegrityError:
        note_id = -1
    finally:
        conn.close()
    return note_id
