"""The atomic statements behind "one open alert per (integration, dedup key)" — no read-then-write.

A trigger first tries ``UPDATE … SET count = count + 1 … WHERE open_dedup_key = :key RETURNING``
(the common case, a repeat: one statement). When no open alert exists it inserts one with
``INSERT … ON CONFLICT DO NOTHING RETURNING id``; if a concurrent first trigger won the insert,
nothing is inserted and the caller bumps the winner instead. Resolving clears
``open_dedup_key`` in the same statement that sets the status, so the next trigger opens a
new alert. Each function is one statement, or two on a lost race.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from commandpost.alerts.models import Alert, AlertEvent

_alert = cast(Table, Alert.__table__)
_event = cast(Table, AlertEvent.__table__)
_c = _alert.c


@dataclass(frozen=True)
class OpenAlert:
    """What a statement on an open alert hands back, without loading the row."""

    id: int
    count: int
    incident_id: int | None
    incident_number: int | None
    summary: str


_RETURNING = (_c.id, _c.count, _c.incident_id, _c.incident_number, _c.summary)


def _open(row: Any) -> OpenAlert | None:
    return OpenAlert(row[0], row[1], row[2], row[3], row[4]) if row is not None else None


def _key(integration_id: int, dedup_key: str) -> Any:
    return (_c.integration_id == integration_id) & (_c.open_dedup_key == dedup_key)


def bump(session: Session, integration_id: int, dedup_key: str, now: datetime) -> OpenAlert | None:
    """A repeat: count + 1 and last_seen_at on the open alert with this key (None: there is none)."""
    stmt = (
        update(_alert)
        .where(_key(integration_id, dedup_key))
        .values(count=_c.count + 1, last_seen_at=now)
        .returning(*_RETURNING)
    )
    return _open(session.execute(stmt).first())


def _insert_ignoring_conflicts(session: Session, table: Any, values: dict[str, Any]) -> Any:
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table).values(**values).on_conflict_do_nothing().returning(table.c.id)


def insert_open(session: Session, values: dict[str, Any]) -> int | None:
    """Open a new alert; None when an open alert with this (integration, dedup key) already exists."""
    values = {**values, "open_dedup_key": values["dedup_key"]}
    row = session.execute(_insert_ignoring_conflicts(session, _alert, values)).first()
    return int(row[0]) if row is not None else None


def link_incident(session: Session, alert_id: int, incident_id: int, number: int, outcome: str) -> None:
    session.execute(
        update(_alert)
        .where(_c.id == alert_id)
        .values(incident_id=incident_id, incident_number=number, outcome=outcome)
    )


def acknowledge(session: Session, integration_id: int, dedup_key: str, now: datetime) -> OpenAlert | None:
    stmt = (
        update(_alert)
        .where(_key(integration_id, dedup_key))
        .values(status="acknowledged", acknowledged_at=func.coalesce(_c.acknowledged_at, now))
        .returning(*_RETURNING)
    )
    return _open(session.execute(stmt).first())


def resolve(
    session: Session, integration_id: int, dedup_key: str, now: datetime, ends_at: datetime | None
) -> OpenAlert | None:
    """Close the open alert with this key (None: there is none); a later trigger opens a new one."""
    stmt = (
        update(_alert)
        .where(_key(integration_id, dedup_key))
        .values(
            status="resolved",
            open_dedup_key=None,
            resolved_at=now,
            ends_at=ends_at or now,
            last_seen_at=now,
        )
        .returning(*_RETURNING)
    )
    return _open(session.execute(stmt).first())


def claim_delivery(session: Session, values: dict[str, Any]) -> int | None:
    """Record a delivery that names itself; None when that (integration, idempotency key) was seen."""
    row = session.execute(_insert_ignoring_conflicts(session, _event, values)).first()
    return int(row[0]) if row is not None else None


def record_event(session: Session, values: dict[str, Any]) -> int:
    return int(session.execute(insert(_event).values(**values).returning(_event.c.id)).scalar_one())


def finish_event(session: Session, event_id: int, **values: Any) -> None:
    session.execute(update(_event).where(_event.c.id == event_id).values(**values))
