from fastapi import FastAPI

from .signing import sign_op1

app = FastAPI()


@app.get("/sign/{request_id}")
async def sign(request_id: str):
    return {"signature": sign_op1(request_id)}


@app.get("/sign-sync/{request_id}")
def sign_sync(request_id: str):
    return {"signature": sign_op1(request_id)}
