# litellm's `get_secret_from_manager`: the client is `Any` (or unannotated), and an `isinstance` test
# narrows it before the method call, which then runs that class's method.
from typing import Any


def from_manager(client: Any, key_manager: str, secret_name: str) -> str | None:
    secret = None
    if key_manager == "aws":
        from app.managers import AWSManager

        if isinstance(client, AWSManager):
            secret = client.sync_read_secret(secret_name=secret_name)
    return secret


def from_untyped(client, secret_name: str):
    from app.managers import AWSManager

    if isinstance(client, AWSManager):
        return client.sync_read_secret(secret_name)
    return None


def from_env_manager(client: Any, secret_name: str):
    from app.managers import EnvManager

    if isinstance(client, EnvManager):
        return client.sync_read_secret(secret_name)
    return None


def outside_the_test(client: Any, secret_name: str):
    from app.managers import AWSManager

    if isinstance(client, AWSManager):
        pass
    return client.sync_read_secret(secret_name)
