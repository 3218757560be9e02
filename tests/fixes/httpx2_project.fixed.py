# fix: httpx
# http-module: httpx2
# A file of a project that depends on httpx2 (and not on httpx): requests becomes `httpx2.AsyncClient`.
import httpx2


async def fetch(url):
    async with httpx2.AsyncClient(follow_redirects=True) as client:
        r = await client.get(url, timeout=5)
    return r.json()
