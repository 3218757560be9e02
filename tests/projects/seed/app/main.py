from fastapi import FastAPI

from .signing import sign_op1

app = FastAPI()


@app.get("/sign/{request_id}")
async def root(request_id: str):
    return sign_op1(request_id)  # expect: blocking-http via signing.sign_op1 > signing.internal_signing_op > requests.Session.request
