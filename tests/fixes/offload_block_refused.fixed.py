# fix: offload-block
import asyncio

counter = 0


async def awaits(path):
    with open(path) as fh:
        await asyncio.sleep(0)
        return fh.read()


async def breaks(paths):
    for p in paths:
        with open(p) as fh:
            if fh.read():
                break


async def declares(path):
    global counter
    with open(path) as fh:
        counter = len(fh.read())


async def returns_then_more(path):
    with open(path) as fh:
        if fh.readable():
            return fh.read()
    return ""


async def reads_its_own_earlier_value(path):
    text = ""
    with open(path) as fh:
        text = text + fh.read()
    return text


async def assigns_on_one_path(path):
    with open(path) as fh:
        if fh.readable():
            data = fh.read()
    return data


async def yields(path):
    with open(path) as fh:
        yield fh.read()
