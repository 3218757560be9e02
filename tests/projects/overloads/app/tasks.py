# Coroutines that read a future's state through each overload of `get_client`.
from .futures import RunFuture


async def wait_sync(future: RunFuture) -> dict:
    return future.state  # expect: blocking-http via futures.RunFuture.state > client.SyncApiClient.read_run > httpx.Client.get


async def wait_positional(future: RunFuture) -> dict:
    return future.state_positional  # expect: blocking-http via futures.RunFuture.state_positional > client.SyncApiClient.read_run > httpx.Client.get


async def wait_async(future: RunFuture) -> dict:
    return await future.state_async


async def wait_default(future: RunFuture) -> dict:
    return await future.state_default
