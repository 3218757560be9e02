import redis
import redis.asyncio

cache = redis.asyncio.Redis(host="127.0.0.1", port=6379, decode_responses=True)


async def count_visit(page: str) -> int:
    n = await cache.incr(f"visits:{page}")
    await cache.expire(f"visits:{page}", 3600)
    return n


async def last_seen(user: str) -> str | None:
    return await cache.get(f"seen:{user}")
