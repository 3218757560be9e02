from .upstream import build_url, get_json

TAX_API = "https://tax.internal/v2"


def rate_for(country: str) -> float:
    # Two hops from requests: rate_for > get_json > requests.get.
    return get_json(build_url(TAX_API, "rates", country))["rate"]


def with_tax(amount: float, rate: float) -> float:
    # Pure.
    return round(amount * (1 + rate), 2)
