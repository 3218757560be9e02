"""HTTP routes, one APIRouter per module."""

from . import admin, orders, payments, users

routers = [users.router, orders.router, payments.router, admin.router]
