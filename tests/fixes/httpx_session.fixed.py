# fix: httpx
import httpx
import requests


async def sync_all(base, token):
    async with httpx.AsyncClient(follow_redirects=True, timeout=None) as s:
        s.headers.update({"Authorization": f"Bearer {token}"})
        users = (await s.get(f"{base}/users", timeout=10)).json()
        await s.post(f"{base}/audit", json={"n": len(users)})
        alive = (await s.head(base, follow_redirects=False)).status_code
    return users, alive


async def mounts(base):
    with requests.Session() as s:
        s.mount("https://", None)
        return s.get(base).text
