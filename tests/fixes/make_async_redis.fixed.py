# fix: make-async
# follow: yes
import redis
import redis.asyncio
from fastapi import FastAPI

app = FastAPI()
cache = redis.asyncio.Redis(host="127.0.0.1", port=6379, decode_responses=True)


async def count_visit(page: str) -> dict:
    n = await cache.incr(f"visits:{page}")
    await cache.expire(f"visits:{page}", 3600)
    return {"page": page, "visits": n, "ttl": await cache.ttl(f"visits:{page}")}


async def visit(page: str) -> dict:
    return await count_visit(page.lower())


@app.get("/visit/{page}")
async def visit_route(page: str):
    return await visit(page)
