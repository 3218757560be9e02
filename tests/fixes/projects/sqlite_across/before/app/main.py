from fastapi import FastAPI

from .users import display_name

app = FastAPI()


@app.get("/users/{user_id}")
async def get_user(user_id: int):
    return {"name": display_name(user_id)}


@app.get("/users-sync/{user_id}")
def get_user_sync(user_id: int):
    return {"name": display_name(user_id)}

