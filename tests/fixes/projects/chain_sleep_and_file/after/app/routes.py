from fastapi import APIRouter

from .settings import current_settings

router = APIRouter()


@router.get("/settings")
async def settings() -> dict:
    return {"settings": await current_settings()}
