# One factory for two clients, told apart by `@overload`s on a literal argument (as prefect's
# `get_client(sync_client=True)`): the sync client sends its requests with `httpx.Client`.
from typing import Any, Literal, Optional, Union, overload

import httpx


class AsyncApiClient:
    def __init__(self) -> None:
        self._client = httpx.AsyncClient()

    async def read_run(self, run_id: str) -> dict:
        return (await self._client.get(f"/runs/{run_id}")).json()


class SyncApiClient:
    def __init__(self) -> None:
        self._client = httpx.Client()

    def read_run(self, run_id: str) -> dict:
        return self._client.get(f"/runs/{run_id}").json()


@overload
def get_client(settings: Optional[dict[str, Any]], sync_client: Literal[False]) -> AsyncApiClient: ...


@overload
def get_client(*, settings: Optional[dict[str, Any]]) -> AsyncApiClient: ...


@overload
def get_client(*, sync_client: Literal[False] = False) -> AsyncApiClient: ...


@overload
def get_client(settings: Optional[dict[str, Any]], sync_client: Literal[True]) -> "SyncApiClient": ...


@overload
def get_client(*, sync_client: Literal[True]) -> "SyncApiClient": ...


def get_client(
    settings: Optional[dict[str, Any]] = None, sync_client: bool = False
) -> Union[SyncApiClient, AsyncApiClient]:
    return SyncApiClient() if sync_client else AsyncApiClient()
