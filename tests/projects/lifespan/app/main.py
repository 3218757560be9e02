import asyncio
from contextlib import asynccontextmanager

from fastapi import FastAPI

from .setup import clean, load_settings, poll, refresh, warm_cache


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.settings = load_settings()  # expect: blocking-http (hint) via setup.load_settings > requests.get
    await warm_cache()
    await refresh()
    task = asyncio.create_task(poll())
    yield
    task.cancel()
    clean("/tmp/files")  # expect: blocking-file (hint) via setup.clean > shutil.rmtree


app = FastAPI(lifespan=lifespan)


@app.get("/settings")
async def settings():
    await refresh()
    return load_settings()  # expect: blocking-http (critical) via setup.load_settings > requests.get
