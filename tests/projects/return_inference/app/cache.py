# A cache whose client comes from an unannotated factory of another module, imported where it is called
# (litellm's RedisCache): a sync redis SET, reached from a route through a helper of a third module.


class RedisCache:
    def __init__(self, url: str | None = None) -> None:
        from .clients import redis_client

        self.redis_client = redis_client(url)

    def set_cache(self, key: str, value: object) -> None:
        self.redis_client.set(name=key, value=str(value))
