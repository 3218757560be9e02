#!/usr/bin/env python3
# fix: offload
"""Module docstring: imports go after it and after `from __future__`."""

from __future__ import annotations

async def lookup(host: str) -> str:
    return input(host)
