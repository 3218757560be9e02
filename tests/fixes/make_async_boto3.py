# fix: make-async
# follow: yes
import boto3
from fastapi import FastAPI

app = FastAPI()
BUCKET = "notes"


def save_note(key: str, text: str) -> dict:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_object(Bucket=BUCKET, Key=key, Body=text.encode())
    head = s3.head_object(Bucket=BUCKET, Key=key)
    doc = """Saved
    note"""
    if s3.can_paginate("list_objects_v2"):
        url = s3.generate_presigned_url(
            "get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=60
        )
    else:
        url = None
    return {"size": head["ContentLength"], "url": url, "doc": doc}


def remove(key: str) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    try:
        # S3 answers 204 for a missing key too
        s3.delete_object(Bucket=BUCKET, Key=key)
    except s3.exceptions.NoSuchKey:
        pass


def add(key: str, text: str) -> dict:
    return save_note(key.strip(), text)


@app.post("/notes/{key}")
async def post_note(key: str, text: str):
    return add(key, text)


@app.delete("/notes/{key}")
async def delete_note(key: str):
    remove(key)
