# fix: make-async
# follow: yes
# A pipeline (sync `execute`), and a client whose other user is called at import (it cannot await):
# neither chain is made async. The after file is this file unchanged.
import redis
from fastapi import FastAPI

app = FastAPI()
cache = redis.Redis(decode_responses=True)
queue = redis.Redis(db=1)


def count_visit(page: str) -> int:
    pipe = cache.pipeline()
    pipe.incr(page)
    return pipe.execute()[0]


def warm() -> None:
    queue.ping()


warm()


def push(item: str) -> int:
    return queue.rpush("jobs", item)


@app.get("/visit/{page}")
async def visit_route(page: str):
    return count_visit(page)


@app.post("/jobs")
async def add_job(item: str):
    return push(item)
