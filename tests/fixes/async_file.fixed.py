# fix: async-file
from pathlib import Path

import anyio
from fastapi import FastAPI

app = FastAPI()


@app.get("/config")
async def config(name: str, data: str, blob: bytes):
    text = await anyio.Path(name).read_text()
    raw = await anyio.Path(name).read_bytes()
    await anyio.Path(name).write_text(data, encoding="utf-8")
    settings = await anyio.Path(name).read_text()
    p = Path(name)
    await anyio.Path(p).write_bytes(blob)
    head = await anyio.Path(p).read_text()
    return text, raw, settings, head
