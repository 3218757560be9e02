# Registered, but without the protocol's `name`: not a `Provisioner`, so no call of the protocol's
# `provision` runs this one, and nothing shows who does: it keeps its tier.
import subprocess


class ProvisionOnly:
    async def provision(self, pool: str) -> dict:
        subprocess.run(["true"], check=True)  # expect: blocking-subprocess (critical)
        return {}
