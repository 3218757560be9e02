import asyncio
import functools

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from shop.clients import tax
from shop.repositories.orders import OrderRepository
from shop.services import get_user, orders
from shop.services.orders import OrderService

router = APIRouter(prefix="/orders", tags=["orders"])


class OrderIn(BaseModel):
    customer_id: int
    sku: str
    qty: int = 1
    country: str = "DE"


@router.post("/")
async def create_order(order: OrderIn):
    # `get_user` re-exported by services/__init__.py; `orders` imported absolutely, four hops deep.
    get_user(order.customer_id)  # expect: blocking-database via users.get_user > users.UserRepository.fetch > base.BaseRepository._query > sqlite3.connect
    return orders.place_order(order.sku, order.qty, order.country)  # expect: blocking-http via orders.place_order > pricing.quote > tax.rate_for > upstream.get_json > requests.get


@router.post("/sync")
def create_order_sync(order: OrderIn):
    # A sync route calling the same helpers: no finding.
    get_user(order.customer_id)
    return orders.place_order(order.sku, order.qty, order.country)


@router.post("/offloaded")
async def create_order_offloaded(order: OrderIn):
    # functools.partial(helper, ...) handed to run_in_executor: the helper runs in the executor.
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(orders.place_order, order.sku, order.qty, order.country))


@router.get("/customers/{customer_id}")
async def order_history(customer_id: int):
    # `svc = Svc(); svc.method()`, then a classmethod and a staticmethod of the repository.
    svc = OrderService()
    return svc.history(customer_id)  # expect: blocking-database via orders.OrderService.history > orders.OrderRepository.for_customer > orders.OrderRepository._fetch_all > sqlite3.connect


@router.get("/customers/{customer_id}/retry")
async def order_history_retry(customer_id: int, attempt: int = 0):
    if attempt:
        # A @staticmethod called on the class.
        OrderRepository.backoff(attempt)  # expect: blocking-sleep via orders.OrderRepository.backoff > time.sleep
    # The bound method is passed to run_in_threadpool; constructing the service does no I/O.
    return await run_in_threadpool(OrderService().history, customer_id)


@router.post("/{order_id}/ship")
async def ship(order_id: int):
    # The direct subprocess call in print_label is shorter than its path through render_label > open.
    orders.ship_order(order_id)  # expect: blocking-subprocess via orders.ship_order > shipping.print_label > subprocess.run
    return {"shipped": order_id}


@router.get("/summary")
async def summary(sku: str, qty: int = 1):
    # Pure helper: no finding.
    return {"summary": orders.order_summary({"sku": sku, "qty": qty})}


@router.get("/tax-ranking")
async def tax_ranking(countries: list[str]):
    # The key function is called by sorted() right here, on the loop, once per country.
    return sorted(countries, key=lambda c: tax.rate_for(c))  # expect: blocking-http via tax.rate_for > upstream.get_json > requests.get
