"""A star import of a package whose `__init__` star-imports its module."""

from app.sub import *


async def through_package():
    deep()  # expect: blocking-sleep via leaf.deep > time.sleep
