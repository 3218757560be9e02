"""The recorder's cost per loop callback and per wrapped call, with and without recording (medians of
7 runs, interleaved): `python3 python/bench_overhead.py`.

- callbacks: 200,000 `await asyncio.sleep(0)` in one task (each is one callback the loop runs, timed by
  the recorder's Handle._run wrapper);
- wrapped calls on the loop: 100,000 `os.stat` of this file inside a coroutine (each one recorded);
- wrapped calls off the loop: the same in a plain function, no loop running (the wrapper's fast path).
"""

import asyncio
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from loopsafe import Recorder  # noqa: E402

N_CB, N_CALL = 200_000, 100_000
HERE = os.path.abspath(__file__)


async def callbacks():
    for _ in range(N_CB):
        await asyncio.sleep(0)


async def calls_on_loop():
    for _ in range(N_CALL):
        os.stat(HERE)


def calls_off_loop():
    for _ in range(N_CALL):
        os.stat(HERE)


def timed(fn, record):
    rec = Recorder().install() if record else None
    try:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    finally:
        if rec:
            rec.uninstall()


def main():
    cases = [
        ("loop callbacks", lambda: asyncio.run(callbacks()), N_CB),
        ("wrapped calls on the loop", lambda: asyncio.run(calls_on_loop()), N_CALL),
        ("wrapped calls off the loop", calls_off_loop, N_CALL),
    ]
    for name, fn, n in cases:
        t = {False: [], True: []}
        for _ in range(7):
            for record in (False, True):
                t[record].append(timed(fn, record))
        off, on = statistics.median(t[False]), statistics.median(t[True])
        print(f"{name}: {off / n * 1e6:.2f} us -> {on / n * 1e6:.2f} us each (ratio {on / off:.2f}), median of 7")


if __name__ == "__main__":
    main()
