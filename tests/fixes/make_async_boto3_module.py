# fix: make-async
# follow: yes
# A module-level boto3 client: an aioboto3 client per event loop, entered the first time the loop uses it.
import boto3
from fastapi import FastAPI

app = FastAPI()
BUCKET = "notes"
s3 = boto3.client("s3", region_name="us-east-1")


def replace_note(key: str, text: str) -> int:
    try:
        s3.delete_object(Bucket=BUCKET, Key=key)
    except s3.exceptions.NoSuchBucket:
        return -1
    s3.put_object(Bucket=BUCKET, Key=key, Body=text.encode())
    head = s3.head_object(Bucket=BUCKET, Key=key)
    return head["ContentLength"]


def save(key: str, text: str) -> dict:
    return {"size": replace_note(key, text)}


@app.put("/notes/{key}")
async def put_note(key: str, text: str):
    return save(key, text)
