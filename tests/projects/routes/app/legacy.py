import time

from starlette.applications import Starlette
from starlette.routing import Mount, Route

API = "/api"


async def items(request):
    time.sleep(1)  # expect: blocking-sleep [/api/legacy/items]


async def health(request):
    time.sleep(1)  # expect: blocking-sleep [/health]


app = Starlette(
    routes=[
        Mount(API, routes=[Mount("/legacy", routes=[Route("/items", items)])]),
        Route("/health", health),
    ]
)
