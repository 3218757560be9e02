from fastapi import FastAPI

from . import clients
from .clients import get_s3, listen, pool, report, server

app = FastAPI()

_page = None


@app.get("/upload")
async def upload():
    s3 = get_s3()  # expect: blocking-sdk (hint) via clients.get_s3 > boto3.client
    return s3


@app.get("/download")
async def download():
    # The same client as `/upload`'s: one-time work reported once, there.
    return clients.get_s3()


@app.get("/events")
async def events():
    server.start()  # expect: blocking-http (hint) via clients.LocalServer.start > requests.get
    return clients.fetch_fresh("https://example.com")  # expect: blocking-http (critical) via clients.fetch_fresh > requests.get


@app.get("/workers")
async def workers():
    pool.ensure()  # expect: blocking-subprocess (hint) via clients.Pool.ensure > clients.Pool._spawn > subprocess.Popen


@app.get("/page")
async def page():
    global _page
    if _page is None:
        _page = clients.fetch_fresh("https://example.com")  # expect: blocking-http (hint) via clients.fetch_fresh > requests.get
    return _page


@app.get("/listen")
async def listening():
    listen(4200)  # expect: blocking-network (hint) via clients.listen > socket.socket.connect
    report("https://example.com")  # expect: blocking-http (critical) via clients.report > requests.post
