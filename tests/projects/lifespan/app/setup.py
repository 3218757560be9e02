import shutil

import requests


def load_settings():
    return requests.get("https://config.example.com", timeout=5).json()


def clean(path: str):
    shutil.rmtree(path)


async def warm_cache():
    # Awaited by the lifespan only: it runs once too.
    requests.get("https://cache.example.com", timeout=5)  # expect: blocking-http (hint)


async def refresh():
    # Awaited by the lifespan and by a route: it serves requests.
    requests.get("https://cache.example.com", timeout=5)  # expect: blocking-http (critical)


async def poll():
    # Started by the lifespan as a task: it runs while requests are served.
    requests.get("https://poll.example.com", timeout=5)  # expect: blocking-http (critical)
