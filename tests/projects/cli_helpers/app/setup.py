import subprocess

from .prompts import unused


async def provision(pool: str):
    # Awaited by the command only, from another module.
    subprocess.run(["docker", "build", "-t", pool, "."], check=True)  # expect: blocking-subprocess (hint)


def sync_entry():
    # A sync caller: it may run `unused()` on any loop, so `unused` keeps its tier.
    return unused()
