# One lazily created client reached from several coroutines is one finding, at the first call site (by
# file, then position), listing the others; work done on every call is reported at every call.
from fastapi import FastAPI

from .clients import fresh_s3, get_s3

app = FastAPI()
_bucket = None


@app.get("/upload")
async def upload():
    return get_s3()  # expect: blocking-sdk (hint) via clients.get_s3 > boto3.client


@app.get("/download")
async def download():
    # The same one-time work: listed on the finding above, not reported again.
    return get_s3()


@app.get("/fresh")
async def fresh():
    return fresh_s3()  # expect: blocking-sdk (warning) via clients.fresh_s3 > boto3.client


@app.get("/again")
async def again():
    return fresh_s3()  # expect: blocking-sdk (warning) via clients.fresh_s3 > boto3.client


@app.get("/bucket")
async def bucket():
    # Behind a guard of its own: its own one-time work, reported here.
    global _bucket
    if _bucket is None:
        _bucket = get_s3()  # expect: blocking-sdk (hint) via clients.get_s3 > boto3.client
    return _bucket
