import subprocess

from fastapi import FastAPI

subapp = FastAPI()


@subapp.get("/ping")
async def ping():
    subprocess.run(["true"])  # expect: blocking-subprocess [GET /sub/ping]
