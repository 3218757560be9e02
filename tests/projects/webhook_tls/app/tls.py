# Certificates handed to `load_verify_locations` as text (`cadata=`) are parsed in memory: no file is
# read. A file or a directory of them is read from disk on every call.
import ssl


def context_for(pem: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=pem)
    return context


async def connect_with(pem: str):
    # The helper reads nothing: no chain.
    return context_for(pem)


async def connect_with_file(path: str, options: dict):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata="")
    context.load_verify_locations(path)  # expect: blocking-network (warning)
    context.load_verify_locations(cadata="", capath=path)  # expect: blocking-network (warning)
    context.load_verify_locations(**options)  # expect: blocking-network (warning)
    return context
