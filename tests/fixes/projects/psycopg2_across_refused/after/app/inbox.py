from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from .notes import add_note

router = APIRouter()


@router.post("/inbox")
async def inbox(text: str):
    return {"id": await run_in_threadpool(add_note, "inbox", text)}


@router.post("/folders/{folder}")
def post_note(folder: str, text: str):
    return {"id": add_note(folder, text)}
