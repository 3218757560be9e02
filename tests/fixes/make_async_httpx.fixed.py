# fix: make-async
# follow: yes
import httpx
from fastapi import FastAPI

app = FastAPI()


async def internal_signing_op(op_num: int, request_id: str) -> str:
    async with httpx.AsyncClient(follow_redirects=True) as client:
        response = await client.get(f"http://127.0.0.1:9000/sign/{request_id}/{op_num}", timeout=10)
    return response.text


async def sign_op1(request_id: str) -> str:
    return await internal_signing_op(1, request_id)


@app.get("/sign/{request_id}")
async def root(request_id: str):
    return {"signature": await sign_op1(request_id)}


@app.get("/health")
async def health():
    return {"ok": True}
