from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from . import cache
from .cache import count_visit
from .stats import page_views, reset

app = FastAPI()


@app.get("/visit/{page}")
async def visit_route(page: str):
    return {"visits": await run_in_threadpool(count_visit, page)}


@app.get("/views/{page}")
def views_route(page: str):
    return {"views": page_views(page)}


@app.delete("/views/{page}")
async def reset_route(page: str):
    await reset(page)
    return {"user": "ok", "seen": await run_in_threadpool(cache.last_seen, "x")}
