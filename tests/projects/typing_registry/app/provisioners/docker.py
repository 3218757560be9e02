# Registered and implementing `Provisioner`: only the `provision_pool` command runs it.
import subprocess

from rich.prompt import Confirm


class DockerProvisioner:
    @property
    def name(self) -> str:
        return "docker"

    async def provision(self, pool: str) -> dict:
        if Confirm.ask(f"Build an image for {pool}?"):  # expect: blocking-input (hint)
            subprocess.run(["docker", "build", "-t", pool, "."], check=True)  # expect: blocking-subprocess (hint)
        return {"image": pool}
