"""Names that reach this module through star imports, some through a cycle."""

from .cycle import *
from .helpers import _listed as listed_alias


async def listed():
    pause()  # expect: blocking-sleep via helpers.pause > time.sleep


async def listed_private():
    # `cycle` binds `_listed` (it is in `helpers.__all__`), but has no `__all__`: its star import
    # leaves underscore names out.
    _listed()


async def not_in_all():
    unlisted()


async def public():
    doze()  # expect: blocking-sleep via more.doze > time.sleep


async def private():
    _private()


async def builtin_still_blocks(path):
    return open(path).read()  # expect: blocking-file


async def private_imported_by_name():
    listed_alias()  # expect: blocking-sleep via helpers._listed > time.sleep
