from .handler import from_env_manager, from_manager, from_untyped, outside_the_test

CLIENT = None


async def read_secret(kind: str):
    from_manager(CLIENT, kind, "KEY")  # expect: blocking-http (critical) via handler.from_manager > managers.AWSManager.sync_read_secret > httpx.Client.post
    from_untyped(CLIENT, "KEY")  # expect: blocking-http (critical) via handler.from_untyped > managers.AWSManager.sync_read_secret > httpx.Client.post
    from_env_manager(CLIENT, "KEY")
    outside_the_test(CLIENT, "KEY")
