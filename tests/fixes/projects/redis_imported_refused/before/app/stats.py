from app.cache import cache


def page_views(page: str) -> int:
    return int(cache.get(f"visits:{page}") or 0)


async def reset(page: str) -> None:
    cache.delete(f"visits:{page}")


PING = cache.ping()
