# fix: make-async
# follow: yes
import redis
from fastapi import FastAPI

app = FastAPI()
cache = redis.Redis(host="127.0.0.1", port=6379, decode_responses=True)


def count_visit(page: str) -> dict:
    n = cache.incr(f"visits:{page}")
    cache.expire(f"visits:{page}", 3600)
    return {"page": page, "visits": n, "ttl": cache.ttl(f"visits:{page}")}


def visit(page: str) -> dict:
    return count_visit(page.lower())


@app.get("/visit/{page}")
async def visit_route(page: str):
    return visit(page)
