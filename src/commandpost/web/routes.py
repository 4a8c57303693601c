"""Wires the pages into the app: static files at ``/static`` and every page router (none under /api/v1)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from commandpost.web.render import STATIC


def mount(app: FastAPI) -> None:
    from commandpost.web.pages import (
        drills,
        incident,
        incident_actions,
        incidents,
        login,
        metrics,
        oncall,
        page_links,
        postmortems,
        runbooks,
        settings,
        status,
        users,
    )

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    pages = (
        login,
        status,
        page_links,
        incidents,
        incident,
        incident_actions,
        drills,
        oncall,
        runbooks,
        postmortems,
        metrics,
        settings,
        users,
    )
    for module in pages:
        app.include_router(module.router)
