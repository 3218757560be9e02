from fastapi import FastAPI

from .reports import build_report
from .routes import router

app = FastAPI()
app.include_router(router)


@app.get("/report")
async def report() -> dict:
    return {"report": await build_report()}
