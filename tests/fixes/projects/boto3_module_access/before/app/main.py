from fastapi import FastAPI

from .audit import audit_count, audit_size
from .store import blob_size, put_blob

app = FastAPI()


@app.put("/blobs/{key}")
async def upload(key: str, body: bytes):
    put_blob(key, body)
    return {"size": blob_size(key)}


@app.get("/audit")
async def audit():
    return {"count": audit_count()}


@app.get("/audit/{key}")
def audit_key(key: str):
    return {"size": audit_size(key)}
