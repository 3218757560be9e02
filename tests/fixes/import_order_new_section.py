# fix: offload
# An added import goes in isort's order: `import asyncio` (standard library) in a section of its own,
# before the third-party block, which has no standard-library import yet.
import requests
from pydantic import BaseModel

from .settings import URL


class Quote(BaseModel):
    value: int


async def quote() -> Quote:
    return Quote(value=requests.get(URL, timeout=5).json())
