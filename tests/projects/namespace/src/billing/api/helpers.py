import requests


def audit(event: str, number: int) -> None:
    requests.post("https://audit.example.com/events", json={"event": event, "number": number}, timeout=5)
