# fix: all
# A function that imports `asyncio` itself: the fix uses that import, and adds no module-level
# `import asyncio` (it would be unused there: F401, then F811 at the local import).
import time


async def local_before():
    import asyncio

    await asyncio.sleep(1)
    await asyncio.sleep(0)


async def nested_in_a_local_scope(items):
    import asyncio as aio

    for _ in items:
        await aio.sleep(1)
    await aio.sleep(0)


# `asyncio` is imported after the call: in this function the name is local, and unbound at the call,
# so neither a module-level import nor the local one can serve. Not fixed.
async def local_after():
    time.sleep(1)
    import asyncio

    await asyncio.sleep(0)


# Imported only in a branch that may not have run: not fixed either.
async def local_in_a_branch(flag):
    if flag:
        import asyncio
    time.sleep(1)
    return flag
