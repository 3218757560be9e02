# fix: make-async
# follow: yes
import aioboto3
from fastapi import FastAPI

app = FastAPI()
BUCKET = "notes"


async def save_note(key: str, text: str) -> dict:
    async with aioboto3.Session().client("s3", region_name="us-east-1") as s3:
        await s3.put_object(Bucket=BUCKET, Key=key, Body=text.encode())
        head = await s3.head_object(Bucket=BUCKET, Key=key)
        doc = """Saved
    note"""
        if s3.can_paginate("list_objects_v2"):
            url = await s3.generate_presigned_url(
                "get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=60
            )
        else:
            url = None
    return {"size": head["ContentLength"], "url": url, "doc": doc}


async def remove(key: str) -> None:
    async with aioboto3.Session().client("s3", region_name="us-east-1") as s3:
        try:
            # S3 answers 204 for a missing key too
            await s3.delete_object(Bucket=BUCKET, Key=key)
        except s3.exceptions.NoSuchKey:
            pass


async def add(key: str, text: str) -> dict:
    return await save_note(key.strip(), text)


@app.post("/notes/{key}")
async def post_note(key: str, text: str):
    return await add(key, text)


@app.delete("/notes/{key}")
async def delete_note(key: str):
    await remove(key)
