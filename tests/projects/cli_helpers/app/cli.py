# Commands of a typer app await coroutines of other modules: those coroutines run on the command's own
# loop, so what they block on delays no other task and is a hint there too. A coroutine a route awaits
# as well keeps its tier.
import typer
from fastapi import FastAPI

from . import prompts
from .prompts import choose_pool, confirm_upload, read_manifest
from .setup import provision

app = typer.Typer()
api = FastAPI()


@app.command()
async def deploy(name: str):
    pool = await choose_pool(name)
    await confirm_upload(name)
    manifest = await read_manifest(name)
    await prompts.ask_name()
    await provision(pool)
    await _local_step(name)
    return manifest


async def _local_step(name: str):
    # Awaited by the command only, in the command's own module.
    return input(f"Continue with {name}? ")  # expect: blocking-input (hint)


@api.get("/manifest/{name}")
async def manifest(name: str):
    return await read_manifest(name)
