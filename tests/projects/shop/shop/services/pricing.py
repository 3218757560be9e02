import functools
import json
from functools import lru_cache
from pathlib import Path

import requests

from shop.clients import tax

CATALOG_PATH = Path(__file__).parent.parent / "catalog.json"
FX_URL = "https://fx.internal/latest"


@functools.lru_cache(maxsize=1)
def load_catalog() -> dict:
    # Memoized: reads the file once per process.
    with open(CATALOG_PATH) as fh:
        return json.load(fh)


@lru_cache
def currency_table() -> dict:
    # Memoized (bare `@lru_cache`): one request per process.
    return requests.get(f"{FX_URL}/currencies", timeout=5).json()


def unit_price(sku: str) -> float:
    # Blocks only through the memoized catalog: no chain is reported through it.
    return load_catalog()[sku]["price"]


def currency_name(code: str) -> str:
    return currency_table()[code]["name"]


def quote(sku: str, qty: int, country: str) -> float:
    # unit_price is memoized; the tax lookup is a real request per call.
    return tax.with_tax(unit_price(sku) * qty, tax.rate_for(country))


async def fetch_exchange_rates() -> dict:
    # An async service that blocks itself: the finding is here, not at its callers' `await`.
    return requests.get(FX_URL, timeout=5).json()  # expect: blocking-http
