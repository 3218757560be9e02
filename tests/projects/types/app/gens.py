import contextlib
import time

from starlette.responses import StreamingResponse


def rows():
    time.sleep(1)
    yield 1


def all_rows():
    return list(rows())


def more_rows():
    yield from rows()


async def export():
    # Calling a sync generator function runs none of its body; iterating it on the loop does.
    gen = rows()
    for r in rows():  # expect: blocking-sleep via gens.rows > time.sleep
        print(r, gen)
    total = sum(rows())  # expect: blocking-sleep via gens.rows > time.sleep
    first = next(more_rows())  # expect: blocking-sleep via gens.more_rows > gens.rows > time.sleep
    all_rows()  # expect: blocking-sleep via gens.all_rows > gens.rows > time.sleep
    # The framework iterates a sync iterator in its threadpool.
    return StreamingResponse(rows(), headers={"total": str(total + first)})


async def kept():
    # A generator kept in a variable runs where it is iterated, not where it is made.
    gen = rows()
    for r in gen:  # expect: blocking-sleep via gens.rows > time.sleep
        print(r)
    later = more_rows()
    return list(later)  # expect: blocking-sleep via gens.more_rows > gens.rows > time.sleep


async def kept_elsewhere():
    # Handed on, or replaced before the loop: not iterated here.
    gen = rows()
    response = StreamingResponse(gen)
    gen = [1, 2]
    for r in gen:
        print(r)
    return response


@contextlib.contextmanager
def settings_file():
    # A context manager: entering what the call returns runs the body up to `yield`.
    yield open("settings.toml")


async def read_settings():
    with settings_file() as f:  # expect: blocking-file via gens.settings_file > open
        return f
