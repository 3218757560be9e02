"""Clients for the upstream services the shop talks to."""

from .shipping import ShippingClient


def ping_all() -> dict[str, bool]:
    # Health check of every upstream, written for the ops CLI (sync), also reached from a route.
    return {"shipping": ShippingClient().ping()}
