import threading
from contextlib import contextmanager

import requests


@contextmanager
def heartbeats(join_on_exit: bool = True):
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        # Only callers that ask for it wait for the thread.
        if join_on_exit:
            thread.join(timeout=2)


def report(url: str, send: bool = True, verbose: bool = False):
    # Sends whatever `verbose` says: only `send=False` skips the request.
    if verbose:
        print("reporting", url)
    if send:
        requests.post(url, timeout=5)


def sync_status(url: str, check: bool = True):
    # The status request runs however `check` is passed.
    if check:
        print("checking", url)
    return requests.get(url, timeout=5)
