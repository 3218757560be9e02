"""The one place that makes plain HTTP calls to internal JSON APIs."""

import requests

TIMEOUT = 10


def get_json(url: str, **params: str) -> dict:
    resp = requests.get(url, params=params, timeout=TIMEOUT)
    resp.raise_for_status()
    return resp.json()


def build_url(base: str, *parts: str) -> str:
    # Pure.
    return "/".join([base.rstrip("/"), *parts])
