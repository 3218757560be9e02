import asyncio

import aioboto3

# aioboto3's session is made at import; each running event loop enters its own client the first
# time it uses one (its connections belong to that loop), and closes it when it shuts down.
s3_session = aioboto3.Session()
s3_clients: dict[asyncio.AbstractEventLoop, tuple] = {}


async def _s3_entered():
    # An async generator: the loop's shutdown (`shutdown_asyncgens`, which `asyncio.run` and uvicorn
    # run) closes it, and the client with it.
    async with s3_session.client("s3", region_name="eu-west-1") as client:
        yield client


async def s3():
    """The running event loop's own client, entered the first time the loop uses one."""
    loop = asyncio.get_running_loop()
    if loop not in s3_clients:
        for closed in [other for other in s3_clients if other.is_closed()]:
            del s3_clients[closed]
        entered = _s3_entered()
        client = await entered.__anext__()
        if loop in s3_clients:
            # Another task of the loop made one while this one waited.
            await entered.aclose()
        else:
            s3_clients[loop] = (client, entered)
    return s3_clients[loop][0]


async def put_blob(key: str, data: bytes) -> None:
    await (await s3()).put_object(Bucket="blobs", Key=key, Body=data)


async def blob_size(key: str) -> int:
    return (await (await s3()).head_object(Bucket="blobs", Key=key))["ContentLength"]
