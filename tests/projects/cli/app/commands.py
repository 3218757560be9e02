# Commands of a typer app: each runs alone on an event loop made for it, so what they reach through the
# project's helpers is a hint, and so is what a coroutine called only by commands reaches. The same
# helper reached from a route, or from a coroutine a route awaits too, keeps its tier.
import typer
from fastapi import FastAPI

from .helpers import current_branch, fetch_manifest
from .steps import announce, prepare

app = typer.Typer()
api = FastAPI()


@app.command()
async def deploy(url: str):
    manifest = fetch_manifest(url)  # expect: blocking-http (hint) via helpers.fetch_manifest > requests.get
    branch = current_branch()  # expect: blocking-subprocess (hint) via helpers.current_branch > subprocess.run
    await prepare(url)
    await announce(url)
    return manifest, branch


@api.get("/manifest")
async def manifest(url: str):
    await announce(url)
    return fetch_manifest(url)  # expect: blocking-http (critical) via helpers.fetch_manifest > requests.get
