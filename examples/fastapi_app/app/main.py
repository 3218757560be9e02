"""A small shop API. Several routes block the event loop; run `loopsafe check .` to see which."""

import asyncio
import json
import sqlite3
import time
from pathlib import Path

import httpx
import requests
from fastapi import FastAPI, HTTPException

from app import services

DB_PATH = Path(__file__).parent.parent / "shop.db"
CONFIG_PATH = Path(__file__).parent.parent / "config" / "shipping.json"
EXCHANGE_RATES_URL = "https://rates.example.com/latest"

app = FastAPI(title="shop")


@app.get("/prices/{sku}")
async def price_in_currency(sku: str, currency: str = "EUR") -> dict:
    # Blocks the loop: a synchronous HTTP request inside `async def` (blocking-http).
    rates = requests.get(EXCHANGE_RATES_URL, params={"base": "USD"}, timeout=5).json()
    price_usd = 19.99
    return {"sku": sku, "currency": currency, "price": round(price_usd * rates[currency], 2)}


@app.post("/orders/{order_id}/retry-payment")
async def retry_payment(order_id: int) -> dict:
    # Blocks the loop: `time.sleep` pauses every other request too (blocking-sleep).
    for attempt in range(3):
        async with httpx.AsyncClient(timeout=5) as client:
            response = await client.post(f"https://payments.example.com/orders/{order_id}/charge")
        if response.status_code == 200:
            return {"order_id": order_id, "paid": True, "attempts": attempt + 1}
        time.sleep(1)
    raise HTTPException(status_code=502, detail="payment provider unavailable")


@app.get("/shipping-options")
async def shipping_options() -> list[dict]:
    # Blocks the loop: synchronous file I/O (blocking-file).
    with open(CONFIG_PATH, encoding="utf-8") as f:
        return json.load(f)["options"]


@app.get("/orders/{order_id}")
async def get_order(order_id: int) -> dict:
    # Blocks the loop: a synchronous sqlite3 connection (blocking-database).
    conn = sqlite3.connect(DB_PATH)
    try:
        row = conn.execute(
            "SELECT id, status, total FROM orders WHERE id = ?", (order_id,)
        ).fetchone()
    finally:
        conn.close()
    if row is None:
        raise HTTPException(status_code=404, detail="order not found")
    return {"id": row[0], "status": row[1], "total": row[2]}


@app.get("/tracking/{tracking_number}")
async def tracking(tracking_number: str) -> dict:
    # Done right: an async HTTP client, and `asyncio.sleep` between polls.
    async with httpx.AsyncClient(base_url="https://carrier.example.com", timeout=5) as client:
        for _ in range(3):
            response = await client.get(f"/track/{tracking_number}")
            if response.status_code != 202:
                response.raise_for_status()
                return response.json()
            await asyncio.sleep(0.5)
    raise HTTPException(status_code=504, detail="carrier still processing")


@app.get("/reports/daily")
def daily_report() -> dict:
    # Fine: a sync `def` route runs in FastAPI's threadpool, so blocking here does not stall the loop.
    conn = sqlite3.connect(DB_PATH)
    try:
        count, revenue = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(total), 0) FROM orders WHERE date(created_at) = date('now')"
        ).fetchone()
    finally:
        conn.close()
    time.sleep(0.1)  # stand-in for a slow aggregation
    return {"orders": count, "revenue": revenue}


@app.get("/stock")
async def stock(skus: str) -> dict[str, int]:
    # Blocks the loop two calls deep: `services.stock_summary` -> `fetch_stock` -> `requests.get`.
    # Reporting this needs cross-module analysis; loopsafe does not report it yet.
    return services.stock_summary(skus.split(","))
