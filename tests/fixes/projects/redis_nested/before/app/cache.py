import redis

cache = redis.Redis(host="127.0.0.1", port=6379, decode_responses=True)


def count_visit(page: str) -> int:
    n = cache.incr(f"visits:{page}")
    cache.expire(f"visits:{page}", 3600)
    return n


def label(value: str | None) -> str:
    cache.incr("labels")
    return value or "never"


def seen_label(user: str) -> str:
    return label(cache.get(f"seen:{user}"))


def mark_seen(user: str) -> None:
    cache.set(f"seen:{user}", label(user))
