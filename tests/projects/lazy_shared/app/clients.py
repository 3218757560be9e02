import boto3

_s3 = None


def get_s3():
    # Created on first use and kept: whichever coroutine comes first waits for it, once.
    global _s3
    if _s3 is None:
        _s3 = boto3.client("s3")
    return _s3


def fresh_s3():
    # No guard: every call creates a client.
    return boto3.client("s3")
