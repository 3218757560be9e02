import asyncio
import time


class HTTPHandler:
    def post(self, url):
        time.sleep(1)
        return url


class AsyncHTTPHandler:
    async def post(self, url):
        await asyncio.sleep(1)
        return url


class Retrying:
    def post(self, url):
        time.sleep(1)
        return url


def get_async_httpx_client() -> AsyncHTTPHandler:
    return AsyncHTTPHandler()
