# fix: offload-block
import sqlite3
from contextlib import closing

from fastapi import FastAPI

app = FastAPI()


@app.get("/items")
async def items(db: str):
    await audit("items")
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute(
            """
            SELECT id, name
            FROM items
            """
        ).fetchall()
    return [{"id": i, "name": n} for i, n in rows]


@app.post("/items")
async def add(db: str, name: str):
    await audit("add")
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO items (name) VALUES (?)", (name,))


async def audit(what):
    return what
