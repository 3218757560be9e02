import anthropic
import httpx


def get_client() -> anthropic.Anthropic:
    return anthropic.Anthropic()


def get_async_client() -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic()


async def make_http() -> httpx.Client:
    return httpx.Client()


def untyped():
    return httpx.Client()
