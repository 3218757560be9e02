#!/usr/bin/env python3
# fix: offload
"""Module docstring: imports go after it and after `from __future__`."""

from __future__ import annotations

import asyncio

async def lookup(host: str) -> str:
    return await asyncio.to_thread(input, host)
