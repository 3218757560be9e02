# Resources of different classes, returned together by an unannotated method: `await
# resource.provision()` on an item runs one of their coroutines.
from pathlib import Path


class ClusterResource:
    async def provision(self, name: str) -> None:
        print(name)


class RepositoryResource:
    async def provision(self, name: str) -> None:
        # Only the command reaches it: a hint.
        print(Path("profiles.toml").read_text(), name)  # expect: blocking-file (hint)


class WebhookResource:
    async def provision(self, name: str) -> None:
        # The route reaches it as well: it keeps its tier.
        print(Path("hooks.toml").read_text(), name)  # expect: blocking-file (warning)


class Provisioner:
    def _generate_resources(self, name: str):
        return [
            ClusterResource(),
            RepositoryResource(),
            WebhookResource(),
        ]

    async def provision(self, name: str) -> None:
        resources = self._generate_resources(name)
        for resource in resources:
            await resource.provision(name)
