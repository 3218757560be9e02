# fix: httpx
# httpx2, the maintained continuation of httpx, keeps its API: its sync functions and clients become
# `httpx2.AsyncClient` (not `httpx.AsyncClient`, which the project may not have).
import httpx2
from httpx2 import Client


async def fetch(url):
    r = httpx2.get(url, timeout=5)
    return r.json()


async def batch(base):
    with Client() as c:
        users = c.get(f"{base}/users").json()
        c.post(f"{base}/audit", json={"n": len(users)})
    return users


async def module_client(base):
    with httpx2.Client() as c:
        page = c.get(base).text
    return page
