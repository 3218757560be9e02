# fix: offload
import time

from starlette.applications import Starlette
from starlette.responses import JSONResponse


async def homepage(request):
    time.sleep(1)
    return JSONResponse({"hello": "world"})


app = Starlette()
