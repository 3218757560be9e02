# fix: offload-block
import sqlite3
from contextlib import closing

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

app = FastAPI()


@app.get("/items")
async def items(db: str):
    await audit("items")
    def _in_thread():
        with closing(sqlite3.connect(db)) as conn:
            rows = conn.execute(
                """
            SELECT id, name
            FROM items
            """
            ).fetchall()
        return rows

    rows = await run_in_threadpool(_in_thread)
    return [{"id": i, "name": n} for i, n in rows]


@app.post("/items")
async def add(db: str, name: str):
    await audit("add")
    def _in_thread():
        with sqlite3.connect(db) as conn:
            conn.execute("INSERT INTO items (name) VALUES (?)", (name,))

    await run_in_threadpool(_in_thread)


async def audit(what):
    return what
