import time


def _render() -> str:
    time.sleep(1.5)
    return "ready"


def build_report() -> str:
    return _render().upper()
