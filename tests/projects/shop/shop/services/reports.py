"""Admin reports: slow by design, meant to run off the loop."""

import csv
import os
import time

from ..repositories.orders import OrderRepository

DATA_DIR = "/var/lib/shop"
EXPORT_JOBS: dict[str, str] = {}


def count_files(path: str, depth: int = 0) -> int:
    # Recursive: descends into subdirectories, listing each one.
    if depth > 8:
        return 0
    entries = os.listdir(path)
    return len(entries) + sum(count_files(f"{path}/{e}", depth + 1) for e in entries if "." not in e)


def disk_usage(root: str = DATA_DIR) -> dict:
    return {"root": root, "files": count_files(root)}


def wait_for_export(job_id: str, attempts: int = 0) -> str:
    # Mutually recursive with poll_export, which sleeps between checks.
    status = EXPORT_JOBS.get(job_id, "pending")
    if status == "done" or attempts > 20:
        return status
    return poll_export(job_id, attempts + 1)


def poll_export(job_id: str, attempts: int) -> str:
    time.sleep(0.5)
    return wait_for_export(job_id, attempts)


def slow_report() -> dict:
    return {"files": count_files(DATA_DIR), "orders": OrderRepository().count()}


def build_csv(rows: list[list[str]], path: str) -> None:
    # Blocks, but is only ever called from a lambda handed to run_in_threadpool.
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)


def append_audit(entry: str, path: str = f"{DATA_DIR}/audit.log") -> None:
    with open(path, "a") as fh:
        fh.write(entry + "\n")
