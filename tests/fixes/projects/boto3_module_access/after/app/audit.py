import app.store
from app import store as blobs


async def audit_count() -> int:
    return (await (await blobs.s3()).list_objects_v2(Bucket="audit"))["KeyCount"]


async def audit_size(key: str) -> int:
    return (await (await app.store.s3()).head_object(Bucket="audit", Key=key))["ContentLength"] + await blobs.blob_size(key)
