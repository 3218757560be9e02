"""What loopsafe's make-async fix may rewrite from psycopg2 to psycopg 3's `AsyncConnection` with client-side
binding (`cursor_factory=psycopg.AsyncClientCursor`, which keeps psycopg2's `%s` placeholders), and what it
must refuse: the same queries and parameters through both on a real PostgreSQL, printing every case whose
query sent, result or error differs; then `with conn:` against `async with conn.transaction():` after an
uncommitted statement; then the forms the fix writes (`mapping()`: RealDictCursor → dict_row, cursors in
`async with` / `async for`, awaited commit/rollback/close, the DB-API error classes), step by step.

    python3 -m venv /tmp/pg && /tmp/pg/bin/pip install psycopg2-binary 'psycopg[binary]'
    LOOPSAFE_PG_DSN="host=127.0.0.1 user=... password=... dbname=..." /tmp/pg/bin/python tests/fix_safety/psycopg2_vs_psycopg3.py

PostgreSQL 15.18, psycopg2 2.9.13, psycopg 3.3.9 (2026-12-05): 87 cases the same, 51 differ (the ones that
change what the program sees are listed in server/src/rules/blocking-database.md, "Fix safety": those the
code shows refuse the fix, the others are named in its title); `with conn:` keeps 2 rows against 0;
mapping: 8 same, 0 differ. It creates and drops a table `w`.
"""
import asyncio
import datetime as dt
import decimal
import os
import uuid

import psycopg
import psycopg.rows
import psycopg2
import psycopg2.extras

DSN = os.environ["LOOPSAFE_PG_DSN"]

PARAMS = [
    ("int", 42), ("big int", 2**40), ("float", 1.5), ("nan", float("nan")), ("decimal", decimal.Decimal("1.10")),
    ("str", "it's"), ("bytes", b"\x00\x01"), ("None", None), ("bool", True),
    ("date", dt.date(2024, 2, 29)), ("naive datetime", dt.datetime(2024, 1, 1, 12, 0)),
    ("aware datetime", dt.datetime(2024, 1, 1, 12, 0, tzinfo=dt.timezone.utc)), ("time", dt.time(1, 2, 3)),
    ("timedelta", dt.timedelta(days=1, seconds=5)), ("list of int", [1, 2]), ("list of str", ["a", "b"]),
    ("empty list", []), ("tuple", (1, 2)), ("dict", {"a": 1}), ("uuid", uuid.UUID(int=1)),
]
QUERIES = ["select %s", "select %s::text", "select 1 where 1 in %s", "select 1 = any(%s)", "select pg_typeof(%s)::text"]
COLUMNS = [
    "'00000000-0000-0000-0000-000000000001'::uuid", "'10.0.0.1'::inet", "'10.0.0.0/8'::cidr", "'\\x0001'::bytea",
    "'{\"a\": 1}'::json", "'{\"a\": 1}'::jsonb", "1.10::numeric", "1.5::real", "1.5::money", "'1 day'::interval",
    "'2024-01-01 12:00+00'::timestamptz", "'2024-01-01'::date", "'12:00'::time", "array[1,2]", "array['a','b']",
    "'(1,2)'::point", "'[1,5)'::int4range", "'<a/>'::xml", "B'101'::bit(3)", "'a b'::tsvector", "'infinity'::date",
    "'infinity'::timestamp", "'1'::oid", "'abc'::name", "'x'::char", "row(1, 'a')", "'{}'::int[]",
    "1::smallint", "2::bigint", "true", "null", "'NaN'::numeric", "'2024-01-01 12:00'::timestamp",
]

def sync_run(sql, params):
    conn = psycopg2.connect(DSN)
    try:
        cur = conn.cursor()
        sent = cur.mogrify(sql, params).decode() if params is not None else sql
        cur.execute(sql, params)
        row = cur.fetchone()
        return ("ok", sent, repr(row), [type(v).__name__ for v in row])
    except Exception as e:
        return ("error", type(e).__name__, str(e).splitlines()[0], None)
    finally:
        conn.close()

async def async_run(sql, params):
    conn = await psycopg.AsyncConnection.connect(DSN, cursor_factory=psycopg.AsyncClientCursor)
    try:
        cur = conn.cursor()
        sent = cur.mogrify(sql, params) if params is not None else sql
        await cur.execute(sql, params)
        row = await cur.fetchone()
        return ("ok", sent, repr(row), [type(v).__name__ for v in row])
    except Exception as e:
        return ("error", type(e).__name__, str(e).splitlines()[0], None)
    finally:
        await conn.close()

async def main():
    same = diff = 0
    cases = [(q, (v,), f"{q} <- {name}") for q in QUERIES for name, v in PARAMS]
    cases += [(f"select {c}", None, f"select {c}") for c in COLUMNS]
    cases += [("select %s, %%s", (1,), "percent escape"), ("select %(a)s, %(a)s", {"a": 1}, "named twice"),
              ("select 1; select 2", None, "two statements"), ("select '%s'", None, "literal %s, no params"),
              ("select '%%'", (), "%% with empty params")]
    for sql, params, label in cases:
        a = sync_run(sql, params)
        b = await async_run(sql, params)
        if a == b:
            same += 1
        else:
            diff += 1
            print(f"DIFF {label}\n  psycopg2: {a}\n  psycopg3: {b}")
    print(f"{same} same, {diff} differ")


def table_count():
    c = psycopg2.connect(DSN)
    cur = c.cursor()
    cur.execute("select count(*) from w")
    n = cur.fetchone()[0]
    c.close()
    return n


def new_table():
    c = psycopg2.connect(DSN)
    c.autocommit = True
    c.cursor().execute("drop table if exists w; create table w (n int)")
    c.close()


async def with_conn():
    """psycopg2's `with conn:` commits the transaction already open at its end; psycopg 3's
    `async with conn.transaction():` there only releases a savepoint, and closing the connection loses both rows."""
    new_table()
    conn = psycopg2.connect(DSN)
    conn.cursor().execute("insert into w values (1)")
    with conn:
        conn.cursor().execute("insert into w values (2)")
    conn.close()
    print("psycopg2 `with conn:`, rows kept after close:", table_count())
    new_table()
    aconn = await psycopg.AsyncConnection.connect(DSN, cursor_factory=psycopg.AsyncClientCursor)
    await aconn.cursor().execute("insert into w values (1)")
    async with aconn.transaction():
        await aconn.cursor().execute("insert into w values (2)")
    await aconn.close()
    print("psycopg 3 `async with conn.transaction():`, rows kept after close:", table_count())
    new_table()
    c = psycopg2.connect(DSN)
    c.autocommit = True
    c.cursor().execute("drop table w")
    c.close()


def sync_mapping():
    """The forms loopsafe writes, psycopg2's side: what each step returns."""
    out = {}
    new_table()
    conn = psycopg2.connect(DSN)
    cur = conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor)
    cur.execute("select 1 as a, 'x' as b")
    out["RealDictCursor / dict_row"] = dict(cur.fetchone())
    cur.close()
    with conn.cursor() as cur:
        cur.execute("insert into w values (%s), (%s)", (1, 2))
        out["rowcount after insert"] = cur.rowcount
        cur.execute("select n from w order by n")
        out["description names"] = [d[0] for d in cur.description]
        out["for row in cur / async for"] = [row for row in cur]
    out["cursor closed after its with"] = cur.closed
    conn.commit()
    cur = conn.cursor()
    cur.execute("insert into w values (3)")
    conn.rollback()
    cur.execute("insert into w values (4)")
    conn.close()
    out["rows after commit, rollback, close"] = table_count()
    conn = psycopg2.connect(DSN)
    cur = conn.cursor()
    cur.execute("create unique index on w (n)")
    conn.commit()
    try:
        cur.execute("insert into w values (1)")
    except psycopg2.IntegrityError as e:
        out["unique violation"] = ("IntegrityError", type(e).__name__, e.pgcode)
    conn.close()
    try:
        psycopg2.connect(DSN + " port=1")
    except psycopg2.OperationalError as e:
        out["connection refused"] = ("OperationalError", type(e).__name__)
    return out


async def async_mapping():
    """The same steps as loopsafe rewrites them (psycopg 3, `AsyncClientCursor`)."""
    out = {}
    new_table()
    conn = await psycopg.AsyncConnection.connect(DSN, cursor_factory=psycopg.AsyncClientCursor)
    cur = conn.cursor(row_factory=psycopg.rows.dict_row)
    await cur.execute("select 1 as a, 'x' as b")
    out["RealDictCursor / dict_row"] = dict(await cur.fetchone())
    await cur.close()
    async with conn.cursor() as cur:
        await cur.execute("insert into w values (%s), (%s)", (1, 2))
        out["rowcount after insert"] = cur.rowcount
        await cur.execute("select n from w order by n")
        out["description names"] = [d[0] for d in cur.description]
        out["for row in cur / async for"] = [row async for row in cur]
    out["cursor closed after its with"] = cur.closed
    await conn.commit()
    cur = conn.cursor()
    await cur.execute("insert into w values (3)")
    await conn.rollback()
    await cur.execute("insert into w values (4)")
    await conn.close()
    out["rows after commit, rollback, close"] = table_count()
    conn = await psycopg.AsyncConnection.connect(DSN, cursor_factory=psycopg.AsyncClientCursor)
    cur = conn.cursor()
    await cur.execute("create unique index on w (n)")
    await conn.commit()
    try:
        await cur.execute("insert into w values (1)")
    except psycopg.IntegrityError as e:
        out["unique violation"] = ("IntegrityError", type(e).__name__, e.sqlstate)
    await conn.close()
    try:
        await psycopg.AsyncConnection.connect(DSN + " port=1")
    except psycopg.OperationalError as e:
        out["connection refused"] = ("OperationalError", type(e).__name__)
    return out


def mapping():
    """What the make-async fix writes for psycopg2 (RealDictCursor → dict_row, cursors in `async with`
    and `async for`, awaited commit/rollback/close, the DB-API error classes by name) behaves alike."""
    a = sync_mapping()
    b = asyncio.run(async_mapping())
    same = 0
    for k in a.keys() | b.keys():
        if a.get(k) == b.get(k):
            same += 1
        else:
            print(f"DIFF mapping {k}\n  psycopg2: {a.get(k)!r}\n  psycopg3: {b.get(k)!r}")
    print(f"mapping: {same} same, {len(a.keys() | b.keys()) - same} differ")
    c = psycopg2.connect(DSN)
    c.autocommit = True
    c.cursor().execute("drop table w")
    c.close()


if __name__ == "__main__":
    asyncio.run(main())
    asyncio.run(with_conn())
    mapping()
