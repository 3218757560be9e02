# fix: all
import subprocess
import time

import requests


class Client:
    def __init__(self):
        self.session = requests.Session()

    async def fetch(self, u):
        # A method on a session: unsafe, so not applied by `--fix`.
        return self.session.get(u)


async def main(u):
    time.sleep(1)
    subprocess.run(["ls"], check=True)
    return requests.get(u).status_code
