# fix: offload
import anyio
import requests


async def main(u):
    a = requests.get(u)
    b = requests.get(u, timeout=3)
    return a, b


anyio.run(main, "https://example.com")
