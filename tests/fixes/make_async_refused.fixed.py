# fix: make-async
# follow: yes
import time

import requests


def fetch(url):
    return requests.get(url, timeout=5).text


async def route(url):
    return fetch(url)


def cli(url):
    # A sync caller that is not on the chain: it could not await `fetch`.
    print(fetch(url))


def wait():
    time.sleep(1)


async def later():
    wait()


callbacks = [wait]
