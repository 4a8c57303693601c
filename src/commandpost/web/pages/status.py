"""The public status page (guide §3-1 step 5, "whether a status-page update is needed") and its feeds.

No login, and a read that keeps nothing. It shows only what Comms or the IC published
(``incidents.public_status``): each service's published state, a banner with the worst of them, and
the public incidents with their updates. ``/status/feed.atom`` (RFC 4287) and ``/status/feed.json``
(JSON Feed 1.1) carry the same updates, and what each scheduled maintenance window did (scheduled,
started, completed, cancelled or ended early: one entry each).

Email subscription (``incidents.subscribers``): the form posts to ``/status/subscribe`` (CSRF: a
double-submit cookie, as the login form; rate-limited per client and per address) and always
answers the same, whether or not the address was subscribed. ``/status/confirm/{token}`` and
``/status/unsubscribe/{token}`` show what they would do and act only on their button's POST (a mail
scanner opening the link changes nothing); the signed token is the credential.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from commandpost.db.engine import transaction
from commandpost.deps import PublicRead
from commandpost.errors import Forbidden, NotFound, Unavailable, ValidationFailed
from commandpost.incidents import public_status, subscribers
from commandpost.policy import service as policy_service
from commandpost.security import links, users
from commandpost.security.links import Purpose, SubscriptionSigner
from commandpost.web.auth import PageRoute, set_cookie
from commandpost.web.render import page, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)
JSON_FEED = "https://jsonfeed.org/version/1.1"
CSRF_COOKIE = "cp_status_csrf"
CSRF_MAX_AGE = 86400
MAX_TOKEN = 200
LINK_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
SENT = (
    "Thank you. If that address can receive email, a confirmation link is on its way; nothing is "
    "sent to it until the link is followed."
)


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


def _status_page(
    request: Request, session: Session, *, notice: str = "", error: str = "", status_code: int = 200
) -> Response:
    status = _status(request, session)
    token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = page(
        request,
        "status.html",
        nav="status",
        status_code=status_code,
        headers={"Cache-Control": "no-cache"},
        status=status,
        subscribe_csrf=token,
        notice=notice,
        error=error,
    )
    if CSRF_COOKIE not in request.cookies:
        set_cookie(response, request, CSRF_COOKIE, token, CSRF_MAX_AGE)
    return response


@router.get("/status")
def status_page(request: Request, session: PublicRead, subscribed: str = "") -> Response:
    return _status_page(request, session, notice=SENT if subscribed else "")


@router.post("/status/subscribe")
def subscribe(
    request: Request,
    email: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    state = request.app.state
    with transaction(state.read_sessions, commit=False) as reading:
        expected = request.cookies.get(CSRF_COOKIE, "")
        if not expected or not users.csrf_matches(expected, csrf_token):
            message = (
                "the form was refused: its CSRF token is missing or wrong; reload the page and try again"
            )
            return _status_page(request, reading, error=message, status_code=403)
        now = state.clock.now()
        client = request.client.host if request.client else "unknown"
        keys = [f"client:{client}", "to:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()]
        wait = state.subscribe_throttle.retry_after(keys, now)
        if wait is not None:
            refused = _status_page(
                request, reading, error=f"too many requests; try again in {wait} s", status_code=429
            )
            refused.headers["Retry-After"] = str(wait)
            return refused
        state.subscribe_throttle.failed(keys, now)  # every request counts, made or not
        try:
            with transaction(state.sessions) as writing:
                subscribers.subscribe(writing, email=email, now=now)
        except ValidationFailed as exc:
            return _status_page(request, reading, error=exc.message, status_code=422)
    return RedirectResponse("/status?subscribed=1#subscribe", status_code=303)


QUESTIONS: dict[Purpose, tuple[str, str, str]] = {
    "confirm": (
        "Confirm your subscription?",
        "Confirm",
        "You will receive this status page's updates by email. Every email has a link to unsubscribe.",
    ),
    "unsubscribe": ("Unsubscribe from status updates?", "Unsubscribe", "No more emails will be sent."),
}


def _subscriber(request: Request, session: Session, token: str, purpose: Purpose) -> int:
    if len(token) > MAX_TOKEN:
        raise Forbidden("this link is not valid: it was altered or never issued")
    signer = SubscriptionSigner(links.key(session, request.app.state.settings))
    return signer.read(token, purpose=purpose, now=request.app.state.clock.now())


@router.get("/status/{purpose}/{token}")
def subscription_link(request: Request, purpose: str, token: str) -> Response:
    chosen = _purpose(purpose)
    with transaction(request.app.state.sessions) as session:  # may make the link key on first use
        _subscriber(request, session, token, chosen)
    heading, button, text = QUESTIONS[chosen]
    return page(
        request, "status_link.html", headers=LINK_HEADERS, heading=heading, button=button, text=text, ask=True
    )


@router.post("/status/{purpose}/{token}")
def subscription_act(request: Request, purpose: str, token: str) -> Response:
    chosen = _purpose(purpose)
    with transaction(request.app.state.sessions) as session:
        subscriber = _subscriber(request, session, token, chosen)
        if chosen == "confirm":
            done = subscribers.confirm(session, subscriber_id=subscriber, now=request.app.state.clock.now())
            heading = (
                "Subscribed: you will receive status updates by email."
                if done
                else ("This subscription no longer exists; subscribe again on the status page.")
            )
        else:
            subscribers.unsubscribe(session, subscriber_id=subscriber)
            heading = "Unsubscribed: no more status emails will be sent to you."
    return page(
        request, "status_link.html", headers=LINK_HEADERS, heading=heading, button="", text="", ask=False
    )


def _purpose(value: str) -> Purpose:
    if value == "confirm":
        return "confirm"
    if value == "unsubscribe":
        return "unsubscribe"
    raise NotFound(f"no page /status/{value[:40]}/…")


@dataclass(frozen=True)
class Entry:
    """One feed entry: a published update (``#u12``) or a maintenance window's event
    (``#maintenance-3-started``, linking to ``#maintenance-3``)."""

    key: str
    anchor: str
    title: str
    text: str
    at: datetime
    tags: list[str]


def _entries(request: Request, session: Session, status: public_status.StatusPage) -> list[Entry]:
    """Updates and maintenance events together, newest first (ties keep the updates' order)."""
    events = public_status.feed_events(session, now=request.state.now)  # the instant _status read
    rows = [
        Entry(f"u{u.id}", f"u{u.id}", _title(i, u), _text(u), u.at, [u.state, *sorted(u.services)])
        for i, u in status.updates
    ]
    rows += [
        Entry(
            f"maintenance-{e.window}-{e.kind}",
            f"maintenance-{e.window}",
            f"{e.label}: {e.title}",
            e.text,
            e.at,
            ["maintenance", e.kind, *e.services],
        )
        for e in events
    ]
    return sorted(rows, key=lambda e: e.at, reverse=True)


@router.get("/status/feed.atom")
def status_feed(request: Request, session: PublicRead) -> Response:
    status = _status(request, session)
    body = render(
        "status.atom.xml",
        base=_base(request),
        now=request.app.state.clock.now(),
        org=_org(request),
        status=status,
        entries=_entries(request, session, status),
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
    """JSON Feed 1.1 (https://jsonfeed.org/version/1.1): one item per published update or maintenance
    event."""
    status = _status(request, session)
    base = _base(request)
    items: list[dict[str, Any]] = [
        {
            "id": f"{base}/status#{e.key}",
            "url": f"{base}/status#{e.anchor}",
            "title": e.title,
            "content_text": e.text,
            "date_published": e.at.isoformat(),
            "tags": e.tags,
        }
        for e in _entries(request, session, status)
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
