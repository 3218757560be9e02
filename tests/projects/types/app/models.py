from pathlib import Path

import requests

from .paths import DATA


class Store:
    root = Path("/srv/store")

    def __init__(self):
        self.session = requests.Session()

    @property
    def index(self) -> Path:
        return DATA / "index.json"


class Repo:
    def fetch(self) -> bytes:
        return b""


def get_repo() -> Repo:
    return Repo()


store = Store()
