# fix: make-async
# follow: yes
import sqlite3

from fastapi import FastAPI

app = FastAPI()


def dump(conn):
    return list(conn.iterdump())


def export(path: str) -> list:
    conn = sqlite3.connect(path)
    lines = dump(conn)
    conn.close()
    return lines


def rows(path: str) -> list:
    conn = sqlite3.connect(path)
    cur = conn.execute("select * from t")
    out = [r for r in cur]
    conn.close()
    return out


def newest(path: str):
    with sqlite3.connect(path) as conn:
        cur = conn.execute("select max(rowid) from t")
    return cur.fetchone()


def psql(dsn: str):
    import psycopg2

    conn = psycopg2.connect(dsn)
    conn.close()


@app.get("/export")
async def get_export(path: str):
    return export(path)


@app.get("/rows")
async def get_rows(path: str):
    return rows(path)


@app.get("/newest")
async def get_newest(path: str):
    return newest(path)


@app.get("/pg")
async def get_pg(dsn: str):
    return psql(dsn)
