# fix: httpx
import requests


async def fetch(url, token):
    r = requests.get(url, timeout=5)
    requests.post(url, json={"a": 1}, allow_redirects=False, verify=False)
    headers = requests.head(url).headers
    return r.json(), headers


async def search(url):
    return requests.get(url, params={"q": "x"}, data="raw body").json()
