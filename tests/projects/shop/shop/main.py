from fastapi import FastAPI

from shop import disk_usage, get_user
from shop.api import routers
from shop.clients import ping_all

app = FastAPI(title="shop", version="0.3.0")
for router in routers:
    app.include_router(router)


@app.get("/health")
async def health():
    # Nothing blocking.
    return {"ok": True}


@app.get("/health/upstreams")
async def upstreams():
    # A function defined in clients/__init__.py, named after the package.
    return ping_all()  # expect: blocking-http via clients.ping_all > shipping.ShippingClient.ping > requests.head


@app.get("/whoami/{user_id}")
async def whoami(user_id: int):
    # Re-exported twice: shop/__init__.py -> services/__init__.py -> services/users.py.
    return get_user(user_id)  # expect: blocking-database via users.get_user > users.UserRepository.fetch > base.BaseRepository._query > sqlite3.connect


@app.get("/disk")
async def disk():
    return disk_usage()  # expect: blocking-file via reports.disk_usage > reports.count_files > os.listdir
