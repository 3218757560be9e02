# fix: make-sync
import asyncio
import time

import requests
from fastapi import Depends, FastAPI

app = FastAPI()


def get_settings():
    return open("settings.toml").read()


@app.get("/slow")
def slow(settings=Depends(get_settings)):
    time.sleep(1)
    return requests.get("https://example.com").text


@app.get("/awaits")
async def awaits():
    time.sleep(1)
    await asyncio.sleep(1)


@app.get("/loop")
async def needs_loop():
    time.sleep(1)
    asyncio.create_task(asyncio.sleep(1))


@app.get("/direct")
async def direct():
    time.sleep(1)
    return "direct"


@app.get("/caller")
async def caller():
    return await direct()
