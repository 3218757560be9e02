"""Routes of a namespace package (src/billing/api has no __init__.py, nor has src/billing)."""
from fastapi import APIRouter

import billing.core.export as export
from billing.core import archive

from ..core.invoices import render_invoice, invoice_exists
from .helpers import audit

router = APIRouter(prefix="/invoices")


@router.get("/{number}")
async def show(number: int):
    # Relative import two levels up, across namespace packages. The chain reaches a hint
    # (`os.path.expanduser`) first in source order and `subprocess.run` through the plugin: the finding
    # is named after the worst call it reaches.
    return render_invoice(number)  # expect: blocking-subprocess (critical) via invoices.render_invoice > pdf.to_pdf > subprocess.run


@router.post("/{number}/archive")
async def store(number: int):
    # `from billing.core import archive`: a module of a namespace package, imported absolutely.
    archive.store(number)  # expect: blocking-file (warning) via archive.store > open
    # `import billing.core.export as export`.
    export.to_csv(number)  # expect: blocking-file via export.to_csv > archive.store > open
    # A sibling module, relative import inside the namespace package.
    audit("stored", number)  # expect: blocking-http via helpers.audit > requests.post


@router.head("/{number}")
async def exists(number: int):
    # Only a metadata check is reachable: a hint, not a warning.
    return invoice_exists(number)  # expect: blocking-file (hint) via invoices.invoice_exists > pathlib.Path.exists


@router.get("/{number}/sync")
def show_sync(number: int):
    # A sync route runs in the threadpool: no finding.
    return render_invoice(number)
