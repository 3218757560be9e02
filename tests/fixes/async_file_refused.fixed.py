# fix: async-file
import anyio


async def load(name):
    with open(name) as f:
        first = f.readline()
    chunk = open(name).read(100)
    appended = open(name, "a").write("x")
    return first, chunk, appended, anyio
