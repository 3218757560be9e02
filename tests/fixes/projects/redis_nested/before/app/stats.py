from app.cache import cache, label


def views_label(page: str) -> str:
    return label(label(cache.get(f"visits:{page}")).upper())


async def reset(page: str) -> dict[str, str]:
    cache.delete(f"visits:{page}")
    return {"before": label(cache.getdel(f"seen:{page}")), "now": cache.set(page, label(page))}
