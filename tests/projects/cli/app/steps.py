from .helpers import current_branch, fetch_manifest


async def prepare(url: str):
    # Awaited by the `deploy` command only: it runs on the command's loop.
    return fetch_manifest(url), current_branch()  # expect: blocking-http (hint) via helpers.fetch_manifest > requests.get; blocking-subprocess (hint) via helpers.current_branch > subprocess.run


async def announce(url: str):
    # Awaited by the command and by a route: it serves requests too.
    return fetch_manifest(url)  # expect: blocking-http (critical) via helpers.fetch_manifest > requests.get
