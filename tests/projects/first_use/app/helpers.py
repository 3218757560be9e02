import subprocess

import requests

TRANSLATIONS = {"nbjs": {}}
_loggers = []


def load(language: str) -> str:
    return subprocess.check_output(["msgunfmt", language]).decode()


def cached_load(language: str, domain: str = "nbjs") -> str:
    # A miss caught as KeyError and stored in a module-level map: one read per language.
    domain_cache = TRANSLATIONS[domain]
    try:
        return domain_cache[language]
    except KeyError:
        data = load(language)
        domain_cache[language] = data
        return data


def uncached_load(language: str) -> str:
    # Caught, never stored: every call runs the command.
    try:
        return TRANSLATIONS["nbjs"][language]
    except KeyError:
        return load(language)


class Tracker:
    def __init__(self):
        self.token = requests.post("https://example.com/auth", timeout=5).text


class Exporter:
    def __init__(self):
        requests.post("https://example.com/register", timeout=5)


def tracker():
    # The registry is searched first: only the first call makes (and registers) a Tracker.
    for t in _loggers:
        if isinstance(t, Tracker):
            return t
    made = Tracker()
    _loggers.append(made)
    return made


def exporter():
    # Searched, never added to: every call makes an Exporter.
    for e in _loggers:
        if type(e) is Exporter:
            return e
    return Exporter()


class Site:
    def css_hash(self) -> str:
        if not hasattr(self, "_css_hash"):
            with open("app.css") as fp:
                self._css_hash = fp.read()
        return self._css_hash

    def css(self) -> str:
        # Tested, never set: every call reads the file.
        if not hasattr(self, "_css"):
            with open("app.css") as fp:
                return fp.read()
        return ""


site = Site()
