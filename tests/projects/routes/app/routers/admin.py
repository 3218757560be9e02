import requests
from fastapi import APIRouter

child = APIRouter(prefix="/users")
parent = APIRouter(prefix="/admin")
parent.include_router(child, prefix="/v1")


@child.delete("/{user_id}")
async def delete_user(user_id: str):
    requests.delete("https://example.com", timeout=5)  # expect: blocking-http [DELETE /api/admin/v1/users/{user_id}]


@parent.get("")
async def admin_home():
    requests.get("https://example.com", timeout=5)  # expect: blocking-http [GET /api/admin]
