# fix: offload
import json


async def read(path):
    # Offloading `fh.read` or `json.load` alone is not offered: `open` would still block.
    with open(path) as fh:
        return fh.read()


async def load(path):
    with open(path) as fh:
        return json.load(fh)
