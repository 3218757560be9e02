# fix: offload
import functools
import subprocess

import trio


async def main():
    await trio.to_thread.run_sync(functools.partial(subprocess.run, ["ls"], check=True))
    await trio.to_thread.run_sync(subprocess.call, ["ls"])


trio.run(main)
