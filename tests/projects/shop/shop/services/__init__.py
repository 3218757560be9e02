"""Use-cases: the layer between the HTTP routes and the repositories and clients."""

from .reports import slow_report
from .users import get_user, get_user_profile

__all__ = ["get_user", "get_user_profile", "slow_report"]
