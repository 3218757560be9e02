# A registry of provisioners typed by a Protocol: `cli.provision_pool` runs
# `get_provisioner(kind).provision(...)`, which runs the `provision` of one of the classes this module
# registers (imported inside `_load`) that implement every method of `Provisioner`.
from typing import Protocol, Type


def _load() -> dict[str, type]:
    from .docker import DockerProvisioner
    from .partial import ProvisionOnly

    return {"docker": DockerProvisioner, "partial": ProvisionOnly}


class Provisioner(Protocol):
    @property
    def name(self) -> str: ...

    async def provision(self, pool: str) -> dict: ...


def get_provisioner(kind: str) -> Type[Provisioner]:
    return _load()[kind]()
