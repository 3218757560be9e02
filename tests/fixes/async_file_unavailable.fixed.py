# fix: async-file
async def load(name):
    return open(name).read()
