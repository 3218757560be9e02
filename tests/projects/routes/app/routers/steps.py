import requests
from fastapi import APIRouter

from .store import load_step

router = APIRouter(prefix="/steps")
ITEM = "/{step_id}"


@router.get(f"{ITEM}/runs")
async def step_runs(step_id: str):
    requests.get("https://example.com", timeout=5)  # expect: blocking-http [GET /api/steps/{step_id}/runs]


@router.get("")
async def list_steps():
    return load_step("all")  # expect: blocking-file via store.load_step > open [GET /api/steps]


@router.post("/")
async def create_step():
    requests.post("https://example.com", timeout=5)  # expect: blocking-http [POST /api/steps/]


@router.get(f"/{{step_id}}/raw/{ITEM[1:]}")
async def raw(step_id: str):
    requests.get("https://example.com", timeout=5)  # expect: blocking-http [GET /api/steps/{step_id}/raw/{ITEM[1:]}]
