# A future whose `state` property asks the server for it with a sync HTTP client.
import httpx


class TaskFuture:
    def __init__(self, run_id: str):
        self.run_id = run_id

    @property
    def state(self) -> str:
        return httpx.get(f"http://api/runs/{self.run_id}").text

    @property
    def run(self) -> str:
        return self.run_id
