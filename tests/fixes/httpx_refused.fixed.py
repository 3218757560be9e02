# fix: httpx
import requests

session = requests.Session()


async def streamed(url):
    r = requests.get(url, stream=True)
    return r


async def uses_ok(url):
    r = requests.get(url)
    return r.ok


async def catches(url):
    try:
        requests.get(url)
    except requests.RequestException:
        return None


async def on_session(url):
    session.get(url)


async def passed_on(url):
    return requests.get(url)
