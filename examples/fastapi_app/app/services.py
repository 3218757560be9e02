"""Integrations with other services, written as plain synchronous helpers."""

import requests

INVENTORY_URL = "https://inventory.example.com/api/v1"


def fetch_stock(sku: str) -> int:
    """Return how many units of `sku` the inventory service has in stock."""
    response = requests.get(f"{INVENTORY_URL}/stock/{sku}", timeout=5)
    response.raise_for_status()
    return int(response.json()["available"])


def stock_summary(skus: list[str]) -> dict[str, int]:
    """Stock level of each SKU, one request per SKU."""
    return {sku: fetch_stock(sku) for sku in skus}
