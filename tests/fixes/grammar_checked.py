# fix: all-unsafe
# Fixes next to constructs where tree-sitter's grammar is more lenient than CPython's: each result
# compiles (`await` only in a coroutine, its operand a primary, arguments in a valid order, no
# repeated keyword). Calls where an `await` could not go stay as they are.
import time

import requests


async def keywords_and_unpacking(u, args, kwargs):
    requests.get(u, *args, timeout=5, **kwargs)
    return [time.sleep(i) for i in args]


async def class_body_in_a_coroutine():
    class Config:
        delay = time.sleep(1)

    return Config


async def lambda_default():
    wait = lambda delay=time.sleep(1): delay  # noqa: E731
    return wait


async def operand_of_an_operator():
    return -time.sleep(1) or not time.sleep(2)
