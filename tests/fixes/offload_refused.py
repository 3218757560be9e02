# fix: offload
import requests


async def context_manager(u):
    with requests.get(u, stream=True) as r:
        return r.status_code


async def iterated(path):
    for line in open(path):
        print(line)


async def in_lambda(us):
    return sorted(us, key=lambda u: requests.get(u).status_code)


async def in_generator(us):
    return list(requests.get(u) for u in us)


async def callback(cmd):
    import subprocess

    return subprocess.check_output(c for c in cmd)
