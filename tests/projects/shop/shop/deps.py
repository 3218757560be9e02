"""FastAPI dependencies."""

import functools
import json
from collections.abc import Iterator

from fastapi import Header
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from .services.users import get_user

engine = create_engine("sqlite:///shop.db", connect_args={"check_same_thread": False})
SessionLocal = sessionmaker(bind=engine, autoflush=False)


def get_db() -> Iterator[Session]:
    # A sync generator dependency: FastAPI runs it in the threadpool, so closing here is fine.
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


@functools.lru_cache
def get_settings() -> dict:
    # Memoized: the file is read once per process.
    with open("settings.json") as fh:
        return json.load(fh)


async def current_user(x_user_id: int = Header()) -> dict | None:
    # An async dependency runs on the loop like a route.
    return get_user(x_user_id)  # expect: blocking-database via users.get_user > users.UserRepository.fetch > base.BaseRepository._query > sqlite3.connect


def current_user_sync(x_user_id: int = Header()) -> dict | None:
    # A sync dependency runs in the threadpool: no finding.
    return get_user(x_user_id)
