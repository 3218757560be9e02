# fix: extract
# The statements between each `# >>> extract` and `# <<< extract` line are selected, and moved into a
# nested function run in a thread (the editor's refactor.extract action on that selection).
import asyncio
import json
import os
import sqlite3
import time


async def load(path, pause):
    started = time.monotonic()
    # >>> extract
    def _in_thread():
        with open(path) as fh:
            config = json.load(fh)
        time.sleep(pause)
        name = config["name"]
        return config, name

    config, name = await asyncio.to_thread(_in_thread)
    # <<< extract
    return name, config, time.monotonic() - started


async def count(db, table):
    # >>> extract
    def _in_thread():
        conn = sqlite3.connect(db)
        try:
            rows = conn.execute(f"SELECT count(*) FROM {table}").fetchall()
        finally:
            conn.close()
        return rows[0][0]

    return await asyncio.to_thread(_in_thread)
    # <<< extract


async def sizes(paths):
    total = 0
    for path in paths:
        # >>> extract
        def _in_thread():
            time.sleep(0.1)
            size = os.path.getsize(path)
            return size

        size = await asyncio.to_thread(_in_thread)
        # <<< extract
        total += size
    return total


async def maybe(path):
    # >>> extract
    def _in_thread():
        if path is None:
            return None
        with open(path) as fh:
            text = fh.read()

        def words():
            return text.split()

        print(len(words()))

    return await asyncio.to_thread(_in_thread)
    # <<< extract
