from .lines import fetch, fetch_bytes, fetch_text, numbered_lines, raw_rebinding, transform, transform_any


async def read_bytes(data: bytes):
    transform(data)
    fetch_bytes(data)


async def read_other(data, url: str):
    numbered_lines(data)  # expect: blocking-file (warning) via lines.numbered_lines > open
    transform_any(data)  # expect: blocking-file (warning) via lines.transform_any > lines.numbered_lines > open
    numbered_lines("a literal path is a str: split in memory")
    fetch_text(url)  # expect: blocking-http (critical) via lines.fetch_text > lines.fetch > requests.get
    fetch("https://example.com")  # expect: blocking-http (critical) via lines.fetch > requests.get
    fetch(3)


async def rebound_first(data: bytes):
    # `content = str(content)` is not ruled out by any test: its class is not known after it.
    raw_rebinding(data)  # expect: blocking-file (warning) via lines.raw_rebinding > lines.rebinding > io.TextIOWrapper.read
