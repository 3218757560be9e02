# fix: make-async
# follow: yes
# Two chains, from two routes, sharing one module-level redis client: converting one converts the
# client and both helpers (each awaited by its route); the second chain has nothing left to do.
import redis
from fastapi import FastAPI

app = FastAPI()
cache = redis.Redis(host="127.0.0.1", port=6379, decode_responses=True)


def count_visit(page: str) -> int:
    n = cache.incr(f"visits:{page}")
    cache.expire(f"visits:{page}", 3600)
    return n


def last_seen(user: str) -> str | None:
    return cache.get(f"seen:{user}")


@app.get("/visit/{page}")
async def visit_route(page: str):
    return {"visits": count_visit(page)}


@app.get("/users/{user}")
async def user_route(user: str):
    return {"user": user, "seen": last_seen(user)}
