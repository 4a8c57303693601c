"""The public status page (guide §3-1 step 5, "whether a status-page update is needed") and its feeds.

No login, and a read that keeps nothing. It shows only what Comms or the IC published
(``incidents.public_status``): each service's published state, a banner with the worst of them, and
the public incidents with their updates. ``/status/feed.atom`` (RFC 4287) and ``/status/feed.json``
(JSON Feed 1.1) carry the same updates.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from commandpost.deps import PublicRead
from commandpost.errors import Unavailable
from commandpost.incidents import public_status
from commandpost.policy import service as policy_service
from commandpost.web.auth import PageRoute
from commandpost.web.render import page, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)
JSON_FEED = "https://jsonfeed.org/version/1.1"


def _status(request: Request, session: Session) -> public_status.StatusPage:
    now = request.app.state.clock.now()
    request.state.now = now
    try:
        config = policy_service.current_config(session)
    except Unavailable:
        return public_status.StatusPage(components=[], incidents=[])
    request.state.timezone, request.state.org = config.settings.timezone, config.settings.org
    return public_status.read(session, config=config, now=now)


def _base(request: Request) -> str:
    return request.app.state.settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")


def _org(request: Request) -> str:
    return str(getattr(request.state, "org", "commandpost"))


@router.get("/status")
def status_page(request: Request, session: PublicRead) -> Response:
    status = _status(request, session)
    return page(request, "status.html", nav="status", headers={"Cache-Control": "no-cache"}, status=status)


@router.get("/status/feed.atom")
def status_feed(request: Request, session: PublicRead) -> Response:
    status = _status(request, session)
    body = render(
        "status.atom.xml",
        base=_base(request),
        now=request.app.state.clock.now(),
        org=_org(request),
        status=status,
    )
    return Response(body, media_type="application/atom+xml; charset=utf-8")


def _title(incident: public_status.PublicIncident, update: public_status.Update) -> str:
    tags = " ".join(t for t in (incident.number, incident.severity) if t)
    return f"{update.label}: {update.title}" + (f" ({tags})" if tags else "")


def _text(update: public_status.Update) -> str:
    affected = "; ".join(f"{name}: {label}" for name, label in update.affected)
    return update.message + (f"\n\n{affected}" if affected else "")


@router.get("/status/feed.json")
def status_json_feed(request: Request, session: PublicRead) -> Response:
    """JSON Feed 1.1 (https://jsonfeed.org/version/1.1): one item per published update."""
    status = _status(request, session)
    base = _base(request)
    items: list[dict[str, Any]] = [
        {
            "id": f"{base}/status#u{update.id}",
            "url": f"{base}/status#u{update.id}",
            "title": _title(incident, update),
            "content_text": _text(update),
            "date_published": update.at.isoformat(),
            "tags": [update.state, *sorted(update.services)],
        }
        for incident, update in status.updates
    ]
    feed = {
        "version": JSON_FEED,
        "title": f"{_org(request)} status",
        "home_page_url": f"{base}/status",
        "feed_url": f"{base}/status/feed.json",
        "description": status.banner,
        "authors": [{"name": _org(request)}],
        "items": items,
    }
    return JSONResponse(feed, media_type="application/feed+json; charset=utf-8")
