# A factory returning what another module's unannotated factory returns: its type is that one's.
from .clients import client, either


def wrapped():
    return client()


def wrapped_different():
    return either(True)
