# Coroutines of another module calling the unannotated factories.
from .cache import RedisCache
from .factory import wrapped, wrapped_different
from .clients import (
    Store,
    client,
    config_file,
    either,
    from_a_name,
    make_client,
    maybe,
    rows,
    same_type_twice,
    untyped,
    with_a_nested_function,
)


async def get_one():
    return client().get("/x")  # expect: blocking-http


async def read_config():
    return config_file().read_text()  # expect: blocking-file


async def named():
    return from_a_name().get("/x")  # expect: blocking-http


async def twice():
    return same_type_twice(True).get("/x")  # expect: blocking-http


async def nested():
    return with_a_nested_function().get("/x")  # expect: blocking-http


async def awaited():
    c = await make_client()
    return c.get("/x")  # expect: blocking-http


async def method(store: Store):
    return store.session().get("/x")  # expect: blocking-http


async def different_returns():
    return await either(True).get("/x")


async def none_among_them():
    return maybe(False).get("/x")


async def unknown_type():
    return untyped().get("/x")


async def a_generator():
    for c in rows():
        return c


async def through_another_factory():
    return wrapped().get("/x")  # expect: blocking-http


async def through_another_factory_different():
    return await wrapped_different().get("/x")


def _store_flow(cache: RedisCache, flow: dict) -> None:
    cache.set_cache("flow", flow)


async def start_flow(cache: RedisCache):
    _store_flow(cache, {"done": False})  # expect: blocking-database via routes._store_flow > cache.RedisCache.set_cache > redis.Redis.set
