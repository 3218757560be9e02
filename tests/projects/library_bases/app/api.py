# A sync API client over the project's httpx subclass (prefect's `SyncPrefectClient._client`).
from .base import RetryingClient


class SyncApi:
    def __init__(self) -> None:
        self._client = RetryingClient()

    def read_run(self, run_id: str) -> dict:
        return self._client.get(f"/runs/{run_id}").json()
