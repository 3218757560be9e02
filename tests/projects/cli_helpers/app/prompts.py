# Interactive helpers of the command line, in their own module: `cli.deploy` awaits them.
from pathlib import Path

from rich.prompt import Confirm, Prompt


async def choose_pool(name: str) -> str:
    # Awaited by the `deploy` command only.
    return Prompt.ask(f"Work pool for {name}")  # expect: blocking-input (hint)


async def confirm_upload(name: str):
    if Confirm.ask(f"Upload {name}?"):  # expect: blocking-input (hint)
        return await _upload(name)


async def _upload(name: str):
    # Two coroutines down from the command, still the command's alone.
    return Path(name).read_bytes()  # expect: blocking-file (hint)


async def ask_name():
    return Prompt.ask("Name")  # expect: blocking-input (hint)


async def read_manifest(name: str):
    # Awaited by the command and by a route: it serves requests too.
    return Path(name).read_text()  # expect: blocking-file (warning)


async def unused():
    # Called only by a sync function, which may hand it to any loop: it keeps its tier.
    return Prompt.ask("Who calls this?")  # expect: blocking-input (critical)
