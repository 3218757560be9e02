from fastapi import FastAPI

from .cache import count_visit, mark_seen, seen_label
from .stats import reset, views_label

app = FastAPI()


@app.get("/visit/{page}")
async def visit_route(page: str):
    await mark_seen(page)
    return {"visits": await count_visit(page), "seen": await seen_label(page)}


@app.get("/views/{page}")
async def views_route(page: str):
    return {"label": await views_label(page)}


@app.delete("/views/{page}")
async def reset_route(page: str):
    return await reset(page)
