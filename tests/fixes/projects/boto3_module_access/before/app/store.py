import boto3

s3 = boto3.client("s3", region_name="eu-west-1")


def put_blob(key: str, data: bytes) -> None:
    s3.put_object(Bucket="blobs", Key=key, Body=data)


def blob_size(key: str) -> int:
    return s3.head_object(Bucket="blobs", Key=key)["ContentLength"]
