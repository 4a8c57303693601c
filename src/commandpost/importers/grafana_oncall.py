"""``commandpost import grafana-oncall``: a Grafana OnCall stack as an ops folder (docs/migrate.md).

Grafana OnCall OSS was archived in March 2026, so its users move. This module reads users (with
their personal notification rules) and teams, then hands schedules and shifts to
:mod:`.grafana_oncall_shifts` and escalation chains and integrations to
:mod:`.grafana_oncall_routing`. Everything with no commandpost equivalent becomes a report line.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from commandpost.errors import BadRequest
from commandpost.importers import grafana_oncall_routing, grafana_oncall_shifts
from commandpost.importers.grafana_oncall_base import (
    Context,
    count,
    ids,
    items,
    name_of,
    objects,
    optional_items,
    position,
    text,
    zone,
)
from commandpost.importers.result import ImportResult
from commandpost.importers.source import LiveAPI, Source, next_link
from commandpost.policy.durations import format_duration
from commandpost.policy.opsfiles import ContactMethods

METHODS = {
    "notify_by_sms": "sms",
    "notify_by_phone_call": "voice",
    "notify_by_email": "email",
    "notify_by_slack": "slack",
    "notify_by_mobile_app": "push",
    "notify_by_mobile_app_critical": "push",
    "notify_by_webhook": "webhook",
}
"""Personal notification rule types commandpost can page on (Telegram and MS Teams it cannot)."""


RETRIES = 10
"""A 429 carries no wait (300 requests per 5 minutes per key): backing off 1, 2, 4 … 60 s ten times
waits out a whole window (303 s) before giving up."""


class _Slashed:
    """The live API with Grafana OnCall's documented trailing slash on every path."""

    def __init__(self, api: LiveAPI) -> None:
        self._api = api

    def pages(self, endpoint: str, params: Mapping[str, str] | None = None) -> Iterator[Any]:
        return self._api.pages(f"{endpoint}/", params)


SERVICE_ACCOUNT_PREFIX = "glsa_"
"""How a Grafana service-account token starts; OnCall then needs ``X-Grafana-URL`` to find the stack."""


def live(token: str, *, base_url: str | None = None, grafana_url: str | None = None, **kwargs: Any) -> Source:
    """Read the stack with an OnCall API key or a Grafana service-account token (``Authorization:
    <token>``, no scheme), 100 per page. A service-account token also sends ``X-Grafana-URL:
    <grafana_url>``, the Grafana stack it belongs to, as OnCall's API reference requires.

    There is no default host: OnCall runs where its owners put it (Settings shows the URL)."""
    if not base_url:
        raise BadRequest(
            "import grafana-oncall: --api-url is required with --token (OnCall → Settings shows it)"
        )
    headers = {"Authorization": token, "Accept": "application/json"}
    if grafana_url is not None:
        headers["X-Grafana-URL"] = _grafana_url(grafana_url)
    elif token.startswith(SERVICE_ACCOUNT_PREFIX):
        raise BadRequest(
            "import grafana-oncall: a Grafana service-account token (glsa_…) needs --grafana-url "
            "(COMMANDPOST_IMPORT_GRAFANA_URL), the URL of the Grafana stack it belongs to"
        )
    root = base_url.rstrip("/").removesuffix("/api/v1")
    kwargs.setdefault("max_retries", RETRIES)
    api = LiveAPI(
        base_url=f"{root}/api/v1",
        headers=headers,
        paginate=next_link("next"),
        first_params={"perpage": "100"},
        **kwargs,
    )
    return _Slashed(api)


def _grafana_url(value: str) -> str:
    """The stack's URL as OnCall matches it (no trailing slash), or a BadRequest naming the option.

    The value is not repeated in the error: a URL with ``user:password@`` in it would put a secret there."""
    url = value.strip().rstrip("/")
    if not _is_stack_url(url):
        raise BadRequest(
            "import grafana-oncall: --grafana-url (COMMANDPOST_IMPORT_GRAFANA_URL) must be the https "
            "address of the Grafana stack alone, e.g. https://your-stack.grafana.net (no user, "
            "password, query or spaces; OnCall sends the token on to it)"
        )
    return url


def _is_stack_url(url: str) -> bool:
    """https (http on loopback only: OnCall sends the token on to this Grafana to check it), a host,
    and nothing that is not an address."""
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError: a port that is not a number, a broken [host]
    except ValueError:
        return False
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    return (
        (parts.scheme == "https" or (parts.scheme == "http" and loopback))
        and bool(parts.hostname)
        and port != 0
        and parts.username is None
        and not parts.query
        and not parts.fragment
        and url.isprintable()
        and " " not in url
    )


def read(source: Source, *, now: datetime) -> ImportResult:
    """The whole stack, mapped; the order matters (schedules name people, chains schedules)."""
    schedules = list(items(source, "schedules"))
    ctx = Context(
        ImportResult(vendor="grafana-oncall", org="Imported from Grafana OnCall", timezone="UTC"), now=now
    )
    good_schedules = list(objects(schedules, ctx, "schedule"))
    zones = [z for s in good_schedules if (z := zone(s.get("time_zone")))]
    ctx.result.timezone = max(set(zones), key=zones.count) if zones else "UTC"
    ctx.teams.name("\0general", grafana_oncall_routing.GENERAL)
    _teams(source, ctx, _people(source, ctx))
    shifts = {s["id"]: s for s in objects(list(items(source, "on_call_shifts")), ctx, "shift")}
    grafana_oncall_shifts.map_schedules(ctx, good_schedules, shifts)
    grafana_oncall_routing.map_routing(
        ctx,
        list(objects(list(items(source, "escalation_chains")), ctx, "escalation_chain")),
        list(objects(list(items(source, "escalation_policies")), ctx, "escalation_step")),
        list(objects(list(items(source, "integrations")), ctx, "integration")),
        optional_items(
            source, "routes", ctx, "routes other than each integration's default are not reported"
        ),
    )
    return ctx.result


def _people(source: Source, ctx: Context) -> dict[str, list[str]]:
    """Each user as a person; returns the handles of each team's members (users list their teams)."""
    rules = optional_items(
        source, "personal_notification_rules", ctx, "people get commandpost's default (every contact at once)"
    )
    by_user: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rule in objects(rules or [], ctx, "notification_rule"):
        if isinstance(rule.get("user_id"), str):
            by_user[rule["user_id"]].append(rule)
    members: dict[str, list[str]] = defaultdict(list)
    for user in objects(list(items(source, "users")), ctx, "user"):
        uid = user["id"]
        username = text(user.get("username")) or text(user.get("email")).partition("@")[0] or uid
        handle = ctx.people.name(uid, username)
        ctx.note("user", uid, handle)
        person: dict[str, Any] = {"handle": handle, "name": text(user.get("name")) or username}
        person["timezone"] = zone(user.get("timezone")) or "UTC"
        contact = _contact(ctx, user, username)
        if contact:
            person["contact"] = contact
        ladder = _ladder(ctx, uid, username, by_user.get(uid, []))
        if ladder:
            person["notification_rules"] = {"high": ladder}
        ctx.result.people.append(person)
        for team_id in ids(user.get("teams")):
            members[team_id].append(handle)
    return members


def _contact(ctx: Context, user: dict[str, Any], username: str) -> dict[str, Any]:
    """Email, a verified phone number and the Slack member id, each only if commandpost accepts it."""
    slack = user.get("slack")
    member = (
        slack[0].get("user_id") if isinstance(slack, list) and slack and isinstance(slack[0], dict) else None
    )
    found = {
        "email": text(user.get("email")) or None,
        "phone": text(user.get("verified_phone_number")) or None,
        "slack_user": text(member) or None,
    }
    contact: dict[str, Any] = {}
    for key, value in found.items():
        if value is None:
            continue
        try:
            ContactMethods.model_validate({key: value})
        except ValidationError:
            ctx.result.skip(
                "contact_method", user["id"], username, f"{key} {value!r} is not valid for commandpost"
            )
            continue
        contact[key] = value
    if user.get("is_phone_number_verified") and "phone" not in contact:
        ctx.result.skip(
            "contact_method",
            user["id"],
            username,
            "has a verified phone number the API does not show: add contact.phone in people.yaml",
        )
    return contact


def _ladder(ctx: Context, uid: str, username: str, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The default (not important) personal rules as commandpost's notification_rules.high."""
    ordered = sorted(rules, key=position)
    if any(r.get("important") for r in ordered):
        ctx.result.skip(
            "notification_rule",
            uid,
            username,
            "the 'important' rules are not imported: commandpost has one ladder for paging severities "
            "(notification_rules.high, from the default rules)",
        )
    after, steps = 0, dict[int, list[str]]()
    for rule in (r for r in ordered if not r.get("important")):
        kind = rule.get("type")
        if kind == "wait":
            after += count(rule.get("duration"), 86400) or 0
        elif isinstance(kind, str) and kind in METHODS:
            steps.setdefault(after, []).append(METHODS[kind])
        else:
            ctx.result.skip(
                "notification_rule",
                text(rule.get("id"), uid),
                username,
                f"{text(kind, '?')}: no commandpost method",
            )
    return [
        {"after": format_duration(timedelta(seconds=seconds)), "methods": list(dict.fromkeys(methods))}
        if seconds
        else {"methods": list(dict.fromkeys(methods))}
        for seconds, methods in sorted(steps.items())
    ]


def _teams(source: Source, ctx: Context, members: dict[str, list[str]]) -> None:
    for team in objects(list(items(source, "teams")), ctx, "team"):
        name = ctx.teams.name(team["id"], name_of(team))
        ctx.note("team", team["id"], name)
        ctx.team_names[team["id"]] = name
        ctx.result.teams.append({"name": name, "members": members.get(team["id"], [])})
