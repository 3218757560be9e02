"""User use-cases, shared by the HTTP routes and the admin CLI."""

from ..repositories.users import UserRepository


def get_user(user_id: int) -> dict | None:
    # `Svc().fetch()`: a repository made and used in one expression.
    return UserRepository().fetch(user_id)


def get_user_profile(user_id: int) -> dict:
    # `repo = Svc(); repo.fetch()`: the same through a local variable.
    repo = UserRepository()
    user = repo.fetch(user_id) or {}
    return {"id": user_id, "name": display_name(user)}


def display_name(user: dict) -> str:
    # Pure.
    return user.get("nickname") or user.get("name", "anonymous")
