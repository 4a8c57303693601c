"""The one-tap links on a page (``/a/<token>``): act on a page from a phone without logging in.

Times read in the paged person's own timezone (people.yaml), the incident's (the org's) in brackets
where it differs — as the page's notification said them.

``GET`` only shows what the link would do ("Acknowledge INC-7 as @mei?") and acts on nothing, so
mail and chat link scanners that open every link acknowledge nothing. ``POST`` acts — from the
confirmation page's button, or directly from an ntfy push action or a Slack button. The token is
the credential (``security.links``): there is no session and no CSRF token to check, and the
answer never goes back to another site (``Referrer-Policy: no-referrer``, ``no-store``).
A forged, altered or expired token is refused with 403 and changes nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from commandpost import public_url
from commandpost.db.engine import transaction
from commandpost.errors import Forbidden, Unavailable
from commandpost.incidents import rules as incident_rules
from commandpost.incidents import timeline
from commandpost.incidents.models import Incident
from commandpost.paging import actions
from commandpost.policy import service as policy_service
from commandpost.security import links
from commandpost.security.links import Grant, LinkSigner
from commandpost.web.auth import PageRoute, wants_json
from commandpost.web.render import page

router = APIRouter(route_class=PageRoute, include_in_schema=False)
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
MAX_TOKEN = 200
VERBS = {
    "ack": ("Acknowledge", "Acknowledge {number} as @{person}?"),
    "escalate": (
        "I can't take this — page the next level",
        "Pass {number} on to the next level, as @{person}?",
    ),
}


def _grant(request: Request, session: Session, token: str) -> tuple[Grant, LinkSigner]:
    settings = request.app.state.settings
    signer = LinkSigner(links.key(session, settings))
    if len(token) > MAX_TOKEN:
        raise Forbidden("this link is not valid: it was altered or never issued")
    return signer.read(token, now=request.app.state.clock.now()), signer


def _values(session: Session, grant: Grant) -> dict[str, Any]:
    incident = session.get(Incident, grant.incident_id) if grant.incident_id else None
    number = incident_rules.format_number(incident.number) if incident else ""
    return {"incident": incident, "number": number, "person": grant.person}


@router.get("/a/{token}")
def confirm(request: Request, token: str) -> Response:
    with transaction(request.app.state.read_sessions, commit=False) as session:
        grant, _ = _grant(request, session, token)
        actions.message_for(
            session, message_id=grant.message_id, person=grant.person, incident_id=grant.incident_id
        )
        values = _values(session, grant)
        own, org = _zones(request, session, grant.person)
        incident: Incident | None = values["incident"]
        button, question = VERBS[grant.action]
        heading = question.format(number=values["number"] or "this test page", person=grant.person)
        message, ask = "", True
        if incident is not None and incident.acknowledged_at is not None:
            ask = False
            message = actions.Acted(
                False,
                grant.action,
                values["number"],
                grant.person,
                by=incident.acknowledged_by or "someone",
                at=incident.acknowledged_at,
            ).sentence(own, org)
        elif incident is not None and not incident_rules.is_open(incident.status):
            ask, message = False, f"{values['number']} is {incident.status}; nothing to do."
        expires = timeline.local_for(grant.expires_at, own, org, "%H:%M %Z on %d %b")
        return page(
            request,
            "page_link.html",
            headers=HEADERS,
            heading=heading,
            button=button,
            ask=ask,
            message=message,
            expires=expires,
            **values,
        )


@router.post("/a/{token}")
def act(request: Request, token: str) -> Response:
    with transaction(request.app.state.sessions) as session:
        grant, _ = _grant(request, session, token)
        now = request.app.state.clock.now()
        done = actions.act_on_message(
            session,
            message_id=grant.message_id,
            person=grant.person,
            incident_id=grant.incident_id,
            action=grant.action,
            via=None,
            now=now,
            base_url=public_url.base_url(session, request.app.state.settings),
        )
        sentence = done.sentence(*_zones(request, session, grant.person))
        if wants_json(request) or "application/json" in request.headers.get("accept", ""):
            return JSONResponse(
                {
                    "ok": True,
                    "done": done.done,
                    "message": sentence,
                    "by": done.by,
                    "at": done.at.isoformat() if done.at else None,
                },
                headers=HEADERS,
            )
        values = _values(session, grant)
        return page(
            request, "page_link.html", headers=HEADERS, heading=sentence, ask=False, message="", **values
        )


def _zones(request: Request, session: Session, person: str) -> tuple[str, str]:
    """The paged person's timezone (the org's for someone not in people.yaml) and the org's, which is
    the incident's (UTC for both before any ops folder is applied); the page's own times follow."""
    try:
        config = policy_service.current_config(session)
    except Unavailable:
        request.state.timezone = request.state.org_timezone = "UTC"
        return "UTC", "UTC"
    found = config.person(person)
    own = found.timezone if found is not None else config.settings.timezone
    request.state.timezone, request.state.org_timezone = own, config.settings.timezone
    return own, config.settings.timezone
