# config: offload = "anyio"
# fix: offload
import socket

import anyio.to_thread


async def resolve(host):
    return await anyio.to_thread.run_sync(socket.gethostbyname, host)
