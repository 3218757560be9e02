# fix: make-async
# follow: yes
import time


def pause(seconds):
    time.sleep(seconds)


def step(n):
    for _ in range(n):
        pause(0.1)
    return n


async def main():
    total = step(3) + 1
    return total
