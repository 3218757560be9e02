"""The app's behaviour, through its ASGI interface: every route answers what it should."""

import httpx
import pytest

import exports  # noqa: F401  (mounts /export/{fmt} on the app)
from slow_api.main import app

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client():
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as c:
        yield c


async def test_healthcheck(client):
    r = await client.get("/healthcheck")
    assert r.json() == {"status": "ok"}


@pytest.mark.parametrize("request_id", ["a", "b"])
async def test_sign(client, request_id):
    r = await client.get(f"/sign/{request_id}")
    assert r.status_code == 200
    assert r.json() == {"id": request_id, "signature": "s1gn3d"}


async def test_quote(client):
    r = await client.get("/quote")
    assert r.json() == {"quote": 42}


async def test_report(client):
    r = await client.get("/report")
    assert r.json() == {"report": "ready"}


async def test_export(client):
    r = await client.get("/export/csv")
    assert r.json() == {"body": "1,2\n3,4"}
