from fastapi import FastAPI

from app.notes import add_note, notes_in

app = FastAPI()


@app.get("/folders/{folder}")
async def folder(folder: str, limit: int = 20):
    return notes_in(folder, limit)


@app.post("/folders/{folder}")
def post_note(folder: str, text: str):
    return {"id": add_note(folder, text)}


@app.get("/inbox")
async def inbox():
    first = notes_in("inbox", 1)
    return {"first": first, "id": add_note("inbox", "seen")}
