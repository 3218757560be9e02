"""shop: a small FastAPI storefront."""

# Re-exported through two packages: `shop.get_user` is `shop.services.get_user`, which is
# `shop.services.users.get_user`.
from .services import get_user
from .services.reports import disk_usage

__all__ = ["disk_usage", "get_user"]
__version__ = "0.3.0"
