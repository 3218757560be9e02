import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import text
from sqlalchemy.orm import Session

from ..deps import current_user, get_db
from ..repositories.users import UserRepository
from ..services.users import display_name, get_user, get_user_profile

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me")
async def me(user: Annotated[dict, Depends(current_user)]):
    # The dependency's own call is reported in deps.py; this route only formats.
    return {"name": display_name(user)}


@router.get("/count")
async def count_users(repo: UserRepository = Depends()):
    # `count` is inherited from BaseRepository, defined in another module.
    return {"count": repo.count()}  # expect: blocking-database via base.BaseRepository.count > base.BaseRepository._query > sqlite3.connect


@router.get("/{user_id}")
async def read_user(user_id: int):
    # Relative import of a service; three hops down to sqlite3.
    user = get_user(user_id)  # expect: blocking-database via users.get_user > users.UserRepository.fetch > base.BaseRepository._query > sqlite3.connect
    if user is None:
        raise HTTPException(status_code=404)
    return user


@router.get("/{user_id}/profile")
async def read_profile(user_id: int):
    return get_user_profile(user_id)  # expect: blocking-database via users.get_user_profile > users.UserRepository.fetch > base.BaseRepository._query > sqlite3.connect


@router.get("/{user_id}/profile-sync")
def read_profile_sync(user_id: int):
    # A sync route runs in the threadpool: no finding.
    return get_user_profile(user_id)


@router.get("/{user_id}/raw")
async def read_raw(user_id: int, repo: UserRepository = Depends()):
    # A parameter annotated with a project class.
    return repo.fetch(user_id)  # expect: blocking-database via users.UserRepository.fetch > base.BaseRepository._query > sqlite3.connect


@router.get("/by-email/{email}")
async def read_by_email(email: str, repo: Annotated[UserRepository, Depends()]):
    # The same with `Annotated[UserRepository, Depends()]`.
    return repo.by_email(email)  # expect: blocking-database via users.UserRepository.by_email > base.BaseRepository._query > sqlite3.connect


@router.get("/{user_id}/offloaded")
async def read_offloaded(user_id: int, repo: UserRepository = Depends()):
    # The bound method is passed to to_thread, not called here.
    return await asyncio.to_thread(repo.fetch, user_id)


@router.get("/{user_id}/describe")
async def describe(repo: UserRepository = Depends()):
    # Awaiting a coroutine method that does not block: no finding.
    return {"repo": await repo.describe()}


@router.get("/")
async def list_users(db: Session = Depends(get_db)):
    # A sync SQLAlchemy Session used directly in a coroutine.
    rows = db.execute(text("SELECT id, name FROM users ORDER BY id")).mappings()  # expect: blocking-database
    return [dict(r) for r in rows]


@router.put("/{user_id}/name")
async def rename_user(user_id: int, name: str, db: Annotated[Session, Depends(get_db)]):
    # The same with the `Annotated[Session, Depends(get_db)]` spelling.
    db.execute(text("UPDATE users SET name = :name WHERE id = :id"), {"name": name, "id": user_id})  # expect: blocking-database
    db.commit()  # expect: blocking-database
    return {"id": user_id, "name": name}


@router.delete("/{user_id}")
def delete_user(user_id: int, db: Session = Depends(get_db)):
    # A sync route with the same session calls: no finding.
    db.execute(text("DELETE FROM users WHERE id = :id"), {"id": user_id})
    db.commit()
    return {"deleted": user_id}
