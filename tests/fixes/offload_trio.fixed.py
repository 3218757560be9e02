# fix: offload
import subprocess

import trio
import functools


async def main():
    await trio.to_thread.run_sync(functools.partial(subprocess.run, ["ls"], check=True))
    await trio.to_thread.run_sync(subprocess.call, ["ls"])


trio.run(main)
