# config: offload = "anyio"
# fix: offload
import anyio.to_thread
import socket


async def resolve(host):
    return await anyio.to_thread.run_sync(socket.gethostbyname, host)
