# fix: make-async
# follow: yes
# Two chains of one file, converted in one round: `requests` goes with its last use.
import httpx
from fastapi import FastAPI

app = FastAPI()


async def fetch_a(x: str) -> str:
    async with httpx.AsyncClient(follow_redirects=True) as client:
        return (await client.get(f"http://127.0.0.1:9000/a/{x}", timeout=10)).text


async def fetch_b(x: str) -> str:
    async with httpx.AsyncClient(follow_redirects=True) as client:
        return (await client.get(f"http://127.0.0.1:9000/b/{x}", timeout=10)).text


@app.get("/a/{x}")
async def a(x: str):
    return {"a": await fetch_a(x)}


@app.get("/b/{x}")
async def b(x: str):
    return {"b": await fetch_b(x)}
