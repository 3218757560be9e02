# fix: offload
import subprocess

import trio


async def main():
    subprocess.run(["ls"], check=True)
    subprocess.call(["ls"])


trio.run(main)
