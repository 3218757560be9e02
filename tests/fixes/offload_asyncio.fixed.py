# fix: offload
import asyncio
import subprocess

import requests


class Client:
    def __init__(self):
        self.session = requests.Session()

    async def fetch(self, u):
        return await asyncio.to_thread(self.session.get, u)


async def main(u, args, kwargs):
    r = await asyncio.to_thread(requests.get, u, timeout=5)
    data = (await asyncio.to_thread(requests.get, u)).json()
    await asyncio.to_thread(subprocess.run, *args, **kwargs)
    await asyncio.to_thread(
        requests.post,
        u,
        json={"a": 1},  # the payload
    )
    total = sum(requests.get(x).status_code for x in [u]) if False else 0
    return r, data, total
