import socket
import subprocess
import threading

import boto3
import requests

_s3 = None
_listening = False
_listen_lock = threading.Lock()
_warned = False


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


def listen(port: int):
    # Safe to call many times: the early return skips everything after the first call.
    global _listening
    with _listen_lock:
        if _listening:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.connect(("127.0.0.1", port))
        _listening = True


def report(url: str):
    # An early return on a flag this function never sets: every call sends the request.
    if _warned:
        return
    requests.post(url, timeout=5)
