from os import PathLike
from typing import IO, Union

import requests

FileTypes = Union[bytes, str, PathLike, IO[bytes]]


def numbered_lines(source: FileTypes):
    # litellm's `_iter_numbered_openai_jsonl_lines`: bytes and str are split in memory, a path is opened.
    content: FileTypes | str = source
    if isinstance(content, tuple):
        content = content[1]
    if isinstance(content, (bytes, bytearray)):
        return content.splitlines()
    if isinstance(content, str):
        return content.splitlines()
    if isinstance(content, PathLike):
        with open(str(content), "rb") as handle:
            return handle.read().splitlines()
    return list(content)


def transform(content: bytes):
    # Annotated bytes: what it passes on is bytes.
    return numbered_lines(content)


def transform_any(content):
    return numbered_lines(content)


def rebinding(source: FileTypes):
    content = source
    content = str(content)
    if isinstance(content, PathLike):
        return open(content).read()
    return content


def raw_rebinding(content: bytes):
    return rebinding(content)


def fetch(target: object, via_http: bool = True):
    if isinstance(target, str):
        return requests.get(target, timeout=5).text
    return target


def fetch_bytes(data: bytes):
    # `isinstance(target, str)` is false for bytes: no request.
    return fetch(data)


def fetch_text(url: str):
    return fetch(url)
