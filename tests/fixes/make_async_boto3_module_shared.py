# fix: make-async
# follow: yes
# Two chains, from two routes, sharing one module-level boto3 client: converting one makes the client an
# aioboto3 client per event loop and both helpers coroutines.
import boto3
from fastapi import FastAPI

app = FastAPI()
BUCKET = "notes"
s3 = boto3.client("s3", region_name="us-east-1")


def save_note(key: str, text: str) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=text.encode())


def note_size(key: str) -> int:
    return s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"]


@app.put("/notes/{key}")
async def put_note(key: str, text: str):
    save_note(key, text)
    return {"ok": True}


@app.get("/notes/{key}/size")
async def get_size(key: str):
    return {"size": note_size(key)}
