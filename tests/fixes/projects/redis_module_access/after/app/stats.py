import app.cache
from app import cache as cache_mod


async def page_views(page: str) -> int:
    return int(await cache_mod.cache.get(f"visits:{page}") or 0)


async def seen_twice(user: str) -> bool:
    return await cache_mod.last_seen(user) == await app.cache.cache.get(f"seen:{user}:before")


async def reset(page: str) -> None:
    await app.cache.cache.delete(f"visits:{page}")
    await cache_mod.cache.delete(f"seen:{page}")
