import asyncio


async def _render() -> str:
    await asyncio.sleep(1.5)
    return "ready"


async def build_report() -> str:
    return (await _render()).upper()
