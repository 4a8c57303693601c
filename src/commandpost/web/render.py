"""Jinja2 rendering for the pages: one autoescaping environment, the filters every template shares.

Every value reaches HTML through autoescape (``.html`` and ``.xml`` templates alike); nothing is
marked safe except markup this module builds from escaped parts (:func:`inline_code`). Times are
shown in the reader's timezone (``timezone``: the logged-in person's from people.yaml, else the
org's); ``when`` adds the date to a time not from the reader's today, ``local_for`` the org's time
in brackets where it differs. "Time since" is rendered server-side and refreshed by ``app.js``
(progressive enhancement: without JavaScript the page is still right as of its load).

Live regions (issue 18, item 8): a template's ``{% block live %}`` is what ``static/live.js``
re-fetches every few seconds — the same URL with the header ``X-CommandPost-Live: 1`` answers that
block alone, with an ``ETag``, and 304 when it has not changed, so an idle page costs one small
request per tick and the browser replaces the region only when it did change.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from commandpost.incidents.timeline import local_for
from commandpost.policy.durations import format_duration

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

SEV_CLASS = {"SEV1": "sev1", "SEV2": "sev2", "SEV3": "sev3", "SEV4": "sev4"}


def span(delta: timedelta) -> str:
    """``3d 4h``, ``2h 5m``, ``4m``, ``12s``: the two largest units, for "time since"."""
    seconds = max(int(delta.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


@pass_context
def _local(context: Context, at: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if at is None:
        return "—"
    return at.astimezone(ZoneInfo(context.get("timezone") or "UTC")).strftime(fmt)


@pass_context
def _when(context: Context, at: datetime | None, fmt: str = "%H:%M") -> str:
    """``fmt`` alone for a time of the reader's today; with the day before it otherwise ("Jun 14
    03:12"), and the year when it is not this year's ("2025 Dec 31 23:59")."""
    if at is None:
        return "—"
    zone = ZoneInfo(context.get("timezone") or "UTC")
    here, now = at.astimezone(zone), context.get("now")
    today = now.astimezone(zone).date() if now is not None else None
    if here.date() == today:
        return here.strftime(fmt)
    day = "%b %d" if today is not None and here.year == today.year else "%Y %b %d"
    return here.strftime(f"{day} {fmt}")


@pass_context
def _local_for(context: Context, at: datetime | None, fmt: str = "%H:%M %Z") -> str:
    """The reader's time, the org's in brackets where it differs: "03:12 CET [11:12 JST]"."""
    if at is None:
        return "—"
    own = context.get("timezone") or "UTC"
    return local_for(at, own, context.get("org_timezone") or own, fmt)


@pass_context
def _since(context: Context, at: datetime | None) -> str:
    now: datetime | None = context.get("now")
    if at is None or now is None:
        return "—"
    return span(now - at)


@pass_context
def _until(context: Context, at: datetime | None) -> str:
    now: datetime | None = context.get("now")
    if at is None or now is None:
        return "—"
    return span(at - now) if at > now else f"{span(now - at)} overdue"


def _duration(value: timedelta | None) -> str:
    return format_duration(value) if value else "—"


def _handle(person: str | None) -> str:
    if not person:
        return "—"
    return person if person == "commandpost" else f"@{person}"


def _iso(at: datetime | None) -> str:
    return at.isoformat() if at else ""


_CODE = re.compile(r"`([^`]+)`")
_URL = re.compile(r"https?://[^\s<>\"'`]+[^\s<>\"'`.,;:!?)\]]")


def _linked(text: str) -> Markup:
    """Escaped text with its http(s) URLs as links (nothing else becomes markup)."""
    out, last = Markup(""), 0
    for found in _URL.finditer(text):
        out += escape(text[last : found.start()])
        out += Markup('<a href="{0}" rel="noopener noreferrer">{0}</a>').format(found.group(0))
        last = found.end()
    return out + escape(text[last:])


def trailing_command(text: str, command: str | None) -> str | None:
    """``command`` when it ends ``text`` (``Scale out: `aws …` ``): then the page shows it apart, in a
    block with a copy button; a command in mid-sentence stays inline."""
    return command if command and text.strip().endswith(f"`{command}`") else None


def inline_code(text: str, command: str | None = None) -> Markup:
    """A runbook line as a reader wants it: `code` spans as ``<code>``, URLs as links; a trailing
    ``command`` (:func:`trailing_command`, shown apart) dropped from the end together with the colon
    before it, so it is not shown twice. Every piece of ``text`` is escaped."""
    line = text.strip()
    if trailing_command(line, command):
        line = line[: -len(str(command)) - 2].rstrip().rstrip(":—-").rstrip()
    out, last = Markup(""), 0
    for found in _CODE.finditer(line):
        out += _linked(line[last : found.start()])
        out += Markup("<code>{0}</code>").format(found.group(1))
        last = found.end()
    return out + _linked(line[last:])


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "xml"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        local=_local,
        when=_when,
        local_for=_local_for,
        span=span,
        inline_code=inline_code,
        trailing_command=trailing_command,
        since=_since,
        until=_until,
        duration=_duration,
        handle=_handle,
        iso=_iso,
        sevclass=lambda sev: SEV_CLASS.get(sev, ""),
    )
    return env


ENV = _environment()


def render(name: str, **values: Any) -> str:
    return ENV.get_template(name).render(**values)


def page(
    request: Request,
    name: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **values: Any,
) -> Response:
    """A full page: the template plus what the layout needs (who is logged in, CSRF token, clock, the
    reader's timezone and the org's)."""
    state = request.state
    who = getattr(state, "web", None)
    base = {
        "request": request,
        "user": who.principal if who else None,
        "csrf": who.csrf_token if who else "",
        "now": getattr(state, "now", None),
        "timezone": getattr(state, "timezone", "UTC"),
        "org_timezone": getattr(state, "org_timezone", getattr(state, "timezone", "UTC")),
        "org": getattr(state, "org", "commandpost"),
        "nav": values.pop("nav", ""),
    }
    if request.headers.get(LIVE_HEADER) and status_code == 200:
        return _live(request, name, {**base, **values}, headers or {})
    html = render(name, **base, **values)
    return HTMLResponse(html, status_code=status_code, headers=headers)


LIVE_HEADER = "x-commandpost-live"


def _live(request: Request, name: str, values: dict[str, Any], headers: dict[str, str]) -> Response:
    """The template's ``live`` block alone (404 for a page without one), 304 if the client has it."""
    template = ENV.get_template(name)
    block = template.blocks.get("live")
    if block is None:
        return HTMLResponse("this page has no live region", status_code=404)
    html = "".join(block(template.new_context(values)))
    etag = '"' + hashlib.sha256(html.encode()).hexdigest()[:32] + '"'
    answer = {**headers, "ETag": etag, "Cache-Control": "no-cache", "Vary": "X-CommandPost-Live"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=answer)
    return HTMLResponse(html, headers=answer)
