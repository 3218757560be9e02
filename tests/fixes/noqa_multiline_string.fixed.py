# fix: noqa
"""A finding whose line ends inside a multi-line string: the directive goes where the string ends,
the line ruff and loopsafe read it on."""
import requests


async def report(url):
    return requests.post(url, data="""
line one
line two
""", timeout=5)  # noqa: LS101
