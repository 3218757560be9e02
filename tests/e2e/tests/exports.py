"""An export endpoint the test suite mounts on the app: it picks its exporter by a name built at run
time (`getattr(exporter, f"to_{fmt}")`), as plugin registries and format dispatchers do. No static
analysis can tell which method runs, so loopsafe's static check has no finding here; the recording
does (`blocking-seen-at-runtime`).
"""

import time

from slow_api.main import app


class Exporter:
    def to_csv(self, rows: list) -> str:
        # A slow synchronous write (a report rendered to a network share), stood in for by a sleep.
        time.sleep(0.05)
        return "\n".join(",".join(map(str, r)) for r in rows)


@app.get("/export/{fmt}")
async def export(fmt: str) -> dict:
    render = getattr(Exporter(), f"to_{fmt}")
    return {"body": render([[1, 2], [3, 4]])}
