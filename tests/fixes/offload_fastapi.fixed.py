# fix: offload
"""A FastAPI app: offloading uses FastAPI's own `run_in_threadpool`."""

from fastapi import FastAPI
from fastapi.concurrency import iterate_in_threadpool, run_in_threadpool

from .helpers import local_thing

import requests

app = FastAPI()


@app.get("/items/{item_id}")
async def read_item(item_id: str):
    r = await run_in_threadpool(requests.get, f"https://example.com/items/{item_id}", params={"q": local_thing})
    return {"status": r.status_code, "it": iterate_in_threadpool}
