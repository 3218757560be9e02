from app.cache import cache


async def page_views(page: str) -> int:
    return int(await cache.get(f"visits:{page}") or 0)


async def reset(page: str) -> None:
    await cache.delete(f"visits:{page}")
