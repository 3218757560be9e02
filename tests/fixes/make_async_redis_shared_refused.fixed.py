# fix: make-async
# follow: yes
# Two chains sharing one module-level redis client, where the other helper is also called by a sync
# function that is not a route: it cannot await, so neither chain is made async (the refusal names it).
import redis
from fastapi import FastAPI

app = FastAPI()
cache = redis.Redis(decode_responses=True)


def count_visit(page: str) -> int:
    return cache.incr(f"visits:{page}")


def last_seen(user: str) -> str | None:
    return cache.get(f"seen:{user}")


def report() -> None:
    print(last_seen("admin"))


@app.get("/visit/{page}")
async def visit_route(page: str):
    return {"visits": count_visit(page)}


@app.get("/users/{user}")
async def user_route(user: str):
    return {"seen": last_seen(user)}
