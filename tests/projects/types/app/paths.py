from pathlib import Path

DATA = Path("/srv/data")
CACHE = DATA / "cache"
