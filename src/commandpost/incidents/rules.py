"""Pure rules of an incident: the status machine, names and their validation, channel names, comms text.

No I/O here: services call these with values and get values or a domain error back,
so the whole table of transitions is tested without a database.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from commandpost.errors import InvalidTransition, ValidationFailed
from commandpost.policy.opsfiles import SEVERITIES

# ---------------------------------------------------------------- statuses

STATUSES: tuple[str, ...] = ("investigating", "identified", "mitigated", "resolved", "closed")
OPEN_STATUSES: tuple[str, ...] = ("investigating", "identified", "mitigated")
_ORDER = {s: i for i, s in enumerate(STATUSES)}
REOPEN_ALIAS = "reopen"

# The *_at column each status sets, and the earlier ones it implies: resolving implies mitigation,
# closing implies resolution. ``identified`` is never implied (mitigation often precedes a known cause).
_STAMPS: dict[str, tuple[str, ...]] = {
    "investigating": (),
    "identified": ("identified_at",),
    "mitigated": ("mitigated_at",),
    "resolved": ("mitigated_at", "resolved_at"),
    "closed": ("mitigated_at", "resolved_at", "closed_at"),
}


@dataclass(frozen=True)
class Transition:
    """An allowed status change: ``forward`` (any skip ahead) or ``reopen`` (resolved → investigating)."""

    source: str
    target: str
    name: str
    stamps: tuple[str, ...]


def allowed_next(status: str) -> tuple[str, ...]:
    """Every status ``status`` may move to, in lifecycle order."""
    forward = tuple(s for s in STATUSES if _ORDER[s] > _ORDER[status])
    return ("investigating", *forward) if status == "resolved" else forward


def normalize_status(value: str) -> str:
    text = str(value).strip().lower()
    if text == REOPEN_ALIAS:
        return text
    return choose(text, STATUSES, "status")


def check_transition(source: str, target: str, *, number: str = "the incident") -> Transition:
    """The transition ``source → target`` or InvalidTransition (409) listing the allowed next states."""
    wanted = normalize_status(target)
    allowed = allowed_next(source)
    if wanted == REOPEN_ALIAS:
        wanted = "investigating" if source == "resolved" else REOPEN_ALIAS
    if wanted not in allowed:
        listed = ", ".join(allowed) if allowed else "none (closed is final)"
        hint = " (reopen is only from resolved)" if target.strip().lower() == REOPEN_ALIAS else ""
        raise InvalidTransition(
            f"{number} cannot go from {source} to {target.strip().lower()}{hint}; allowed next: {listed}",
            details={"from": source, "to": target, "allowed": list(allowed)},
        )
    name = "reopen" if source == "resolved" and wanted == "investigating" else "forward"
    return Transition(source=source, target=wanted, name=name, stamps=_STAMPS[wanted])


def is_open(status: str) -> bool:
    return status in OPEN_STATUSES


# ---------------------------------------------------------------- names


def choose(value: str, valid: Iterable[str], what: str) -> str:
    """``value`` if it is one of ``valid``; else ValidationFailed (422) naming the valid ones."""
    options = tuple(valid)
    if value in options:
        return value
    raise ValidationFailed(
        f"unknown {what} {value!r}; valid: {', '.join(options) if options else 'none defined'}",
        details={"field": what, "value": value, "valid": list(options)},
    )


def normalize_severity(value: str | int) -> str:
    """``SEV2``, ``sev2``, ``2`` → ``SEV2``; anything else is 422 naming SEV1–SEV4."""
    text = str(value).strip().upper()
    if text.isdigit():
        text = f"SEV{text}"
    return choose(text, SEVERITIES, "severity")


def severity_rank(severity: str) -> int:
    """1 is the most severe."""
    return int(severity.removeprefix("SEV"))


def is_raise(old: str, new: str) -> bool:
    return severity_rank(new) < severity_rank(old)


ROLES: tuple[str, ...] = ("ic", "ops", "comms", "planning")
ROLE_LABELS: dict[str, str] = {"ic": "IC", "ops": "Ops", "comms": "Comms", "planning": "Planning"}


def normalize_role(value: str) -> str:
    return choose(str(value).strip().lower(), ROLES, "role")


TIMELINE_KINDS: tuple[str, ...] = (
    "note",
    "action",
    "decision",
    "status",
    "severity",
    "role",
    "handover",
    "alert",
    "page",
    "comms",
    "runbook_step",
    "system",
)
POSTABLE_KINDS: tuple[str, ...] = ("note", "action", "decision")
SYSTEM_AUTHOR = "commandpost"

OFFER_STATES: tuple[str, ...] = ("pending", "accepted", "declined", "expired", "superseded")

_NUMBER = re.compile(r"^(?:inc-?)?(\d{1,9})$", re.IGNORECASE)


def parse_number(value: str | int) -> int:
    """``7``, ``INC-7``, ``inc7`` → 7; anything else is 422."""
    match = _NUMBER.match(str(value).strip())
    if not match or int(match.group(1)) == 0:
        raise ValidationFailed(
            f"{value!r} is not an incident number; write INC-7 or 7", details={"value": str(value)}
        )
    return int(match.group(1))


def is_drill(labels: Mapping[str, Any] | None) -> bool:
    """Label ``drill`` is ``true`` (the string, any case, or JSON true): a drill pages no on-call and
    is left out of the metrics, the budgets and the status page."""
    value = (labels or {}).get("drill")
    return value is not None and str(value).strip().lower() == "true"


def format_number(number: int) -> str:
    return f"INC-{number}"


def clean_person(handle: str) -> str:
    return handle.strip().lstrip("@").strip()


# ---------------------------------------------------------------- command post


def slugify(text: str, *, max_length: int = 40) -> str:
    """``"Payment webhooks failing!"`` → ``payment-webhooks-failing``, cut at a word boundary."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > max_length:
        cut = slug[:max_length]
        slug = cut.rsplit("-", 1)[0] if "-" in cut else cut
    return slug or "incident"


def channel_name(
    template: str, *, number: int, title: str, service: str | None, severity: str, local_date: str
) -> str:
    """The command post's channel name from the ``incident_channel_template`` of ``commandpost.yaml``."""
    values = {
        "date": local_date,
        "slug": slugify(title),
        "number": str(number),
        "service": service or "none",
        "severity": severity.lower(),
    }
    name = render_template(template, values).lower()
    name = re.sub(r"[^a-z0-9_-]+", "-", name)
    name = re.sub(r"-{2,}", "-", name).strip("-")
    return name[:80].rstrip("-") or f"inc-{number}"


# ---------------------------------------------------------------- comms

COMMS_KINDS: tuple[str, ...] = ("initial", "update", "resolved")
AUDIENCES: tuple[str, ...] = ("internal", "external")
DEFAULT_COMMS_TEMPLATES: dict[str, str] = {
    "initial": (
        "[{severity}] INC-{number} {title}: we are investigating. Impact: {impact}. Status: {status}. "
        "Next update by {next_update}."
    ),
    "update": (
        "[{severity}] INC-{number} {title}: status {status}. Impact: {impact}. Next update by {next_update}."
    ),
    "resolved": (
        "[{severity}] INC-{number} {title}: resolved. Impact was: {impact}. A postmortem follows if due."
    ),
}


class _Missing(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render_template(template: str, values: Mapping[str, Any]) -> str:
    """Fill ``{placeholders}``; unknown ones stay as written and a stray brace is not an error."""
    formatter = string.Formatter()
    mapping = _Missing({k: str(v) for k, v in values.items()})
    try:
        return formatter.vformat(template, (), mapping)
    except (ValueError, IndexError, KeyError, AttributeError):
        out = template
        for key, value in mapping.items():
            out = out.replace("{" + key + "}", value)
        return out


def comms_due(base: datetime, cadence: timedelta | None) -> datetime | None:
    """When the next comms update is due: the last one (or the declaration) plus the severity's cadence."""
    return base + cadence if cadence else None


def reminder_period(due: datetime, cadence: timedelta | None, now: datetime) -> datetime | None:
    """The start of the overdue period ``now`` falls in (one reminder each), or None if not yet due.

    Period k starts at ``due + k × cadence``; an engine that was down for hours writes one
    reminder for the current period, not one per missed period.
    """
    if now < due:
        return None
    if not cadence:
        return due
    periods = (now - due) // cadence
    return due + periods * cadence


def next_reminder_at(
    due: datetime, cadence: timedelta | None, reminded_for: datetime | None
) -> datetime | None:
    """When the comms processor has work next for one incident (None: never again at this due time)."""
    if reminded_for is None or reminded_for < due:
        return due
    return reminded_for + cadence if cadence else None


def declared_paging(*, severity: str, pages: bool, service: str | None, page: bool) -> tuple[bool, str]:
    """Whether declaring pages anyone, and the sentence that says so (in the response and the timeline).

    A paging severity declared on a service pages that service's on-call per its escalation policy
    (the declarer is skipped when on call); with no service, or with paging turned off, nobody is."""
    if not pages:
        return False, f"{severity} does not page: nobody is paged"
    if not service:
        return (
            False,
            f"nobody is paged: the incident has no service "
            f"(declare {severity} on a service to page its on-call)",
        )
    if not page:
        return False, "nobody is paged: declared without paging"
    return (
        True,
        f"paging the on-call of {service} per its escalation policy (skipping you if you are on call)",
    )


def next_steps(*, number: str, runbook: str | None, paging: bool, channel: str) -> list[str]:
    """What a declarer does next (guide §3-1 step 2 and 5): page/ack, runbook, initial comms."""
    steps = [
        f"join the command post #{channel}",
        "the on-call is being paged: brief them when they ack"
        if paging
        else "you are IC: delegate Ops/Comms when people join",
        f"open the runbook {runbook}" if runbook else "open the service's runbook (none linked yet)",
        f"post the initial comms: commandpost comms {number} initial",
    ]
    return steps
