# A sync helper reads the state of the parameters that are futures: `isinstance` narrows the untyped
# loop variable, so the property's request is on the chain of the coroutine that calls the helper.
from typing import Any

from .futures import TaskFuture


def parent_states(parameters: dict[str, Any]) -> list:
    states = []
    for v in parameters.values():
        if isinstance(v, str):
            states.append(v)
        elif isinstance(v, TaskFuture):
            states.append(v.state)
    return states


def parent_runs(parameters: dict[str, Any]) -> list:
    # `run` is a property too, but it makes no request.
    return [v.run for v in parameters.values() if isinstance(v, TaskFuture)]


def untested(parameters: dict[str, Any]) -> list:
    # Without the test around the read (here the `else` of it), `v` has no type: no chain.
    states = []
    for v in parameters.values():
        if isinstance(v, TaskFuture):
            continue
        else:
            states.append(v.state)
    return states


async def submit(parameters: dict[str, Any]) -> None:
    if parents := parent_states(parameters):  # expect: blocking-http via tasks.parent_states > futures.TaskFuture.state > httpx.get
        print(parents)
    print(parent_runs(parameters), untested(parameters))
