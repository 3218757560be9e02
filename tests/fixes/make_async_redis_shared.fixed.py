# fix: make-async
# follow: yes
# Two chains, from two routes, sharing one module-level redis client: converting one converts the
# client and both helpers (each awaited by its route); the second chain has nothing left to do.
import redis
import redis.asyncio
from fastapi import FastAPI

app = FastAPI()
cache = redis.asyncio.Redis(host="127.0.0.1", port=6379, decode_responses=True)


async def count_visit(page: str) -> int:
    n = await cache.incr(f"visits:{page}")
    await cache.expire(f"visits:{page}", 3600)
    return n


async def last_seen(user: str) -> str | None:
    return await cache.get(f"seen:{user}")


@app.get("/visit/{page}")
async def visit_route(page: str):
    return {"visits": await count_visit(page)}


@app.get("/users/{user}")
async def user_route(user: str):
    return {"user": user, "seen": await last_seen(user)}
