# fix: make-async
# follow: yes
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


def push(item: str) -> int:
    return queue.rpush("jobs", item)


@app.get("/visit/{page}")
async def visit_route(page: str):
    return count_visit(page)


@app.post("/jobs")
async def add_job(item: str):
    return push(item)
