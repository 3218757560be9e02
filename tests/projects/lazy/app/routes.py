from fastapi import FastAPI

from . import clients
from .clients import get_s3, server

app = FastAPI()


@app.get("/upload")
async def upload():
    s3 = get_s3()  # expect: blocking-sdk (hint) via clients.get_s3 > boto3.client
    return s3


@app.get("/download")
async def download():
    return clients.get_s3()  # expect: blocking-sdk (hint) via clients.get_s3 > boto3.client


@app.get("/events")
async def events():
    server.start()  # expect: blocking-http (hint) via clients.LocalServer.start > requests.get
    return clients.fetch_fresh("https://example.com")  # expect: blocking-http (critical) via clients.fetch_fresh > requests.get
