from app.store import s3


async def audit_count() -> int:
    return (await (await s3()).list_objects_v2(Bucket="audit"))["KeyCount"]
