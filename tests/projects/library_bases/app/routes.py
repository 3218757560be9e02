# Coroutines using the project's subclasses of library clients, imported from other modules.
from .api import SyncApi
from .base import ApiClient, AsyncSession, CachedSession, LoggingSession, RetryingClient


async def inherited():
    client = ApiClient()
    return client.get("/x")  # expect: blocking-http


async def through_an_intermediate_class():
    return RetryingClient().post("/x")  # expect: blocking-http


async def through_a_helper(api: SyncApi):
    return api.read_run("1")  # expect: blocking-http via api.SyncApi.read_run > httpx.Client.get


async def override_calling_super():
    return LoggingSession().get("/x")  # expect: blocking-http via base.LoggingSession.get > requests.Session.get


async def override_answering_from_memory():
    return CachedSession().get("/x")


async def async_override():
    return await AsyncSession().get("/x")
