# A typer command provisions resources (as prefect's `ecs.py`): the provisioner awaits each item of a
# list an unannotated method returns, so the items' coroutines run on the command's loop only.
import typer
from fastapi import FastAPI

from .resources import Provisioner, WebhookResource

app = typer.Typer()
api = FastAPI()


@app.command()
async def create(name: str):
    await Provisioner().provision(name)


@api.post("/webhooks")
async def add_webhook(name: str):
    # A route awaits this resource too: what it blocks on delays every request.
    await WebhookResource().provision(name)
