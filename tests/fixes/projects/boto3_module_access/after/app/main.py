from fastapi import FastAPI

from .audit import audit_count, audit_size
from .store import blob_size, put_blob

app = FastAPI()


@app.put("/blobs/{key}")
async def upload(key: str, body: bytes):
    await put_blob(key, body)
    return {"size": await blob_size(key)}


@app.get("/audit")
async def audit():
    return {"count": await audit_count()}


@app.get("/audit/{key}")
async def audit_key(key: str):
    return {"size": await audit_size(key)}
