from fastapi import FastAPI

from .cache import count_visit
from .stats import page_views, reset, seen_twice

app = FastAPI()


@app.get("/visit/{page}")
async def visit_route(page: str):
    return {"visits": count_visit(page)}


@app.get("/views/{page}")
def views_route(page: str):
    return {"views": page_views(page), "twice": seen_twice(page)}


@app.delete("/views/{page}")
async def reset_route(page: str):
    await reset(page)
    return {"ok": True}
