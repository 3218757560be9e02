# fix: async-file
from pathlib import Path

from fastapi import FastAPI

app = FastAPI()


@app.get("/config")
async def config(name: str, data: str, blob: bytes):
    text = open(name).read()
    raw = open(name, "rb").read()
    open(name, "w", encoding="utf-8").write(data)
    settings = Path(name).read_text()
    p = Path(name)
    p.write_bytes(blob)
    head = p.open().read()
    return text, raw, settings, head
