from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from inventory.stock import can_store


async def upload_check(request):
    size = int(request.query_params["size"])
    # Absolute import of a namespace package under src/.
    ok = can_store("/var/data", size)  # expect: blocking-file via stock.can_store > stock.disk_free > shutil.disk_usage
    return JSONResponse({"ok": ok})


def upload_check_sync(request):
    # A sync Starlette endpoint runs in the threadpool: nothing to report.
    return JSONResponse({"ok": can_store("/var/data", 1)})


app = Starlette(
    routes=[
        Route("/upload-check", upload_check),
        Route("/upload-check-sync", upload_check_sync),
    ]
)
