import os

SETTINGS_PATH = os.environ.get("SETTINGS_PATH", "settings.toml")


def _read_settings() -> str:
    return open(SETTINGS_PATH).read()


def current_settings() -> str:
    return _read_settings().strip()
