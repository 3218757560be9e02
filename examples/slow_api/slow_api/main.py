"""A signing API in front of a slow external service, with the blocking patterns of the articles about
FastAPI's event loop. Every `async def` route below but the healthcheck holds the loop while it waits,
so one slow request stalls every other request the worker is serving, `/healthcheck` included.
"""

import os
import time

import requests
from fastapi import FastAPI

from .signing import SIGNER_URL, sign_op1

REPORT_SECONDS = float(os.environ.get("SLOW_API_REPORT_SECONDS", "1.5"))

app = FastAPI(title="slow-api")


@app.get("/healthcheck")
async def healthcheck() -> dict:
    return {"status": "ok"}


@app.get("/sign/{request_id}")
async def sign(request_id: str) -> dict:
    # Blocks the loop two calls down, in another module: sign_op1 -> internal_signing_op -> requests.
    return sign_op1(request_id)


@app.get("/quote")
async def quote() -> dict:
    # Blocks the loop: a synchronous HTTP request to the slow service.
    r = requests.get(f"{SIGNER_URL}/quote", timeout=30)
    r.raise_for_status()
    return r.json()


@app.get("/report")
async def report() -> dict:
    # Blocks the loop: `time.sleep` stands in for slow synchronous work.
    time.sleep(REPORT_SECONDS)
    return {"report": "ready"}
