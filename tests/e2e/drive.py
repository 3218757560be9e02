"""Drives the example app (examples/slow_api) served by uvicorn and measures whether slow requests stall it.

    drive.py wait URL [--timeout S]              wait until URL answers 200
    drive.py measure before|after --app URL --signer URL [--slow S] [--n N] [--wide W]

`before`: the unfixed app. A `/healthcheck` sent while one slow request is in flight must wait for it,
and N slow requests sent at once must be served one after the other.
`after`: the app fixed by `loopsafe check --fix --unsafe-fixes`. The `/healthcheck` must answer at once
while slow requests are in flight, and N slow requests sent at once must take about one slow call;
with --wide W, of W requests to /sign at once more than anyio's 40 worker threads reach the slow
server together, which only a chain made async (not offloaded to threads) does.

Runs with the virtualenv's Python (needs httpx). Prints every figure; exits 1 if any check fails.
"""

import argparse
import asyncio
import statistics
import sys
import time

import httpx

# The slow routes of examples/slow_api and whether they call the slow server (which counts requests in
# flight, an independent witness of concurrency).
ROUTES = [("/sign/{i}", True), ("/quote", True), ("/report", False)]


class Checks:
    def __init__(self) -> None:
        self.failed: list[str] = []

    def check(self, ok: bool, what: str) -> None:
        print(f"  {'ok  ' if ok else 'FAIL'} {what}", flush=True)
        if not ok:
            self.failed.append(what)


async def timed_get(client: httpx.AsyncClient, url: str) -> tuple[float, float, httpx.Response]:
    """(seconds taken, monotonic end time, response)"""
    start = time.monotonic()
    response = await client.get(url)
    end = time.monotonic()
    return end - start, end, response


async def wait_in_flight(client: httpx.AsyncClient, signer: str, count: int, timeout: float) -> bool:
    """Waits until the slow server has `count` requests in flight (that is, the app called it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = (await client.get(f"{signer}/stats")).json()
        if stats["in_flight"] >= count:
            return True
        await asyncio.sleep(0.02)
    return False


async def reset(client: httpx.AsyncClient, signer: str) -> None:
    (await client.post(f"{signer}/reset")).raise_for_status()


async def max_in_flight(client: httpx.AsyncClient, signer: str) -> int:
    return (await client.get(f"{signer}/stats")).json()["max_in_flight"]


async def healthcheck_during(client, app, signer, route, calls_signer, slow, mode, checks: Checks) -> None:
    """One slow request in flight, then a healthcheck: does the healthcheck wait for it?"""
    await reset(client, signer)
    task = asyncio.create_task(timed_get(client, app + route.format(i=0)))
    if calls_signer:
        # Send the healthcheck once the app is inside its slow call, not before.
        reached = await wait_in_flight(client, signer, 1, timeout=slow)
        checks.check(reached, f"{mode} {route}: the app called the slow server")
    else:
        await asyncio.sleep(0.15)
    hc_time, hc_end, hc = await timed_get(client, app + "/healthcheck")
    slow_time, slow_end, response = await task
    checks.check(response.status_code == 200, f"{mode} {route}: answered {response.status_code} in {slow_time:.2f} s")
    checks.check(hc.status_code == 200, f"{mode} /healthcheck answered {hc.status_code}")
    if mode == "before":
        limit = slow - 0.5
        checks.check(
            hc_time > limit and hc_end >= slow_end - 0.05,
            f"before {route}: /healthcheck sent while it was in flight took {hc_time:.2f} s and came back "
            f"{hc_end - slow_end:+.2f} s after it (must wait for it: > {limit:.1f} s, not before it)",
        )
    else:
        limit = 0.5
        checks.check(
            hc_time < limit and hc_end < slow_end,
            f"after {route}: /healthcheck sent while it was in flight took {hc_time:.2f} s and came back "
            f"{slow_end - hc_end:.2f} s before it (must answer at once: < {limit:.1f} s)",
        )


async def burst(client, app, signer, route, calls_signer, slow, n, mode, checks: Checks) -> None:
    """N requests to a slow route at once: served together (after) or one after the other (before)?"""
    await reset(client, signer)
    start = time.monotonic()
    results = await asyncio.gather(*(timed_get(client, app + route.format(i=i)) for i in range(n)))
    total = time.monotonic() - start
    statuses = sorted({r.status_code for _, _, r in results})
    checks.check(statuses == [200], f"{mode} {route} x{n}: statuses {statuses}")
    fastest = min(t for t, _, _ in results)
    checks.check(fastest >= slow * 0.9, f"{mode} {route} x{n}: the fastest took {fastest:.2f} s (it is slow: >= {slow * 0.9:.2f} s)")
    if mode == "before":
        limit = n * slow * 0.9
        checks.check(total > limit, f"before {route} x{n}: {total:.2f} s in all (one after the other: > {limit:.2f} s)")
    else:
        limit = 2 * slow
        checks.check(
            total < limit,
            f"after {route} x{n}: {total:.2f} s in all (together, about one slow call: < {limit:.2f} s; "
            f"one after the other would be {n * slow:.1f} s)",
        )
    if calls_signer:
        seen = await max_in_flight(client, signer)
        expected = 1 if mode == "before" else n
        checks.check(seen == expected, f"{mode} {route} x{n}: the slow server saw {seen} at once (expected {expected})")


async def mixed_load(client, app, signer, slow, n, checks: Checks) -> None:
    """After the fix: N requests to every slow route at once, and healthchecks all along."""
    await reset(client, signer)
    start = time.monotonic()
    slow_tasks = [
        asyncio.create_task(timed_get(client, app + route.format(i=i))) for route, _ in ROUTES for i in range(n)
    ]
    hc_times = []
    while not all(t.done() for t in slow_tasks):
        hc_time, _, hc = await timed_get(client, app + "/healthcheck")
        hc_times.append(hc_time if hc.status_code == 200 else float("inf"))
        await asyncio.sleep(0.1)
    results = [t.result() for t in slow_tasks]
    total = time.monotonic() - start
    statuses = sorted({r.status_code for _, _, r in results})
    checks.check(statuses == [200], f"after mixed load ({len(results)} slow requests): statuses {statuses}")
    limit = 2.5 * slow
    checks.check(
        total < limit,
        f"after mixed load: {len(results)} slow requests over {len(ROUTES)} routes took {total:.2f} s "
        f"in all (< {limit:.2f} s; one after the other would be {len(results) * slow:.1f} s)",
    )
    # Under this load a healthcheck may queue behind a few others' work on a busy machine, but it must
    # never wait for a slow call: the slowest must take well under one, the typical one next to nothing.
    worst, typical = max(hc_times), statistics.median(hc_times)
    limit = slow - 0.5
    checks.check(
        len(hc_times) >= 3 and worst < limit and typical < 0.25,
        f"after mixed load: {len(hc_times)} healthchecks meanwhile, median {typical:.3f} s (< 0.25 s), "
        f"slowest {worst:.3f} s (< {limit:.1f} s)",
    )


# The worker threads anyio lends to `run_in_threadpool` / `to_thread.run_sync` (its default limiter).
THREADS = 40


async def wide_burst(client, app, signer, slow, wide, checks: Checks) -> None:
    """After the fix: more /sign requests at once than the 40 worker threads anyio lends to
    `run_in_threadpool` / `to_thread`. Offloaded, at most 40 reach the slow server together; made async
    (the chain's functions coroutines, the session an `httpx.AsyncClient`), more do."""
    # Slow calls long enough (4 s) that on a loaded machine every request can reach the slow server
    # before the first ones are answered.
    (await client.post(f"{signer}/delay", json={"seconds": 4.0})).raise_for_status()
    await reset(client, signer)
    start = time.monotonic()
    try:
        results = await asyncio.gather(*(timed_get(client, app + f"/sign/w{i}") for i in range(wide)))
    finally:
        (await client.post(f"{signer}/delay", json={"seconds": slow})).raise_for_status()
    total = time.monotonic() - start
    statuses = sorted({r.status_code for _, _, r in results})
    checks.check(statuses == [200], f"after /sign x{wide}: statuses {statuses}")
    seen = await max_in_flight(client, signer)
    # Offloaded, never more than 40 at once, however long the calls.
    checks.check(
        seen > THREADS,
        f"after /sign x{wide}: the slow server saw {seen} at once, {total:.2f} s in all (more than the "
        f"{THREADS} threads an offload would run them in: the chain runs on the loop)",
    )


async def measure(args) -> int:
    checks = Checks()
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    async with httpx.AsyncClient(timeout=60, limits=limits, trust_env=False) as client:
        print(f"{args.mode} the fix: slow call = {args.slow} s, {args.n} requests per burst", flush=True)
        for route, calls_signer in ROUTES:
            await healthcheck_during(client, args.app, args.signer, route, calls_signer, args.slow, args.mode, checks)
            await burst(client, args.app, args.signer, route, calls_signer, args.slow, args.n, args.mode, checks)
        if args.mode == "after":
            await mixed_load(client, args.app, args.signer, args.slow, args.n, checks)
            if args.wide:
                await wide_burst(client, args.app, args.signer, args.slow, args.wide, checks)
    if checks.failed:
        print(f"{len(checks.failed)} check(s) failed {args.mode} the fix", file=sys.stderr)
        return 1
    return 0


async def wait(args) -> int:
    deadline = time.monotonic() + args.timeout
    async with httpx.AsyncClient(timeout=2, trust_env=False) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(args.url)).status_code == 200:
                    return 0
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    print(f"{args.url} did not answer within {args.timeout} s", file=sys.stderr)
    return 1


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("wait")
    w.add_argument("url")
    w.add_argument("--timeout", type=float, default=30)
    m = sub.add_parser("measure")
    m.add_argument("mode", choices=["before", "after"])
    m.add_argument("--app", required=True)
    m.add_argument("--signer", required=True)
    m.add_argument("--slow", type=float, default=1.5)
    m.add_argument("--n", type=int, default=5)
    m.add_argument("--wide", type=int, default=0, help="after: a burst of this many /sign requests (0: none)")
    args = parser.parse_args()
    return asyncio.run(wait(args) if args.command == "wait" else measure(args))


if __name__ == "__main__":
    sys.exit(main())
