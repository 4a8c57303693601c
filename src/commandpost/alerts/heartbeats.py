"""Heartbeats: the silence that should page (guide §5-2, "a human noticed" is a detection failure).

A service declares ``heartbeats:`` in ops; ``apply`` gives each an integration key (source
``heartbeat``) and :func:`sync` a ``heartbeat`` row due at apply + interval + grace. A job pings
``/api/v1/heartbeats/{key}`` (:func:`ping`): the row is due again one interval + grace later. When
the engine finds a row due (:func:`due`, then :func:`miss`), it raises ``HeartbeatMissed`` through
:func:`commandpost.alerts.service.ingest`, the path every alert source takes — the service's alert
rules, dedup, incidents and paging all apply — and clears ``due_at`` until the next ping, which
resolves the alert. The heartbeat's severity and runbook are the service's defaults for it, so an
alert rule matching ``alertname: HeartbeatMissed`` still wins.

A miss is taken with a conditional UPDATE on the due time read, and rows are claimed ``FOR UPDATE
SKIP LOCKED`` (PostgreSQL replicas take disjoint rows); a ping locks its row, so a ping and a miss
of the same instant are ordered: a ping first pushes ``due_at`` past now and the miss finds nothing;
a miss first is resolved by the ping.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from commandpost.alerts import service as alerts_service
from commandpost.alerts.models import Heartbeat
from commandpost.alerts.normalized import NormalizedEvent
from commandpost.policy import service as policy_service
from commandpost.policy.durations import format_duration
from commandpost.policy.models import IntegrationKey
from commandpost.policy.opsfiles import OpsConfig, Service

ALERTNAME = "HeartbeatMissed"
SOURCE = policy_service.HEARTBEAT


@dataclass(frozen=True)
class Pinged:
    """What a ping did: the heartbeat's name, its next due time, whether it resolved a miss."""

    name: str
    due_at: datetime
    resolved: bool


def _every(row: Heartbeat) -> timedelta:
    return timedelta(seconds=row.interval_seconds + row.grace_seconds)


# ---------------------------------------------------------------- apply


def sync(session: Session, config: OpsConfig, now: datetime) -> list[str]:
    """Bring the heartbeat rows in line with ``config`` (the ``ops_applied`` seam, after the keys).

    A new heartbeat is due at ``now`` + interval + grace; a changed interval or grace moves the due
    time of a waiting one (from its last ping, else from when it was declared); a heartbeat removed
    from ops is deleted, and a miss of it still open is resolved — nothing will ping it again."""
    keys = {
        row.name: row
        for row in session.scalars(
            select(IntegrationKey).where(IntegrationKey.source == SOURCE, IntegrationKey.active.is_(True))
        )
    }
    rows = {row.name: row for row in session.scalars(select(Heartbeat))}
    changes: list[str] = []
    for service, beat in config.heartbeats():
        key = keys[beat.name]  # made by policy.service._sync_integration_keys in this transaction
        interval, grace = int(beat.interval.total_seconds()), int(beat.grace.total_seconds())
        row = rows.pop(beat.name, None)
        if row is None:
            due = now + beat.interval + beat.grace
            session.add(
                Heartbeat(
                    integration_id=key.id,
                    name=beat.name,
                    service=service.name,
                    interval_seconds=interval,
                    grace_seconds=grace,
                    due_at=due,
                    last_ping_at=None,
                    missed_at=None,
                    created_at=now,
                )
            )
            changes.append(f"heartbeat {beat.name}: expecting a ping every {format_duration(beat.interval)}")
            continue
        if (row.integration_id, row.service, row.interval_seconds, row.grace_seconds) == (
            key.id,
            service.name,
            interval,
            grace,
        ):
            continue
        row.integration_id, row.service = key.id, service.name
        row.interval_seconds, row.grace_seconds = interval, grace
        if row.due_at is not None:
            row.due_at = (row.last_ping_at or row.created_at) + _every(row)
        changes.append(f"heartbeat {beat.name}: every {format_duration(beat.interval)} from now on")
    for name, row in rows.items():
        if row.missed_at is not None:
            _raise(session, config, row, "resolve", now)
        session.delete(row)
        changes.append(f"heartbeat {name}: removed (no longer in ops)")
    session.flush()
    return changes


# ---------------------------------------------------------------- ping


def ping(session: Session, *, integration_id: int, now: datetime) -> Pinged | None:
    """A ping of the heartbeat with this integration key: due again one interval + grace from now; a
    miss is resolved. None: no heartbeat has the key (removed from ops since it was looked up)."""
    row = session.scalars(
        select(Heartbeat)
        .where(Heartbeat.integration_id == integration_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if row is None:
        return None
    missed = row.missed_at is not None
    row.last_ping_at = now
    row.due_at = now + _every(row)
    row.missed_at = None
    session.flush()
    if missed:
        _raise(session, policy_service.current_config(session), row, "resolve", now)
    return Pinged(row.name, row.due_at, missed)


# ---------------------------------------------------------------- the engine's side


def due(session: Session, *, now: datetime, limit: int) -> list[Heartbeat]:
    """Up to ``limit`` heartbeats due by ``now``, earliest first, read through ``ix_heartbeat_due_at``
    and claimed (``SKIP LOCKED``: another replica's, or a ping's, rows are left to them)."""
    return list(
        session.scalars(
            select(Heartbeat)
            .where(Heartbeat.due_at <= now)
            .order_by(Heartbeat.due_at, Heartbeat.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
    )


_FIRST_DUE = select(Heartbeat.due_at).where(Heartbeat.due_at.is_not(None)).order_by(Heartbeat.due_at).limit(1)
"""Built once: the engine asks every pass, twice (``has_work``, ``next_due``), and building it (and its
cache key) cost more than running it."""


def next_due(session: Session) -> datetime | None:
    """The earliest due time (the index's first entry), or None."""
    first: datetime | None = session.scalar(_FIRST_DUE)
    return first


def miss(session: Session, config: OpsConfig, row: Heartbeat, now: datetime) -> bool:
    """Raise ``HeartbeatMissed`` for a row found due, once: False when a ping or another replica
    decided it first (the due time read is no longer the row's)."""
    was = row.due_at
    taken = session.execute(
        update(Heartbeat)
        .where(Heartbeat.id == row.id, Heartbeat.due_at == was)
        .values(due_at=None, missed_at=now)
        .execution_options(synchronize_session=False)
    )
    if not taken.rowcount:  # type: ignore[attr-defined]
        return False
    _raise(session, config, row, "trigger", now, expected=was)
    return True


def _raise(
    session: Session,
    config: OpsConfig,
    row: Heartbeat,
    action: str,
    now: datetime,
    *,
    expected: datetime | None = None,
) -> None:
    integration = alerts_service.IntegrationRef(
        id=row.integration_id, name=row.name, service=row.service, source=SOURCE
    )
    every, grace = timedelta(seconds=row.interval_seconds), timedelta(seconds=row.grace_seconds)
    last = row.last_ping_at.isoformat() if row.last_ping_at else None
    summary = (
        f"Heartbeat {row.name} missed: no ping for {format_duration(every + grace)} "
        f"(every {format_duration(every)}, grace {format_duration(grace)}); "
        + (f"last ping {last}" if last else "no ping since it was declared")
    )
    event = NormalizedEvent(
        action="trigger" if action == "trigger" else "resolve",
        dedup_key=f"heartbeat/{row.name}",
        alertname=ALERTNAME,
        summary=summary,
        source="commandpost heartbeats",
        labels={"heartbeat": row.name, "service": row.service},
        details={
            "heartbeat": row.name,
            "interval": format_duration(every),
            "grace": format_duration(grace),
            "last_ping_at": last,
        },
        starts_at=expected - grace if expected else None,
        ends_at=now if action == "resolve" else None,
        group_key=f"heartbeat={row.name}",
    )
    alerts_service.ingest(
        session,
        integration=integration,
        events=[event],
        now=now,
        config=config,
        routed_as=_routed_as(config, row),
    )


def _routed_as(config: OpsConfig, row: Heartbeat) -> Service | None:
    """The service with the heartbeat's severity and runbook as its defaults for this alert."""
    service = config.service(row.service)
    beat = next((b for s, b in config.heartbeats() if b.name == row.name), None)
    if service is None or beat is None:
        return service
    return service.model_copy(
        update={
            "default_severity": beat.severity or service.default_severity,
            "default_runbook": beat.runbook or service.default_runbook,
        }
    )
