# Factories without return annotations: when every `return` of a function gives the same type, a call of
# it has that type (`client().get(...)` sends a request); different returns, a `None` among them, or a
# value of unknown type give nothing; instances of different catalogued classes (a factory of sync clients)
# are typed as the last `return`, the factory's default case.
from pathlib import Path

import httpx
import redis
import redis.cluster
import requests


def client():
    return httpx.Client()


def config_file():
    return Path("/etc/app.toml")


def from_a_name():
    c = httpx.Client(timeout=3)
    return c


def same_type_twice(slow: bool):
    if slow:
        return httpx.Client(timeout=60)
    return httpx.Client()


def with_a_nested_function():
    def inner():
        return 1

    return httpx.Client(transport=inner())


async def make_client():
    return httpx.Client()


class Store:
    def __init__(self) -> None:
        self._session = requests.Session()

    def session(self):
        return self._session


def either(flag: bool):
    if flag:
        return httpx.Client()
    return httpx.AsyncClient()


def maybe(flag: bool):
    if flag:
        return None
    return httpx.Client()


def untyped():
    return build()  # noqa: F821


def rows():
    yield httpx.Client()


async def here():
    return client().get("/x")  # expect: blocking-http


async def here_different():
    return await either(False).get("/x")


async def here_awaited():
    return (await make_client()).get("/x")  # expect: blocking-http


async def here_none_among_them():
    return maybe(True).get("/x")


def redis_client(url: str | None, nodes: list | None = None):
    # A factory of sync redis clients (litellm's get_redis_client): a cluster, a URL or keyword
    # arguments. Instances of different catalogued classes: typed as the last return, its default case.
    if nodes:
        return redis.cluster.RedisCluster(startup_nodes=nodes)
    if url is not None:
        return redis.Redis.from_url(url)
    return redis.Redis()
