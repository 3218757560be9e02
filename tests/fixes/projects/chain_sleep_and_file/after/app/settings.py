import os

import anyio

SETTINGS_PATH = os.environ.get("SETTINGS_PATH", "settings.toml")


async def _read_settings() -> str:
    return await anyio.Path(SETTINGS_PATH).read_text()


async def current_settings() -> str:
    return (await _read_settings()).strip()
