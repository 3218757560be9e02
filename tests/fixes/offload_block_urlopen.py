# fix: offload-block
import urllib.request


async def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        status = response.status
        body = response.read()
    return status, body.decode()


async def fetch_all(urls):
    out = []
    for url in urls:
        with urllib.request.urlopen(url) as r:
            data = r.read()
        out.append(data)
    return out
