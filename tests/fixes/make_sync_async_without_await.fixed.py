# config: extend-select = ["async-without-await"]
# fix: make-sync
from fastapi import APIRouter

router = APIRouter()


@router.get("/version")
def version():
    return {"version": "1.0"}


async def helper():
    return 1
