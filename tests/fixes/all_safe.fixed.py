# fix: all
import asyncio
import subprocess

import requests


class Client:
    def __init__(self):
        self.session = requests.Session()

    async def fetch(self, u):
        # A method on a session: unsafe, so not applied by `--fix`.
        return self.session.get(u)


async def main(u):
    await asyncio.sleep(1)
    await asyncio.to_thread(subprocess.run, ["ls"], check=True)
    return (await asyncio.to_thread(requests.get, u)).status_code
