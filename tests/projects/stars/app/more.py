"""No `__all__`: a star import binds the names without a leading underscore. It star-imports
`cycle`, which star-imports it back."""

import time

from .cycle import *


def doze():
    time.sleep(1)


def _private():
    time.sleep(1)
