"""Notes in PostgreSQL, through psycopg2."""

import psycopg2
import psycopg2.extras

DSN = "postgresql://notes@127.0.0.1/notes"
BY_FOLDER = "select id, text from notes where folder = %s order by id limit %s"


def notes_in(folder: str, limit: int) -> list:
    conn = psycopg2.connect(DSN, connect_timeout=5)
    try:
        with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute(BY_FOLDER, (folder, limit))
            return cur.fetchall()
    finally:
        conn.close()


def add_note(folder: str, text: str) -> int:
    conn = psycopg2.connect(DSN)
    try:
        cur = conn.cursor()
        cur.execute("insert into notes (folder, text) values (%s, %s) returning id", (folder, text))
        (note_id,) = cur.fetchone()
        conn.commit()
    except psycopg2.IntegrityError:
        conn.rollback()
        note_id = -1
    finally:
        conn.close()
    return note_id
