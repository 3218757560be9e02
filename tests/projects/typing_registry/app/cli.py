# A command of a typer app runs a provisioner looked up in a registry typed by a Protocol: the
# provisioners the registry lists run on the command's own loop, so what they block on is a hint.
import typer

from . import provisioners

app = typer.Typer()


@app.command()
async def provision_pool(kind: str, pool: str):
    provisioner = provisioners.get_provisioner(kind)
    return await provisioner.provision(pool)
