# fix: offload
# follow: yes
import asyncio
import subprocess
import time


def _retry(f, attempts=3):
    for _ in range(attempts):
        try:
            return f()
        except OSError:
            time.sleep(1)
    return f()


async def lambda_argument():
    return _retry(lambda: 42)


async def direct_call(cmd):
    # The lambda runs where `subprocess.run` runs it (in the child, before exec).
    subprocess.run(cmd, preexec_fn=lambda: None)


async def nested_function(path):
    def read():
        with open(path) as fh:
            return fh.read()

    return _retry(read, attempts=2)


async def needs_the_loop():
    # The lambda would run in the worker thread, where there is no running loop.
    return _retry(lambda: asyncio.get_running_loop().time())
