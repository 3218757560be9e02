from app.store import s3


def audit_count() -> int:
    return s3.list_objects_v2(Bucket="audit")["KeyCount"]
