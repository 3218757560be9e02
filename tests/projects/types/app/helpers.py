from .paths import CACHE


def load():
    return CACHE.read_text()
