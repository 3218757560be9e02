from fastapi import FastAPI

from .routers import health
from .sub import subapp


def create_app() -> FastAPI:
    # An app made in a function: what it includes is served under it.
    api = FastAPI()
    api.include_router(health.router, prefix="/internal")
    api.mount("/sub", subapp)
    return api

