from fastapi import FastAPI

from .users import set_name

admin = FastAPI()


@admin.put("/users/{user_id}")
async def put_user(user_id: int, name: str):
    return {"changed": await set_name(user_id, name)}
