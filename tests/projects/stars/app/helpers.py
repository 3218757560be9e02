"""A module with a literal `__all__`: a star import of it binds exactly those names."""

import time

__all__ = ["pause", "_listed"]


def pause():
    time.sleep(1)


def _listed():
    time.sleep(1)


def unlisted():
    time.sleep(1)
