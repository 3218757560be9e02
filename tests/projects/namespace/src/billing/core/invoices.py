import os
from pathlib import Path

from ..plugins import to_pdf



def render_invoice(number: int) -> bytes:
    template = os.path.expanduser("~/.billing/template.html")
    return to_pdf(template, number)


def invoice_exists(number: int) -> bool:
    return Path(f"/srv/invoices/{number}.pdf").exists()
