"""Sync helpers that run a coroutine wherever they are called from: on the event loop's thread they
take the branch for a running loop, so the `asyncio.run` / `run_until_complete` beside it is not
reached from a coroutine."""

import asyncio
from typing import Final


class ServiceLogging:
    @staticmethod
    def _dispatch_loop() -> asyncio.AbstractEventLoop | None:
        # litellm's `_sync_dispatch_loop`: the current loop, or None without one.
        try:
            loop: Final = asyncio.get_event_loop()
        except RuntimeError:
            return None
        return None if loop.is_closed() else loop

    @staticmethod
    def dispatch(coro):
        loop: Final = ServiceLogging._dispatch_loop()
        if loop is None:
            asyncio.run(coro)
        elif loop.is_running():
            loop.create_task(coro)
        else:
            loop.run_until_complete(coro)

    def success_hook(self, coro):
        self.dispatch(coro)


def fire(coro):
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is None:
        asyncio.run(coro)
    else:
        loop.create_task(coro)


def fire_direct(coro):
    if asyncio.get_event_loop().is_running():
        asyncio.ensure_future(coro)
        return
    asyncio.run(coro)


def fire_not_running(coro):
    loop = asyncio.get_event_loop()
    if not loop.is_running():
        loop.run_until_complete(coro)
    else:
        loop.create_task(coro)


def fire_either(coro):
    loop = asyncio.get_event_loop()
    if loop is None or not loop.is_running():
        asyncio.run(coro)


def wrong_branch(coro):
    # The running-loop branch itself calls `asyncio.run`: it raises on the loop.
    loop = asyncio.get_event_loop()
    if loop.is_running():
        asyncio.run(coro)


def any_loop(loop: asyncio.AbstractEventLoop, coro):
    # A loop passed in may be another thread's, stopped: its branch may run.
    if not loop.is_running():
        loop.run_until_complete(coro)


def new_loop(coro):
    loop = asyncio.new_event_loop()
    if not loop.is_running():
        loop.run_until_complete(coro)
