# fix: make-async
# follow: yes
# Two chains of one file, converted in one round: `requests` goes with its last use.
import requests
from fastapi import FastAPI

app = FastAPI()


def fetch_a(x: str) -> str:
    return requests.get(f"http://127.0.0.1:9000/a/{x}", timeout=10).text


def fetch_b(x: str) -> str:
    return requests.get(f"http://127.0.0.1:9000/b/{x}", timeout=10).text


@app.get("/a/{x}")
async def a(x: str):
    return {"a": fetch_a(x)}


@app.get("/b/{x}")
async def b(x: str):
    return {"b": fetch_b(x)}
