from fastapi import FastAPI

from app.notes import notes_in

app = FastAPI()


@app.get("/folders/{folder}")
async def folder(folder: str, limit: int = 20):
    return notes_in(folder, limit)
