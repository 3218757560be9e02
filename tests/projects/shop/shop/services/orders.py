"""Order use-cases."""

from shop.clients.shipping import print_label
from shop.repositories.orders import OrderRepository

from . import pricing


class OrderService:
    def __init__(self, repo: OrderRepository | None = None) -> None:
        self.repo = repo or OrderRepository()

    def history(self, customer_id: int) -> list[dict]:
        rows = OrderRepository.for_customer(customer_id)
        return [{"id": order_id, "total": total} for order_id, total in rows]


def place_order(sku: str, qty: int, country: str) -> dict:
    # `from . import pricing`: place_order > quote > rate_for > get_json > requests.get.
    total = pricing.quote(sku, qty, country)
    return {"sku": sku, "qty": qty, "total": total}


def ship_order(order_id: int) -> None:
    print_label(order_id)


def order_summary(order: dict) -> str:
    # Pure.
    return f"{order['qty']} x {order['sku']}"
