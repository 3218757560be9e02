import redis

cache = redis.Redis(host="127.0.0.1", port=6379, decode_responses=True)


def count_visit(page: str) -> int:
    n = cache.incr(f"visits:{page}")
    cache.expire(f"visits:{page}", 3600)
    return n


def last_seen(user: str) -> str | None:
    return cache.get(f"seen:{user}")
