from fastapi import FastAPI

from .helpers import cached_load, exporter, site, tracker, uncached_load

app = FastAPI()


@app.get("/i18n/{language}")
async def translations(language: str):
    return cached_load(language)  # expect: blocking-subprocess (hint) via helpers.cached_load > helpers.load > subprocess.check_output


@app.get("/i18n-raw/{language}")
async def raw(language: str):
    return uncached_load(language)  # expect: blocking-subprocess (critical) via helpers.uncached_load > helpers.load > subprocess.check_output


@app.get("/track")
async def track():
    return tracker()  # expect: blocking-http (hint) via helpers.tracker > helpers.Tracker.__init__ > requests.post


@app.get("/export")
async def export():
    return exporter()  # expect: blocking-http (critical) via helpers.exporter > helpers.Exporter.__init__ > requests.post


@app.get("/css-hash")
async def css_hash():
    return site.css_hash()  # expect: blocking-file (hint) via helpers.Site.css_hash > open


@app.get("/css")
async def css():
    return site.css()  # expect: blocking-file (warning) via helpers.Site.css > open
