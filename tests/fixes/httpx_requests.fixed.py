# fix: httpx
import httpx


async def fetch(url, token):
    async with httpx.AsyncClient(follow_redirects=True) as client:
        r = await client.get(url, timeout=5)
    async with httpx.AsyncClient(verify=False, timeout=None) as client:
        await client.post(url, json={"a": 1}, follow_redirects=False)
    async with httpx.AsyncClient(timeout=None) as client:
        headers = (await client.head(url)).headers
    return r.json(), headers


async def search(url):
    async with httpx.AsyncClient(follow_redirects=True, timeout=None) as client:
        return (await client.request("GET", url, params={"q": "x"}, content="raw body")).json()
