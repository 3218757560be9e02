from fastapi import APIRouter

from .notes import add_note

router = APIRouter()


@router.post("/inbox")
async def inbox(text: str):
    return {"id": await add_note("inbox", text)}


@router.post("/folders/{folder}")
async def post_note(folder: str, text: str):
    return {"id": await add_note(folder, text)}
