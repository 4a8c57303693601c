"""The public status page (guide §3-1 step 5, "whether a status-page update is needed") and its Atom feed.

No login, and a read that keeps nothing. What it tells is the incidents domain's
(``incidents.public_status``): each service's state and the external comms updates.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from commandpost.deps import PublicRead
from commandpost.errors import Unavailable
from commandpost.incidents import public_status
from commandpost.policy import service as policy_service
from commandpost.web.auth import PageRoute
from commandpost.web.render import page, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _context(request: Request, session: Session) -> dict[str, Any]:
    now = request.app.state.clock.now()
    request.state.now = now
    try:
        config = policy_service.current_config(session)
    except Unavailable:
        return {"components": [], "updates": []}
    request.state.timezone, request.state.org = config.settings.timezone, config.settings.org
    return {
        "components": public_status.components(session, config=config),
        "updates": public_status.external_updates(session, now=now),
    }


@router.get("/status")
def status_page(request: Request, session: PublicRead) -> Response:
    values = _context(request, session)
    return page(request, "status.html", nav="status", headers={"Cache-Control": "no-cache"}, **values)


@router.get("/status/feed.atom")
def status_feed(request: Request, session: PublicRead) -> Response:
    values = _context(request, session)
    base = request.app.state.settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    body = render(
        "status.atom.xml",
        base=base,
        now=request.app.state.clock.now(),
        org=getattr(request.state, "org", "commandpost"),
        **values,
    )
    return Response(body, media_type="application/atom+xml; charset=utf-8")
