from fastapi import FastAPI

from app.notes import add_note, notes_in

app = FastAPI()


@app.get("/folders/{folder}")
async def folder(folder: str, limit: int = 20):
    return await notes_in(folder, limit)


@app.post("/folders/{folder}")
async def post_note(folder: str, text: str):
    return {"id": await add_note(folder, text)}


@app.get("/inbox")
async def inbox():
    first = await notes_in("inbox", 1)
    return {"first": first, "id": await add_note("inbox", "seen")}
