"""Wires the pages into the app: static files at ``/static`` and every page router (none under /api/v1)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from commandpost.web.render import STATIC


def mount(app: FastAPI) -> None:
    from commandpost.web.pages import incident, incident_actions, incidents, login, status

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (login, status, incidents, incident, incident_actions):
        app.include_router(module.router)
