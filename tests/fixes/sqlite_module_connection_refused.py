# fix: all-unsafe
# follow: yes
import sqlite3

from fastapi import FastAPI

app = FastAPI()
conn = sqlite3.connect("notes.db")


def count() -> int:
    return conn.execute("select count(*) from notes").fetchone()[0]


@app.get("/count")
async def get_count():
    return count()


@app.get("/first")
async def get_first():
    return conn.execute("select text from notes limit 1").fetchone()
