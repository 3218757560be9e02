from . import store


def display_name(user_id: int) -> str:
    return store.fetch_user(user_id)["name"].title()


def set_name(user_id: int, name: str) -> bool:
    return store.rename(user_id, name.strip()) == 1
