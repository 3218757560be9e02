"""Signing through an external service, on one session that the whole module shares."""

import os

import httpx

SIGNER_URL = os.environ.get("SIGNER_URL", "http://127.0.0.1:8001")

_session = httpx.AsyncClient(follow_redirects=True, timeout=None, trust_env=False)
_session.headers.update({"User-Agent": "signer-client"})
_session.auth = ("signer", os.environ.get("SIGNER_TOKEN", ""))


async def internal_signing_op(payload: dict) -> dict:
    response = await _session.post(f"{SIGNER_URL}/sign", json=payload, timeout=30)
    response.raise_for_status()
    return response.json()


async def sign_op1(request_id: str) -> dict:
    return await internal_signing_op({"id": request_id})
