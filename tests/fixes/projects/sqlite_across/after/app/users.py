from . import store


async def display_name(user_id: int) -> str:
    return (await store.fetch_user(user_id))["name"].title()


async def set_name(user_id: int, name: str) -> bool:
    return await store.rename(user_id, name.strip()) == 1
