import app.store
from app import store as blobs


def audit_count() -> int:
    return blobs.s3.list_objects_v2(Bucket="audit")["KeyCount"]


def audit_size(key: str) -> int:
    return app.store.s3.head_object(Bucket="audit", Key=key)["ContentLength"] + blobs.blob_size(key)
