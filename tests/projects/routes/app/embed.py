from fastapi import FastAPI

from .sub import subapp


def mount_elsewhere(app: FastAPI, path: str):
    # A helper mounting the app where its caller says (a file before factory.py): the caller's path is
    # not known here, so this include is passed over.
    app.mount(path, subapp)
