# fix: make-async
# follow: yes
# A module-level boto3 client made with what is not a constant, or used by a sync function off the
# chain that cannot become a coroutine (`atexit` calls it, it cannot await): no client per event loop.
# The after file is this file unchanged.
import atexit
import os

import boto3
from fastapi import FastAPI

app = FastAPI()
s3 = boto3.client("s3", region_name=os.environ.get("AWS_REGION", "us-east-1"))
audit = boto3.client("s3", region_name="us-east-1")


def save(key: str) -> None:
    s3.put_object(Bucket="notes", Key=key, Body=b"")


def log(key: str) -> None:
    audit.put_object(Bucket="audit", Key=key, Body=b"")


def log_at_exit(key: str) -> None:
    audit.delete_object(Bucket="audit", Key=key)


atexit.register(log_at_exit, "last")


@app.post("/notes/{key}")
async def post_note(key: str):
    save(key)


@app.post("/audit/{key}")
async def post_audit(key: str):
    log(key)
