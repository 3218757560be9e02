# fix: make-async
# follow: yes
import asyncio


async def pause(seconds):
    await asyncio.sleep(seconds)


async def step(n):
    for _ in range(n):
        await pause(0.1)
    return n


async def main():
    total = await step(3) + 1
    return total
