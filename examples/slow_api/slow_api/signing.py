"""Signing through an external service, written as plain synchronous helpers (as most codebases have them).

The signer is slow: every call takes about a second and a half. Called from a coroutine, these helpers
hold the event loop for all that time.
"""

import os

import requests

SIGNER_URL = os.environ.get("SLOW_API_SIGNER_URL", "http://127.0.0.1:8001")

_session = requests.Session()


def internal_signing_op(payload: dict) -> dict:
    response = _session.request("POST", f"{SIGNER_URL}/sign", json=payload, timeout=30)
    response.raise_for_status()
    return response.json()


def sign_op1(request_id: str) -> dict:
    return internal_signing_op({"id": request_id})
