# fix: httpx
# http-module: httpx2
# A file of a project that depends on httpx2 (and not on httpx): requests becomes `httpx2.AsyncClient`.
import requests


async def fetch(url):
    r = requests.get(url, timeout=5)
    return r.json()
