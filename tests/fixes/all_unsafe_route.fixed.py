# fix: all-unsafe
import asyncio
import json
import sqlite3

import requests
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

app = FastAPI()


@app.get("/options")
def options():
    with open("config.json", encoding="utf-8") as f:
        return json.load(f)["options"]


@app.get("/orders/{order_id}")
def get_order(order_id: int):
    conn = sqlite3.connect("app.db")
    try:
        return conn.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
    finally:
        conn.close()


@app.get("/rates")
async def rates():
    await_me = (await run_in_threadpool(requests.get, "https://example.com/rates", timeout=5)).json()
    await asyncio.sleep(1)
    return await_me
