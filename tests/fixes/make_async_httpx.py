# fix: make-async
# follow: yes
import requests
from fastapi import FastAPI

app = FastAPI()


def internal_signing_op(op_num: int, request_id: str) -> str:
    response = requests.get(f"http://127.0.0.1:9000/sign/{request_id}/{op_num}", timeout=10)
    return response.text


def sign_op1(request_id: str) -> str:
    return internal_signing_op(1, request_id)


@app.get("/sign/{request_id}")
async def root(request_id: str):
    return {"signature": sign_op1(request_id)}


@app.get("/health")
async def health():
    return {"ok": True}
