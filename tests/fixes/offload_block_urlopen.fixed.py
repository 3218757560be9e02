# fix: offload-block
import asyncio
import urllib.request


async def fetch(url):
    def _in_thread():
        with urllib.request.urlopen(url, timeout=10) as response:
            status = response.status
            body = response.read()
        return status, body

    status, body = await asyncio.to_thread(_in_thread)
    return status, body.decode()


async def fetch_all(urls):
    out = []
    for url in urls:
        def _in_thread():
            with urllib.request.urlopen(url) as r:
                data = r.read()
            return data

        data = await asyncio.to_thread(_in_thread)
        out.append(data)
    return out
