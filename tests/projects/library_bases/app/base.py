# Project classes that subclass catalogued library clients (prefect's `PrefectHttpxSyncClient(httpx.Client)`):
# a method no project class of the MRO defines is the library's, and blocks as it does; a method a project
# class overrides is its own, and its body decides (`super().get(...)` in it is the library's again).
import httpx
import requests


class ApiClient(httpx.Client):
    def send(self, request, *args, **kwargs):
        # Overrides `send` only: `get` and `post` are httpx.Client's.
        return super().send(request, *args, **kwargs)


class RetryingClient(ApiClient):
    retries = 3


class LoggingSession(requests.Session):
    def get(self, url, **kwargs):
        print("GET", url)
        return super().get(url, **kwargs)


class CachedSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.cache: dict = {}

    def get(self, url, **kwargs):
        # Answers from memory: no request.
        return self.cache.get(url)


class AsyncSession(requests.Session):
    async def get(self, url, **kwargs):
        return url


async def in_this_module():
    return LoggingSession().get("/y")  # expect: blocking-http via base.LoggingSession.get > requests.Session.get


async def inherited_in_this_module():
    return RetryingClient().get("/y")  # expect: blocking-http
