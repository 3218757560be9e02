from fastapi import FastAPI

from .signing import sign_op1

app = FastAPI()


@app.get("/sign/{request_id}")
async def sign(request_id: str) -> dict:
    return sign_op1(request_id)
