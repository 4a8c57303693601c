"""Notification use cases: enqueue (idempotent), who receives what, delivery history, dead letters, retry.

Modules *decide* by calling :func:`enqueue` inside their transaction; the sender processor
(``notify/sender.py``) *sends* only committed rows. Services flush, never commit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session, make_transient_to_detached

from commandpost.db.upsert import insert_for
from commandpost.errors import Conflict, NotFound, ValidationFailed
from commandpost.notify.models import (
    CANCELLED,
    CHANNELS,
    DEAD,
    MESSAGES,
    PENDING,
    STATUSES,
    OutgoingAttempt,
    OutgoingMessage,
)
from commandpost.notify.rules import MAX_KEY_LENGTH, message_key
from commandpost.policy.opsfiles import OpsConfig, Person
from commandpost.security.redact import redact_data, redact_text

ChannelName = Literal["console", "slack", "email", "webhook", "push", "sms", "voice"]
Destination = tuple[str, str]
MAX_DESTINATION_LENGTH = 2000
_KEY = re.compile(r"[\x21-\x7e][\x20-\x7e]*")
STATUS_FILTERS = (*STATUSES, "failed")
"""``failed`` is what people ask for; it means the dead letters (attempts used up or refused for good)."""


def _validate(key: str, channel: str, destination: str, now: datetime, not_before: datetime | None) -> None:
    where = f"notification {key[:60]!r}"
    if not key or len(key) > MAX_KEY_LENGTH or not _KEY.fullmatch(key):
        raise ValidationFailed(
            f"{where}: the idempotency key must be 1–{MAX_KEY_LENGTH} printable ASCII characters"
        )
    if channel not in CHANNELS:
        raise ValidationFailed(f"{where}: channel {channel!r} is not one of {', '.join(CHANNELS)}")
    if not destination or len(destination) > MAX_DESTINATION_LENGTH or "\n" in destination:
        raise ValidationFailed(
            f"{where}: destination must be one line of 1–{MAX_DESTINATION_LENGTH} characters"
        )
    for name, value in (("now", now), ("not_before", not_before)):
        if value is not None and value.tzinfo is None:
            raise ValidationFailed(f"{where}: {name} must be timezone-aware")


def enqueue(
    session: Session,
    *,
    key: str,
    channel: ChannelName,
    destination: str,
    subject: str,
    body: str,
    severity: str | None,
    incident_id: int | None,
    person: str | None,
    payload: dict[str, Any] | None = None,
    now: datetime,
    not_before: datetime | None = None,
) -> OutgoingMessage | None:
    """Queue one message; a key already queued inserts nothing and returns None.

    ``INSERT … ON CONFLICT (key) DO NOTHING`` on SQLite and PostgreSQL alike, so two engine
    replicas deciding the same page at the same instant leave one row. Subject, body and payload
    are redacted before they are stored. ``not_before`` delays the first attempt; lateness is
    measured from it (or from ``now``).
    """
    _validate(key, channel, destination, now, not_before)
    due = not_before if not_before is not None else now
    values = {
        "key": key,
        "channel": channel,
        "destination": destination.strip(),
        "subject": redact_text(subject),
        "body": redact_text(body),
        "severity": severity,
        "incident_id": incident_id,
        "person": person,
        "payload": redact_data(payload) if payload else None,
        "status": PENDING,
        "attempts": 0,
        "created_at": now,
        "due_at": due,
        "next_attempt_at": due,
        "late": False,
    }
    new_id = session.execute(_insert_once(session), values).scalar_one_or_none()
    if new_id is None:
        return None
    # The row holds exactly these values: attach it as persistent without reading it back.
    message = OutgoingMessage(
        id=new_id, **values, attempt_limit=None, claimed_by=None, sent_at=None, last_error=None
    )
    make_transient_to_detached(message)
    session.add(message)
    return message


_INSERTS: dict[str, Any] = {}


def enqueue_each(
    session: Session,
    *,
    destinations: Sequence[tuple[str, str]],
    kind: str,
    key_parts: dict[str, Any],
    subject: str,
    body: str,
    severity: str | None,
    incident_id: int | None,
    person: str | None,
    payload: dict[str, Any] | None,
    now: datetime,
    not_before: datetime | None = None,
) -> int:
    """One message per (channel, destination), keyed ``message_key(kind, **key_parts, channel=…)``: a
    recipient told on each of their contact methods. Returns how many were queued (a key already
    queued counts 0)."""
    queued = 0
    for channel, destination in destinations:
        message = enqueue(
            session,
            key=message_key(kind, **key_parts, channel=channel),
            channel=channel,  # type: ignore[arg-type]
            destination=destination,
            subject=subject,
            body=body,
            severity=severity,
            incident_id=incident_id,
            person=person,
            payload=payload,
            now=now,
            not_before=not_before,
        )
        queued += message is not None
    return queued


def _insert_once(session: Session) -> Any:
    """One statement per dialect, built once: its compiled form is cached, only the values change."""
    dialect = session.get_bind().dialect.name
    statement = _INSERTS.get(dialect)
    if statement is None:
        statement = _INSERTS[dialect] = (
            insert_for(session, MESSAGES)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(MESSAGES.c.id)
        )
    return statement


# ------------------------------------------------------------------ who receives what


def _person(config: OpsConfig, person: str | Person) -> Person:
    if isinstance(person, Person):
        return person
    found = config.person(person)
    if found is None:
        raise NotFound(f"people.yaml has no person {person!r}")
    return found


DEFAULT_ORDER = ("slack", "email", "webhook", "push", "sms", "voice")
"""Every method, in the order pages listed them before notification rules existed."""


def _default_methods(*, urgency: str) -> list[str]:
    """No rules written: every method the person has at once; a call only when it is urgent."""
    return [m for m in DEFAULT_ORDER if m != "voice" or urgency == "high"]


def destinations_for_person(
    config: OpsConfig, person: str | Person, severity: str | None
) -> list[Destination]:
    """``(channel, destination)`` pairs for a notice to ``person`` (no ack asked): what they want at once.

    The person's ``notify:`` list for that severity when given, else the first step of their
    low-urgency rules, else every contact method they have but voice. A listed method without a
    contact value is skipped. The console is always added (destination ``@handle``), so a local run
    shows every message and a message never has nowhere to go.
    """
    who = _person(config, person)
    if severity is not None and severity in who.notify:
        wanted: list[str] = list(who.notify[severity])
    elif who.notification_rules.get("low"):
        wanted = list(who.notification_rules["low"][0].methods)
    else:
        wanted = _default_methods(urgency="low")
    return _addresses(who, wanted)


def _addresses(who: Person, methods: Sequence[str]) -> list[Destination]:
    result: list[Destination] = []
    for method in dict.fromkeys(methods):
        value = who.contact.address(method)
        if value:
            result.append((method, value))
    result.append(("console", f"@{who.handle}"))
    return result


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a person's notification rules: ``after`` the page, on ``channel`` to ``destination``."""

    after: timedelta
    channel: str
    destination: str


def urgency_of(config: OpsConfig, severity: str | None) -> str:
    """High for a severity that pages (severities.yaml ``paging: true``), low otherwise."""
    rule = config.severities.get(severity) if severity else None
    return "high" if rule is not None and rule.paging else "low"


def page_steps(config: OpsConfig, person: str | Person, severity: str) -> list[Step]:
    """Every step of a page to ``person``, in order: their ``notify:`` list for ``severity`` at once
    (the older form), else their rules for the severity's urgency, else every contact method at
    once. Later steps are sent only if the page is still unacknowledged when they fall due
    (:func:`cancel_steps`). The console gets the first step."""
    who = _person(config, person)
    urgency = urgency_of(config, severity)
    plan: list[tuple[timedelta, list[str]]]
    if severity in who.notify:  # may be empty: "console only"
        plan = [(timedelta(0), list(who.notify[severity]))]
    elif who.notification_rules.get(urgency):  # type: ignore[call-overload]
        plan = [(rule.after, rule.methods) for rule in who.notification_rules[urgency]]  # type: ignore[index]
    else:
        plan = [(timedelta(0), _default_methods(urgency=urgency))]
    steps: list[Step] = []
    for after, methods in plan:
        for method in methods:
            value = who.contact.address(method)
            if value:
                steps.append(Step(after, method, value))
    first = plan[0][0]
    steps.append(Step(first, "console", f"@{who.handle}"))
    return steps


def cancel_steps(
    session: Session, *, incident_id: int, now: datetime, reason: str, person: str | None = None
) -> int:
    """Pages of an incident still waiting for a later rule step are not sent: it was acknowledged,
    resolved, or (``person``) that person passed it on. Steps already due go out as they are."""
    table = MESSAGES
    conditions = [
        table.c.incident_id == incident_id,
        table.c.status == PENDING,
        table.c.due_at > now,
        table.c.key.like("page/%"),
    ]
    if person is not None:
        conditions.append(table.c.person == person)
    result = session.execute(
        update(table).where(*conditions).values(status=CANCELLED, last_error=reason[:500], claimed_by=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def destinations_for_team_channel(config: OpsConfig, team: str) -> list[Destination]:
    """Where a team's channel gets FYIs (``notify:`` targets): its Slack/webhook/email, and the console."""
    found = config.team(team)
    if found is None:
        raise NotFound(f"people.yaml has no team {team!r}")
    channel = found.channel
    if channel is None:
        return [("console", f"#{found.name}")]
    pairs = (("slack", channel.slack_webhook), ("email", channel.email), ("webhook", channel.webhook))
    result: list[Destination] = [(name, value) for name, value in pairs if value]
    result.append(("console", channel.name))
    return result


# ------------------------------------------------------------------ history, dead letters, retry


def messages_for_incident(session: Session, *, incident_id: int) -> list[OutgoingMessage]:
    """Every message about an incident, oldest first: who was paged when, on which channel, how it went."""
    rows = session.scalars(
        select(OutgoingMessage)
        .where(OutgoingMessage.incident_id == incident_id)
        .order_by(OutgoingMessage.created_at, OutgoingMessage.id)
    )
    return list(rows)


def list_messages(
    session: Session,
    *,
    status: str | None = None,
    incident_id: int | None = None,
    channel: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[OutgoingMessage]:
    """Newest first. ``status="failed"`` lists the dead letters."""
    query = select(OutgoingMessage)
    if status is not None:
        if status not in STATUS_FILTERS:
            raise ValidationFailed(f"status {status!r} is not one of {', '.join(STATUS_FILTERS)}")
        query = query.where(OutgoingMessage.status == (DEAD if status == "failed" else status))
    if channel is not None:
        if channel not in CHANNELS:
            raise ValidationFailed(f"channel {channel!r} is not one of {', '.join(CHANNELS)}")
        query = query.where(OutgoingMessage.channel == channel)
    if incident_id is not None:
        query = query.where(OutgoingMessage.incident_id == incident_id)
    if before_id is not None:
        query = query.where(OutgoingMessage.id < before_id)
    return list(session.scalars(query.order_by(OutgoingMessage.id.desc()).limit(max(1, min(limit, 1000)))))


def get_message(session: Session, *, message_id: int) -> OutgoingMessage:
    message = session.get(OutgoingMessage, message_id)
    if message is None:
        raise NotFound(f"no notification {message_id}")
    return message


def attempts_for(session: Session, *, message_ids: Sequence[int]) -> dict[int, list[OutgoingAttempt]]:
    """Attempts of several messages in one query, each list in the order they were made."""
    found: dict[int, list[OutgoingAttempt]] = {i: [] for i in message_ids}
    if message_ids:
        rows = session.scalars(
            select(OutgoingAttempt)
            .where(OutgoingAttempt.message_id.in_(message_ids))
            .order_by(OutgoingAttempt.message_id, OutgoingAttempt.id)
        )
        for row in rows:
            found[row.message_id].append(row)
    return found


def retry(session: Session, *, message_id: int, now: datetime, max_attempts: int) -> OutgoingMessage:
    """Send a dead letter again (or a waiting retry now), with a fresh budget of ``max_attempts``.

    A conditional UPDATE: if a sender claimed the message meanwhile, nothing changes and the
    caller hears Conflict.
    """
    message = get_message(session, message_id=message_id)
    if message.status not in (DEAD, PENDING):
        raise Conflict(
            f"notification {message_id} is {message.status}; only dead or waiting ones can be retried"
        )
    table = MESSAGES
    result = session.execute(
        update(table)
        .where(
            table.c.id == message_id,
            table.c.status == message.status,
            table.c.attempts == message.attempts,
        )
        .values(
            status=PENDING,
            next_attempt_at=now,
            attempt_limit=message.attempts + max_attempts,
            claimed_by=None,
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise Conflict(f"notification {message_id} changed while being retried; look again and retry")
    session.refresh(message)
    return message
