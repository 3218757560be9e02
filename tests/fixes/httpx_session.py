# fix: httpx
import requests


async def sync_all(base, token):
    with requests.Session() as s:
        s.headers.update({"Authorization": f"Bearer {token}"})
        users = s.get(f"{base}/users", timeout=10).json()
        s.post(f"{base}/audit", json={"n": len(users)})
        alive = s.head(base).status_code
    return users, alive


async def mounts(base):
    with requests.Session() as s:
        s.mount("https://", None)
        return s.get(base).text
