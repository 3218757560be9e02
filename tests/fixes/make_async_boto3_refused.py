# fix: make-async
# follow: yes
import boto3
from fastapi import FastAPI

app = FastAPI()


def keys(bucket: str) -> list:
    s3 = boto3.client("s3", region_name="us-east-1")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def load(bucket: str, key: str) -> bytes:
    s3 = boto3.client("s3", region_name="us-east-1")
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def copy_later(bucket: str, key: str) -> object:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.head_object(Bucket=bucket, Key=key)
    return s3


def wait_for(bucket: str) -> None:
    res = boto3.resource("s3", region_name="us-east-1")
    res.create_bucket(Bucket=bucket)


@app.get("/keys/{bucket}")
async def get_keys(bucket: str):
    return keys(bucket)


@app.get("/load/{bucket}/{key}")
async def get_one(bucket: str, key: str):
    return load(bucket, key)


@app.get("/copy/{bucket}/{key}")
async def get_copy(bucket: str, key: str):
    return copy_later(bucket, key)


@app.post("/buckets/{bucket}")
async def post_bucket(bucket: str):
    wait_for(bucket)
