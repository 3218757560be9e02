import subprocess

import boto3
import requests

_s3 = None


def get_s3():
    # Created on first use and kept: only the first caller waits for it.
    global _s3
    if _s3 is None:
        _s3 = boto3.client("s3")
    return _s3


class LocalServer:
    def __init__(self):
        self.running = False

    def start(self):
        # Safe to call many times: the server starts once.
        if not self.running:
            self.running = True
            requests.get("http://127.0.0.1:4200/health", timeout=5)


server = LocalServer()


def fetch_fresh(url: str):
    # No guard: every call sends a request.
    return requests.get(url, timeout=5)


class Pool:
    def __init__(self):
        self._proc = None

    def _spawn(self):
        return subprocess.Popen(["worker"])

    def ensure(self):
        # The guarded call is one-time work, however deep it blocks.
        if self._proc is None:
            self._proc = self._spawn()


pool = Pool()
