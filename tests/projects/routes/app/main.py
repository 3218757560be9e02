import requests
from fastapi import FastAPI

from .routers import steps
from .routers.runs import router as runs_router
from .routers.admin import parent
from .settings import V2

BASE = "/api"
app = FastAPI()
app.include_router(steps.router, prefix="/api")
# An imported constant is not followed: its name is kept as a placeholder.
app.include_router(runs_router, prefix=V2)
app.include_router(parent, prefix=BASE)
# Served a second time: shown at its first include (files by path, then source order).
app.include_router(steps.router, prefix="/legacy")


@app.get("/")
async def root():
    requests.get("https://example.com", timeout=5)  # expect: blocking-http [GET /]
