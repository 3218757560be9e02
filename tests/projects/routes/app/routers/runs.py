import requests
from fastapi import APIRouter

router = APIRouter()


@router.get("/runs/{run_id}")
async def read_run(run_id: str):
    requests.get("https://example.com", timeout=5)  # expect: blocking-http [GET {V2}/runs/{run_id}]
