import time

from fastapi import APIRouter

router = APIRouter(tags=["health"])


@router.get("/health")
async def health():
    time.sleep(1)  # expect: blocking-sleep [GET /internal/health]
