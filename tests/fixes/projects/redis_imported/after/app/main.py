from fastapi import FastAPI

from . import cache
from .cache import count_visit
from .stats import page_views, reset

app = FastAPI()


@app.get("/visit/{page}")
async def visit_route(page: str):
    return {"visits": await count_visit(page)}


@app.get("/views/{page}")
async def views_route(page: str):
    return {"views": await page_views(page)}


@app.delete("/views/{page}")
async def reset_route(page: str):
    await reset(page)
    return {"user": "ok", "seen": await cache.last_seen("x")}
