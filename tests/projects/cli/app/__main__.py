# A script's entry point: `main` runs alone on the loop `asyncio.run` makes for it.
import asyncio

from .helpers import fetch_manifest


async def main():
    print(fetch_manifest("https://example.com/manifest.json"))  # expect: blocking-http (hint) via helpers.fetch_manifest > requests.get


if __name__ == "__main__":
    asyncio.run(main())
