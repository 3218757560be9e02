# A future reads its run's state: with the sync client (`sync_client=True` chooses its overload), a
# request on the caller's thread; with the async client, a coroutine that blocks nothing.
from .client import get_client


class RunFuture:
    def __init__(self, run_id: str):
        self.run_id = run_id

    @property
    def state(self) -> dict:
        client = get_client(sync_client=True)
        return client.read_run(self.run_id)

    @property
    def state_positional(self) -> dict:
        return get_client(None, True).read_run(self.run_id)

    @property
    def state_async(self):
        # The default overload: the async client, whose `read_run` is a coroutine (not awaited here).
        client = get_client(sync_client=False)
        return client.read_run(self.run_id)

    @property
    def state_default(self):
        return get_client().read_run(self.run_id)
