# config: offload = "anyio"
# fix: offload
# An added import goes in isort's order: `import anyio.to_thread` (third-party) in the third-party
# block, plain imports before `from` imports, not after the standard library's `import os`.
import os
import socket

from fastapi import FastAPI
from pydantic import BaseModel

from .settings import HOSTS

app = FastAPI()


class Address(BaseModel):
    ip: str


@app.get("/resolve")
async def resolve() -> Address:
    return Address(ip=socket.gethostbyname(HOSTS[os.getpid() % len(HOSTS)]))
