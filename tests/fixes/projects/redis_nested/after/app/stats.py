from app.cache import cache, label


async def views_label(page: str) -> str:
    return await label((await label(await cache.get(f"visits:{page}"))).upper())


async def reset(page: str) -> dict[str, str]:
    await cache.delete(f"visits:{page}")
    return {"before": await label(await cache.getdel(f"seen:{page}")), "now": await cache.set(page, await label(page))}
