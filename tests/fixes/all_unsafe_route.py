# fix: all-unsafe
import json
import sqlite3
import time

import requests
from fastapi import FastAPI

app = FastAPI()


@app.get("/options")
async def options():
    with open("config.json", encoding="utf-8") as f:
        return json.load(f)["options"]


@app.get("/orders/{order_id}")
async def get_order(order_id: int):
    conn = sqlite3.connect("app.db")
    try:
        return conn.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
    finally:
        conn.close()


@app.get("/rates")
async def rates():
    await_me = requests.get("https://example.com/rates", timeout=5).json()
    time.sleep(1)
    return await_me
