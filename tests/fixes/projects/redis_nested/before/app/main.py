from fastapi import FastAPI

from .cache import count_visit, mark_seen, seen_label
from .stats import reset, views_label

app = FastAPI()


@app.get("/visit/{page}")
async def visit_route(page: str):
    mark_seen(page)
    return {"visits": count_visit(page), "seen": seen_label(page)}


@app.get("/views/{page}")
def views_route(page: str):
    return {"label": views_label(page)}


@app.delete("/views/{page}")
async def reset_route(page: str):
    return await reset(page)
