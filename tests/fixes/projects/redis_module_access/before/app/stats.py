import app.cache
from app import cache as cache_mod


def page_views(page: str) -> int:
    return int(cache_mod.cache.get(f"visits:{page}") or 0)


def seen_twice(user: str) -> bool:
    return cache_mod.last_seen(user) == app.cache.cache.get(f"seen:{user}:before")


async def reset(page: str) -> None:
    app.cache.cache.delete(f"visits:{page}")
    cache_mod.cache.delete(f"seen:{page}")
