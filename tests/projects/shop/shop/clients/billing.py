import hashlib
import hmac

import requests

BILLING_URL = "https://billing.internal/v1"


class BillingClient:
    def __init__(self, api_key: str = "sk_test_shop", base_url: str = BILLING_URL) -> None:
        # Cheap: no connection is made until a request.
        self.api_key = api_key
        self.base_url = base_url

    def _sign(self, body: str) -> str:
        # Pure CPU work.
        return hmac.new(self.api_key.encode(), body.encode(), hashlib.sha256).hexdigest()

    def _post(self, path: str, payload: dict) -> dict:
        headers = {"X-Signature": self._sign(repr(sorted(payload.items())))}
        return requests.post(f"{self.base_url}{path}", json=payload, headers=headers, timeout=10).json()

    def charge(self, order_id: int, amount_cents: int) -> dict:
        return self._post("/charges", {"order": order_id, "amount": amount_cents})

    @property
    def balance(self) -> int:
        # A property that makes a request: every read of `client.balance` blocks.
        return requests.get(f"{self.base_url}/balance", timeout=5).json()["balance"]

    @property
    def signature_prefix(self) -> str:
        # A pure property.
        return self._sign("")[:8]

    async def refund(self, charge_id: str) -> dict:
        # An async method calling a sync method of its own class: blocks the loop here.
        return self._post(f"/charges/{charge_id}/refund", {})  # expect: blocking-http via billing.BillingClient._post > requests.post

    async def sign_async(self, body: str) -> str:
        # `self._sign` is pure: no finding.
        return self._sign(body)


# The process-wide client, imported by the routes.
billing = BillingClient()
