# fix: extract
# Selections that cannot move to a thread: the after file is this file unchanged.
import asyncio
import time

total = 0


async def awaits(path):
    # >>> extract
    time.sleep(1)
    await asyncio.sleep(0)
    # <<< extract
    return path


async def yields(paths):
    for path in paths:
        # >>> extract
        time.sleep(1)
        yield path
        # <<< extract


async def breaks(paths):
    for path in paths:
        # >>> extract
        time.sleep(1)
        if path:
            break
        # <<< extract
    return paths


async def assigns_a_global(n):
    global total
    # >>> extract
    time.sleep(n)
    total = n
    # <<< extract


async def returns_on_some_paths(path):
    # >>> extract
    if not path:
        return None
    time.sleep(1)
    # <<< extract
    return path


async def across_blocks(path):
    if path:
        # >>> extract
        time.sleep(1)
    print(path)
    # <<< extract
    return path


async def deletes_a_local(path):
    data = path.upper()
    # >>> extract
    time.sleep(1)
    del data
    # <<< extract
    return path


async def deletes_a_name_used_after(path):
    # >>> extract
    time.sleep(1)
    del cache
    # <<< extract
    return cache
