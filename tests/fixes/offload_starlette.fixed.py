# fix: offload
import time

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse


async def homepage(request):
    await run_in_threadpool(time.sleep, 1)
    return JSONResponse({"hello": "world"})


app = Starlette()
