from fastapi import APIRouter

from ..clients.billing import BillingClient, billing
from ..storage import Settings, Store

router = APIRouter(prefix="/payments", tags=["payments"])


@router.post("/orders/{order_id}/charge")
async def charge(order_id: int, amount_cents: int):
    # A module-level instance imported from the clients package.
    return billing.charge(order_id, amount_cents)  # expect: blocking-http via billing.BillingClient.charge > billing.BillingClient._post > requests.post


@router.post("/orders/{order_id}/charge-legacy")
async def charge_legacy(order_id: int, amount_cents: int):
    # Known and accepted (the legacy endpoint is rate-limited to one call per minute): suppressed.
    return billing.charge(order_id, amount_cents)  # noqa: LS101


@router.post("/orders/{order_id}/charge-sync")
def charge_sync(order_id: int, amount_cents: int):
    # A sync route: no finding.
    return billing.charge(order_id, amount_cents)


@router.post("/charges/{charge_id}/refund")
async def refund(charge_id: str):
    # An awaited coroutine method: its blocking call is reported inside clients/billing.py.
    return await billing.refund(charge_id)


@router.get("/customers/{customer_id}/balance")
async def balance(customer_id: int):
    # Constructing the client does no I/O; reading the `balance` property makes a request.
    client = BillingClient(api_key=f"sk_cust_{customer_id}")
    return {"balance": client.balance, "key": client.signature_prefix}  # expect: blocking-http via billing.BillingClient.balance > requests.get


@router.post("/snapshots/{key}")
async def snapshot(key: str, value: str):
    # Store.__init__ opens the database; Settings.__init__ does nothing blocking.
    settings = Settings()
    store = Store(f"snapshots-{settings.env}.db")  # expect: blocking-database via storage.Store.__init__ > sqlite3.connect
    return {"key": key, "stored": store is not None and bool(value)}


@router.post("/snapshots/{key}/reopen")
async def reopen_snapshot(key: str):
    # A noqa for another rule (blocking-http) does not suppress a database chain.
    store = Store()  # noqa: LS101 # expect: blocking-database via storage.Store.__init__ > sqlite3.connect
    return {"key": key, "open": store is not None}
