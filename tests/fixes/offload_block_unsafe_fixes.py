# fix: all-unsafe
import asyncio
import sqlite3
import urllib.request


async def read(path):
    with open(path) as fh:
        return fh.read()


async def fetch(url):
    await asyncio.sleep(0)
    with urllib.request.urlopen(url) as r:
        return r.read()


async def count(db):
    with sqlite3.connect(db) as conn:
        (n,) = conn.execute("SELECT count(*) FROM t").fetchone()
    return n
