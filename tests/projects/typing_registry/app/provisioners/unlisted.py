# Every method of `Provisioner`, but the protocol's module does not register it: whoever runs it is
# not visible, so it keeps its tier.
import subprocess


class Unlisted:
    @property
    def name(self) -> str:
        return "unlisted"

    async def provision(self, pool: str) -> dict:
        subprocess.run(["true"], check=True)  # expect: blocking-subprocess (critical)
        return {}
