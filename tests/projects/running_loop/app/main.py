import asyncio

from .dispatch import (
    ServiceLogging,
    any_loop,
    fire,
    fire_direct,
    fire_either,
    fire_not_running,
    new_loop,
    wrong_branch,
)


async def handler(logger: ServiceLogging):
    logger.success_hook(asyncio.sleep(0))
    fire(asyncio.sleep(0))
    fire_direct(asyncio.sleep(0))
    fire_not_running(asyncio.sleep(0))
    fire_either(asyncio.sleep(0))
    wrong_branch(asyncio.sleep(0))  # expect: blocking-wait (critical) via dispatch.wrong_branch > asyncio.run
    any_loop(asyncio.get_running_loop(), asyncio.sleep(0))  # expect: blocking-wait (critical) via dispatch.any_loop > asyncio.AbstractEventLoop.run_until_complete
    new_loop(asyncio.sleep(0))  # expect: blocking-wait (critical) via dispatch.new_loop > asyncio.AbstractEventLoop.run_until_complete
