from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from . import cache
from .cache import count_visit

app = FastAPI()


@app.get("/visit/{page}")
async def visit_route(page: str):
    return {"visits": await run_in_threadpool(count_visit, page)}


@app.get("/users/{user}")
async def user_route(user: str):
    return {"user": user, "seen": await run_in_threadpool(cache.last_seen, user)}


@app.post("/users/{user}/seen")
def seen_route(user: str):
    cache.mark_seen(user)
    return {"ok": True}
