"""PagerDuty users and teams → people.yaml, and the readers every PagerDuty mapping shares.

A user's contact methods become commandpost contact methods (e-mail, phone for voice, SMS); the app's
push cannot move (commandpost pushes through ntfy). Notification rules keep their delays per
urgency. A team's first manager is its lead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from commandpost.errors import BadRequest, NotFound
from commandpost.importers.fields import as_int, one_line
from commandpost.importers.names import Namer
from commandpost.importers.result import ImportResult
from commandpost.importers.source import Params, Source

ORG = "imported-from-pagerduty"
"""commandpost.yaml's org until a user's page names the account (``https://ACME.pagerduty.com/…``)."""
_ACCOUNT = re.compile(r"^https://([a-z0-9][a-z0-9-]{0,62})\.(?:eu\.)?pagerduty\.com/")
UNASSIGNED = "unassigned"
"""The team that owns services PagerDuty gives no team (commandpost's services have an owner)."""
METHOD = {
    "email_contact_method": "email",
    "phone_contact_method": "voice",
    "sms_contact_method": "sms",
    "push_notification_contact_method": "push",
}


def items(source: Source, endpoint: str, key: str, params: Params | None = None) -> Iterator[dict[str, Any]]:
    """Each object of a list endpoint, across its pages; a page of another shape is an error."""
    for n, page in enumerate(source.pages(endpoint, params), start=1):
        found = page.get(key) if isinstance(page, dict) else None
        if not isinstance(found, list):
            raise BadRequest(
                f"/{endpoint} page {n}: no '{key}' list (is this the response of GET /{endpoint}?)"
            )
        yield from (item for item in found if isinstance(item, dict))


def detail_of(source: Source, endpoint: str, key: str, params: Params | None = None) -> dict[str, Any]:
    for page in source.pages(endpoint, params):
        body = page.get(key) if isinstance(page, dict) else None
        if isinstance(body, dict):
            return body
        raise BadRequest(f"/{endpoint}: no '{key}' object (is this the response of GET /{endpoint}?)")
    raise NotFound(f"/{endpoint}: empty")  # pragma: no cover — a source yields at least one page


def text(value: Any, limit: int = 200) -> str:
    """A name from the source, printable and on one line."""
    return one_line(str(value or ""))[:limit]


def ref_id(ref: Any) -> str:
    return text(ref.get("id"), 40) if isinstance(ref, dict) else ""


def named(obj: dict[str, Any], kind: str, names: Namer, result: ImportResult) -> tuple[str, str, str] | None:
    """(id, name, the name commandpost gives it) of a listed object; None and a report line without an id."""
    source_id, name = ref_id(obj), text(obj.get("name"))
    if not source_id:
        result.skip(kind, "", name, "no id")
        return None
    return source_id, name, names.name(source_id, name or source_id)


def minutes(value: Any) -> int | None:
    whole = as_int(value, -1)
    return whole if whole >= 0 else None


def read_people(source: Source, result: ImportResult) -> Namer:
    names = Namer("person")
    include = {"include[]": ["contact_methods", "notification_rules"]}
    for user in items(source, "users", "users", include):
        user_id, name = ref_id(user), text(user.get("name")) or text(user.get("email"))
        if not user_id or not name:
            result.skip("user", user_id, name, "no id or name")
            continue
        handle = names.name(user_id, name)
        account = _ACCOUNT.match(str(user.get("html_url") or ""))
        if account and result.org == ORG:
            result.org = account.group(1)
        person: dict[str, Any] = {"handle": handle, "name": name}
        zone = text(user.get("time_zone"), 60)
        try:
            person["timezone"] = ZoneInfo(zone).key if zone else "UTC"
        except (ZoneInfoNotFoundError, ValueError):
            person["timezone"] = "UTC"
            result.skip("user", user_id, name, f"time zone {zone!r} is unknown; UTC written")
        contact, by_method_id = _contact(user, result, user_id, name)
        if contact:
            person["contact"] = contact
        rules = _notification_rules(user, by_method_id, result, user_id, name)
        if rules:
            person["notification_rules"] = rules
        result.people.append(person)
        result.source_ids.setdefault("user", {})[user_id] = handle
    return names


def _contact(
    user: dict[str, Any], result: ImportResult, user_id: str, name: str
) -> tuple[dict[str, str], dict[str, str]]:
    """commandpost contact methods, and each mapped PagerDuty contact method id → its method."""
    contact: dict[str, str] = {}
    mapped: dict[str, str] = {}
    for method in user.get("contact_methods") or []:
        if not isinstance(method, dict):
            continue
        kind, method_id, label = str(method.get("type", "")), ref_id(method), text(method.get("label"), 40)
        what = f"contact method {label or method_id} ({kind})"
        address = text(method.get("address"), 100)
        if kind == "email_contact_method":
            if "@" not in address or " " in address:
                result.skip(
                    "contact_method", method_id, name, f"{what}: {address!r} is not an e-mail address"
                )
                continue
            contact.setdefault("email", address)
            mapped[method_id] = "email"
        elif kind in ("phone_contact_method", "sms_contact_method"):
            field = "phone" if kind == "phone_contact_method" else "sms"
            number = _e164(method.get("country_code"), address)
            if number is None:
                result.skip("contact_method", method_id, name, f"{what}: not a valid phone number")
                continue
            if field in contact and contact[field] != number:
                result.skip(
                    "contact_method", method_id, name, f"{what}: commandpost keeps one {field} number"
                )
                continue
            contact[field] = number
            mapped[method_id] = METHOD[kind]
        elif kind == "push_notification_contact_method":
            result.skip(
                "contact_method",
                method_id,
                name,
                f"{what}: PagerDuty's app push cannot be moved; give the person an ntfy topic "
                "(contact.ntfy_topic) for push",
            )
        elif kind.endswith("_reference"):
            result.skip(
                "contact_method",
                method_id,
                name,
                f"{what}: a reference only (save users with include[]=contact_methods)",
            )
        else:
            result.skip("contact_method", method_id, name, f"{what}: no commandpost method for this type")
    if "email" not in contact and "@" in text(user.get("email"), 100):
        contact["email"] = text(user.get("email"), 100)
    if "sms" in contact and contact.get("phone") == contact["sms"]:
        del contact["sms"]
    return contact, mapped


def _e164(country: Any, address: str) -> str | None:
    digits = "".join(ch for ch in address if ch.isdigit())
    if not digits or not isinstance(country, int) or isinstance(country, bool):
        return None
    try:
        number = phonenumbers.parse(f"+{country}{digits}", None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _notification_rules(
    user: dict[str, Any], by_method_id: dict[str, str], result: ImportResult, user_id: str, name: str
) -> dict[str, list[dict[str, Any]]]:
    """Per urgency, one step per delay with the methods of the rules at that delay."""
    steps: dict[str, dict[int, list[str]]] = {}
    for rule in user.get("notification_rules") or []:
        if not isinstance(rule, dict):
            continue
        urgency, delay = rule.get("urgency"), minutes(rule.get("start_delay_in_minutes"))
        method = by_method_id.get(ref_id(rule.get("contact_method")))
        if urgency not in ("high", "low") or delay is None:
            result.skip("notification_rule", ref_id(rule), name, "no urgency (high, low) or delay")
        elif method is None:
            result.skip(
                "notification_rule",
                ref_id(rule),
                name,
                f"{urgency} urgency after {delay} min: its contact method was not imported",
            )
        else:
            methods = steps.setdefault(str(urgency), {}).setdefault(delay, [])
            if method not in methods:
                methods.append(method)
    return {
        urgency: [{"after": f"{delay}m", "methods": methods} for delay, methods in sorted(by_delay.items())]
        for urgency, by_delay in steps.items()
    }


def read_teams(source: Source, result: ImportResult, people: Namer) -> Namer:
    names = Namer("team")
    names.name("\x00unassigned", UNASSIGNED)
    for team in items(source, "teams", "teams"):
        if (found := named(team, "team", names, result)) is None:
            continue
        team_id, _, team_name = found
        members: list[str] = []
        lead = None
        for member in items(source, f"teams/{team_id}/members", "members"):
            user_id = ref_id(member.get("user"))
            handle = people.get(user_id)
            if handle is None:
                result.skip("team_member", user_id, team_name, "not an imported user")
                continue
            if handle not in members:
                members.append(handle)
            if member.get("role") == "manager" and lead is None:
                lead = handle
        body: dict[str, Any] = {"name": team_name, "members": members}
        if lead:
            body["lead"] = lead
        result.teams.append(body)
        result.source_ids.setdefault("team", {})[team_id] = team_name
    return names
