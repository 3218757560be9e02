# fix: all-unsafe
import asyncio
import sqlite3
import urllib.request


async def read(path):
    def _in_thread():
        with open(path) as fh:
            return fh.read()

    return await asyncio.to_thread(_in_thread)


async def fetch(url):
    await asyncio.sleep(0)
    def _in_thread():
        with urllib.request.urlopen(url) as r:
            return r.read()

    return await asyncio.to_thread(_in_thread)


async def count(db):
    def _in_thread():
        with sqlite3.connect(db) as conn:
            (n,) = conn.execute("SELECT count(*) FROM t").fetchone()
        return n

    n = await asyncio.to_thread(_in_thread)
    return n
