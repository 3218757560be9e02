from typing import Optional, Union

from .handlers import AsyncHTTPHandler, HTTPHandler, Retrying, get_async_httpx_client


async def embedding(client: HTTPHandler | AsyncHTTPHandler | None = None):
    # As litellm's llm_http_handler: whichever branch ran, what is awaited is an `AsyncHTTPHandler`.
    if client is None or not isinstance(client, AsyncHTTPHandler):
        async_client = get_async_httpx_client()
    else:
        async_client = client
    return await async_client.post("https://example.com")


async def direct(client: HTTPHandler | AsyncHTTPHandler):
    return await client.post("https://example.com")


async def old_spelling(client: Optional[Union[HTTPHandler, AsyncHTTPHandler]] = None):
    return await client.post("https://example.com")


async def typing_union(client: Union[HTTPHandler, AsyncHTTPHandler]):
    return await client.post("https://example.com")


async def not_awaited(client: HTTPHandler | AsyncHTTPHandler):
    # Not awaited: the first member's method, as before.
    return client.post("https://example.com")  # expect: blocking-sleep via handlers.HTTPHandler.post > time.sleep


async def both_sync(client: HTTPHandler | Retrying):
    # No member's `post` is a coroutine: awaited or not, a sync one runs.
    return await client.post("https://example.com")  # expect: blocking-sleep via handlers.HTTPHandler.post > time.sleep


async def not_a_union(client: HTTPHandler | None = None):
    return await client.post("https://example.com")  # expect: blocking-sleep via handlers.HTTPHandler.post > time.sleep
