"""``commandpost import opsgenie``: an Opsgenie account as an ops folder (docs/migrate.md, "Opsgenie").

Opsgenie's REST API stops on 5 April 2027, so its users move first. This module reads users (with
contacts and notification rules) and teams; schedules and overrides are
:mod:`.opsgenie_schedules`', escalations, services, integrations and heartbeats
:mod:`.opsgenie_routing`'s. Everything that has no commandpost equivalent becomes a report line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from commandpost.importers import opsgenie_routing, opsgenie_schedules
from commandpost.importers.fields import as_int, known_zone
from commandpost.importers.opsgenie_base import (
    Context,
    amount,
    as_dict,
    as_list,
    as_str,
    duration_text,
    items,
    optional_detail,
    optional_items,
)
from commandpost.importers.result import ImportResult
from commandpost.importers.source import LiveAPI, Source, next_link
from commandpost.policy.opsfiles import ContactMethods

API_URL = "https://api.opsgenie.com"
"""The US host; EU accounts pass ``--api-url https://api.eu.opsgenie.com``."""
V1_ENDPOINTS = ("services",)
"""The Service API is still v1 (``/v1/services``); everything else read here is ``/v2``."""
METHODS = {"email": "email", "sms": "sms", "voice": "voice"}
"""Opsgenie contact methods commandpost can page on (``mobile`` is Opsgenie's own app: no equivalent)."""


class OpsgenieAPI:
    """The live account: ``/v2/…`` and the Service API's ``/v1/services`` behind one :class:`Source`."""

    def __init__(self, v2: Source, v1: Source) -> None:
        self._v2, self._v1 = v2, v1

    def pages(self, endpoint: str, params: Mapping[str, str] | None = None) -> Iterator[Any]:
        return (self._v1 if endpoint in V1_ENDPOINTS else self._v2).pages(endpoint, params)


def live(token: str, *, base_url: str | None = None, **kwargs: Any) -> Source:
    """Read the account with an API key (``Authorization: GenieKey …``), 100 objects a page."""
    root = (base_url or API_URL).rstrip("/")
    headers = {"Authorization": f"GenieKey {token}", "Accept": "application/json"}

    def api(version: str) -> LiveAPI:
        return LiveAPI(
            base_url=f"{root}/{version}",
            headers=headers,
            paginate=next_link("paging", "next"),
            first_params={"limit": "100"},
            **kwargs,
        )

    return OpsgenieAPI(api("v2"), api("v1"))


def read(source: Source, *, now: datetime) -> ImportResult:
    """The whole account, mapped; the order matters (schedules name people, escalations schedules)."""
    schedules = list(items(source, "schedules", {"expand": "rotation"}))
    zones = [as_str(s.get("timezone")) for s in schedules if known_zone(s.get("timezone"))]
    org_zone = Counter(zones).most_common(1)[0][0] if zones else "UTC"  # a tie: the first schedule's
    ctx = Context(ImportResult(vendor="opsgenie", org="Imported from Opsgenie", timezone=org_zone), now=now)
    _people(source, ctx)
    _teams(source, ctx)
    opsgenie_schedules.map_schedules(source, ctx, schedules)
    opsgenie_routing.map_routing(source, ctx)
    return ctx.result


# ------------------------------------------------------------------ people


def _people(source: Source, ctx: Context) -> None:
    for user in items(source, "users", {"sort": "username", "order": "asc"}):
        user_id, username = as_str(user.get("id")), as_str(user.get("username"))
        label = as_str(user.get("fullName")) or username or user_id
        if not ctx.first("user", user_id, label):
            continue
        if user.get("blocked") is True:
            ctx.result.skip("user", user_id, label, "blocked in Opsgenie: not imported")
            continue
        handle = ctx.people.name(user_id, label)
        ctx.by_username[username] = user_id
        ctx.note("user", user_id, handle)
        timezone = as_str(user.get("timeZone"))
        if not known_zone(timezone):
            if timezone:
                ctx.result.skip("user", user_id, label, f"time zone {timezone!r} unknown: the org's is used")
            timezone = ctx.result.timezone
        person: dict[str, Any] = {"handle": handle, "name": label, "timezone": timezone}
        contact = _contacts(source, ctx, user_id, label, username)
        if contact:
            person["contact"] = contact
        rules = _notification_rules(source, ctx, user_id, label, contact)
        if rules:
            person["notification_rules"] = {"high": rules}
        ctx.result.people.append(person)


def _valid_contact(contact: dict[str, str], key: str, value: str) -> bool:
    try:
        ContactMethods.model_validate({**contact, key: value})
    except ValidationError:
        return False
    return True


def _contacts(source: Source, ctx: Context, user_id: str, label: str, username: str) -> dict[str, str]:
    """Contact methods: the username is the e-mail; sms and voice become sms and phone (E.164)."""
    contact: dict[str, str] = {}
    if _valid_contact(contact, "email", username):
        contact["email"] = username
    found = optional_items(source, f"users/{user_id}/contacts")
    if found is None:
        ctx.result.skip(
            "contact", user_id, label, f"users/{user_id}/contacts not read: only the e-mail is known"
        )
        return contact
    for item in found:
        method, to = as_str(item.get("method")), as_str(item.get("to"))
        if as_dict(item.get("status")).get("enabled") is False:
            ctx.result.skip("contact", as_str(item.get("id")), f"{label}: {method}", "disabled in Opsgenie")
            continue
        key = {"email": "email", "sms": "sms", "voice": "phone"}.get(method)
        value = to if method == "email" else "+" + "".join(ch for ch in to if ch.isdigit())
        if key is None:
            why = "the Opsgenie app has no commandpost equivalent: give a ntfy_topic for push"
            ctx.result.skip("contact", as_str(item.get("id")), f"{label}: {method}", why)
        elif key in contact and contact[key] != value:
            ctx.result.skip(
                "contact", as_str(item.get("id")), f"{label}: {method}", f"a second {key}: one is kept"
            )
        elif not _valid_contact(contact, key, value):
            ctx.result.skip(
                "contact", as_str(item.get("id")), f"{label}: {method}", f"{to!r} is not a valid {key}"
            )
        else:
            contact[key] = value
    return contact


def _notification_rules(
    source: Source, ctx: Context, user_id: str, label: str, contact: dict[str, str]
) -> list[dict[str, Any]]:
    """The first enabled ``create-alert`` rule's steps, as the person's ``high`` rules."""
    rules = optional_items(source, f"users/{user_id}/notification-rules")
    if rules is None:
        return []
    create = [r for r in rules if r.get("actionType") == "create-alert" and r.get("enabled") is not False]
    create.sort(key=lambda r: as_int(r.get("order")))
    for extra in create[1:]:
        why = (
            "a second create-alert rule (Opsgenie picks by alert criteria): only the first is the 'high' rule"
        )
        ctx.result.skip(
            "notification_rule", as_str(extra.get("id")), f"{label}: {as_str(extra.get('name'))}", why
        )
    for other in rules:
        if other.get("actionType") not in ("create-alert", None):
            why = f"{as_str(other.get('actionType'))} rules have no equivalent (commandpost tells on pages)"
            ctx.result.skip(
                "notification_rule", as_str(other.get("id")), f"{label}: {as_str(other.get('name'))}", why
            )
    if not create:
        return []
    rule_id = as_str(create[0].get("id"))
    steps = optional_items(source, f"users/{user_id}/notification-rules/{rule_id}/steps")
    if steps is None:
        ctx.result.skip("notification_rule", rule_id, label, "its steps were not read: every method at once")
        return []
    by_after: dict[str, list[str]] = {}
    for step in steps:
        step_contact = as_dict(step.get("contact"))
        method = METHODS.get(as_str(step_contact.get("method")))
        after = amount(step.get("sendAfter"))
        if step.get("enabled") is False:
            continue
        if method is None or after is None or ContactMethods.model_validate(contact).address(method) is None:
            why = f"step {as_str(step_contact.get('method'))!r}: no method commandpost can page on"
            ctx.result.skip("notification_rule", as_str(step.get("id")), label, why)
            continue
        methods = by_after.setdefault(duration_text(after), [])
        if method not in methods:
            methods.append(method)
    return [{"after": after, "methods": methods} for after, methods in by_after.items()]


# ------------------------------------------------------------------ teams


def _teams(source: Source, ctx: Context) -> None:
    for team in items(source, "teams"):
        team_id, label = as_str(team.get("id")), as_str(team.get("name"))
        if not ctx.first("team", team_id, label):
            continue
        name = ctx.teams.name(team_id, label)
        ctx.note("team", team_id, name)
        detail = optional_detail(source, f"teams/{team_id}", {"identifierType": "id"})
        members = as_list((detail or team).get("members"))
        if detail is None and not members:
            ctx.result.skip("team", team_id, label, f"teams/{team_id} not read: imported without members")
        handles: list[str] = []
        admins: list[str] = []
        for member in filter(None, map(as_dict, members)):
            handle = ctx.person(member.get("user"))
            if handle is None:
                user = as_dict(member.get("user"))
                ctx.result.skip(
                    "team_member",
                    as_str(user.get("id")),
                    f"{label}: {as_str(user.get('username'))}",
                    "not an imported user",
                )
                continue
            if handle not in handles:
                handles.append(handle)
            if member.get("role") == "admin":
                admins.append(handle)
        entry: dict[str, Any] = {"name": name, "members": handles}
        if admins:
            entry["lead"] = admins[0]
        for other in admins[1:]:
            ctx.result.skip(
                "team_admin", team_id, f"{label}: {other}", f"one lead per team: {admins[0]} leads"
            )
        ctx.team_members[team_id] = handles
        ctx.result.teams.append(entry)
