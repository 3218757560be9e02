from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from shop import services
from shop.deps import get_settings
from shop.services import reports
from shop.services.pricing import currency_name, fetch_exchange_rates, unit_price

router = APIRouter(prefix="/admin", tags=["admin"])


@router.get("/disk")
async def disk(root: str = "/var/lib/shop"):
    # count_files is recursive: the chain stops at its own os.listdir.
    return reports.disk_usage(root)  # expect: blocking-file via reports.disk_usage > reports.count_files > os.listdir


@router.get("/disk/files")
async def disk_files(root: str = "/var/lib/shop"):
    return {"files": reports.count_files(root)}  # expect: blocking-file via reports.count_files > os.listdir


@router.get("/disk-sync")
def disk_sync(root: str = "/var/lib/shop"):
    # A sync route: no finding.
    return reports.disk_usage(root)


@router.post("/exports/{job_id}/wait")
async def wait_export(job_id: str):
    # wait_for_export <-> poll_export: the shortest chain, no loop.
    return {"status": reports.wait_for_export(job_id)}  # expect: blocking-sleep via reports.wait_for_export > reports.poll_export > time.sleep


@router.post("/exports/{job_id}/poll")
async def poll_export(job_id: str):
    return {"status": reports.poll_export(job_id, 0)}  # expect: blocking-sleep via reports.poll_export > time.sleep


@router.get("/report")
async def report():
    # Passed, not called: the report runs in the threadpool.
    return await run_in_threadpool(services.slow_report)


@router.get("/report-inline")
async def report_inline():
    # The same report called on the loop, through the services/__init__.py re-export. It lists a
    # directory first and then queries SQLite: the finding is named after the worse of the two.
    return services.slow_report()  # expect: blocking-database (critical) via reports.slow_report > base.BaseRepository.count > base.BaseRepository._query > sqlite3.connect


@router.post("/report.csv")
async def report_csv(rows: list[list[str]]):
    # build_csv only runs inside a lambda handed to run_in_threadpool: no finding.
    await run_in_threadpool(lambda: reports.build_csv(rows, "/tmp/report.csv"))
    return {"path": "/tmp/report.csv"}


@router.post("/audit")
async def audit(entry: str):
    reports.append_audit(entry)  # expect: blocking-file via reports.append_audit > open
    return {"ok": True}


@router.get("/fx")
async def fx():
    # An awaited async service: its own blocking call is reported in services/pricing.py.
    return await fetch_exchange_rates()


@router.get("/settings")
async def settings():
    # Memoized helpers (functools.lru_cache) block on their first call only: reported as hints.
    return {"settings": get_settings(), "price": unit_price("SKU-1"), "eur": currency_name("EUR")}  # expect: blocking-file via deps.get_settings > open; blocking-file via pricing.unit_price > pricing.load_catalog > open; blocking-http via pricing.currency_name > pricing.currency_table > requests.get
