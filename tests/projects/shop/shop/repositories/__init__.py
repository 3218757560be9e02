"""Data access: one repository per table, all on the same SQLite file."""

from .base import BaseRepository
from .orders import OrderRepository
from .users import UserRepository

__all__ = ["BaseRepository", "OrderRepository", "UserRepository"]
