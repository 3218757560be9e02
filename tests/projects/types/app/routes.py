from fastapi import FastAPI

from . import paths
from .clients import get_async_client, get_client, make_http, untyped
from .helpers import load
from .models import Store, get_repo, store
from .paths import CACHE

app = FastAPI()


@app.get("/cache")
async def read_cache():
    return CACHE.read_text()  # expect: blocking-file via pathlib.Path.read_text


@app.get("/module")
async def read_module_attr():
    return paths.DATA.exists()  # expect: blocking-file (hint)


@app.get("/helper")
async def read_through_helper():
    return load()  # expect: blocking-file via helpers.load > pathlib.Path.read_text


@app.post("/ask")
async def ask():
    return get_client().messages.create(model="m", max_tokens=1, messages=[])  # expect: blocking-sdk


@app.post("/ask-async")
async def ask_async():
    return await get_async_client().messages.create(model="m", max_tokens=1, messages=[])


@app.get("/store")
async def read_store():
    store.root.read_text()  # expect: blocking-file
    store.index.read_text()  # expect: blocking-file
    return store.session.get("https://example.com")  # expect: blocking-http


@app.get("/store-param")
async def read_store_param(s: Store):
    return s.index.read_bytes()  # expect: blocking-file


@app.get("/http")
async def fetch():
    client = await make_http()
    return client.get("https://example.com")  # expect: blocking-http


@app.get("/unknown")
async def unknown():
    get_repo().fetch()
    untyped().get("https://example.com")  # expect: blocking-http
    return CACHE.name


@app.get("/threads")
async def threads(hass):
    from .threads import report, wait_for

    report(hass, print)
    wait_for(hass.loop, print)  # expect: blocking-wait via threads.wait_for > concurrent.futures.Future.result
