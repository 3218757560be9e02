import redis
import redis.asyncio

cache = redis.asyncio.Redis(host="127.0.0.1", port=6379, decode_responses=True)


async def count_visit(page: str) -> int:
    n = await cache.incr(f"visits:{page}")
    await cache.expire(f"visits:{page}", 3600)
    return n


async def label(value: str | None) -> str:
    await cache.incr("labels")
    return value or "never"


async def seen_label(user: str) -> str:
    return await label(await cache.get(f"seen:{user}"))


async def mark_seen(user: str) -> None:
    await cache.set(f"seen:{user}", await label(user))
