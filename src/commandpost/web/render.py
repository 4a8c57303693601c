"""Jinja2 rendering for the pages: one autoescaping environment, the filters every template shares.

Every value reaches HTML through autoescape (``.html`` and ``.xml`` templates alike); nothing is
marked safe except markup this module builds from escaped parts. Times are shown in the org's
timezone, and "time since" is rendered server-side and refreshed by ``app.js`` (progressive
enhancement: without JavaScript the page is still right as of its load).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

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
    """A full page: the template plus what the layout needs (who is logged in, CSRF token, clock, tz)."""
    state = request.state
    who = getattr(state, "web", None)
    base = {
        "request": request,
        "user": who.principal if who else None,
        "csrf": who.csrf_token if who else "",
        "now": getattr(state, "now", None),
        "timezone": getattr(state, "timezone", "UTC"),
        "org": getattr(state, "org", "commandpost"),
        "nav": values.pop("nav", ""),
    }
    html = render(name, **base, **values)
    return HTMLResponse(html, status_code=status_code, headers=headers)
