"""The atomic statements behind "one open alert per (integration, dedup key)" — no read-then-write.

A trigger first tries ``UPDATE … SET count = count + 1 … WHERE open_dedup_key = :key RETURNING``
(the common case, a repeat: one statement). When no open alert exists it inserts one with
``INSERT … ON CONFLICT DO NOTHING RETURNING id``; if a concurrent first trigger won the insert,
nothing is inserted and the caller bumps the winner instead. Resolving clears
``open_dedup_key`` in the same statement that sets the status, so the next trigger opens a
new alert. Each function is one statement, or two on a lost race.

These run on every event, so they are written out as SQL for each dialect and executed on the
session's own DBAPI connection (same transaction): building them with SQLAlchemy costs ~10×
more CPU than running them. Values are bound as the ORM stores them (SQLite: naive-UTC
timestamp text and JSON text; PostgreSQL: timestamptz and jsonb), so the models read them back.

The group committer also bumps a whole batch's repeats up front (:func:`bump_repeats`: one
statement for every request of the batch) and the per-event :func:`bump` calls that follow take
their result from it — see that function for why this is the same as bumping one by one.

Every function takes the dedup key as the source sent it and matches :func:`stored_key` of it:
a key holding a secret is stored redacted, yet still finds its alert (and two keys that differ
only in the secret stay two alerts). A new alert's values are redacted as the alert table's
column types would (:func:`commandpost.security.stored.redact_row`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Table, insert, update
from sqlalchemy.orm import Session

from commandpost.alerts.models import Alert, AlertEvent
from commandpost.db.upsert import insert_for
from commandpost.security import stored

_event: Table = AlertEvent.__table__  # type: ignore[assignment]
_alert: Table = Alert.__table__  # type: ignore[assignment]
# A dedup key as the alert table stores and matches it: as it came, or — when it holds a secret —
# redacted and followed by a digest of the original (security.stored). These statements bypass
# SQLAlchemy's binding, so they apply the column's own function: the same key, the same row.
stored_key = stored.processor(_alert.c.open_dedup_key)

_RETURNING = "RETURNING id, count, incident_id, incident_number, summary"
_PREBUMPED = "alerts.prebumped"
_OPEN = "WHERE integration_id = {p} AND open_dedup_key = {p}"
_JSON_COLUMNS = frozenset({"labels", "annotations", "details", "links", "raw"})
_TIME_COLUMNS = frozenset(
    {
        "starts_at",
        "ends_at",
        "first_seen_at",
        "last_seen_at",
        "acknowledged_at",
        "resolved_at",
        "notify_after",
    }
)
INSERT_COLUMNS = (
    "integration_id",
    "integration",
    "service",
    "source",
    "dedup_key",
    "open_dedup_key",
    "status",
    "severity",
    "paging",
    "outcome",
    "rule",
    "source_severity",
    "alertname",
    "summary",
    "origin",
    "group_key",
    "runbook",
    "no_runbook",
    "labels",
    "annotations",
    "details",
    "links",
    "raw",
    "count",
    "starts_at",
    "ends_at",
    "first_seen_at",
    "last_seen_at",
    "notify_after",
)


@dataclass(slots=True)
class OpenAlert:
    """What a statement on an open alert hands back, without loading the row (not frozen: a frozen
    dataclass costs several times more to build, and one is built per event)."""

    id: int
    count: int
    incident_id: int | None
    incident_number: int | None
    summary: str


class _Sql:
    """The statements in one dialect's parameter style, and its way of binding times and JSON."""

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"
        p = "?" if self.sqlite else "%s"
        where = _OPEN.format(p=p)
        self.bump = f"UPDATE alert SET count = count + 1, last_seen_at = {p} {where} {_RETURNING}"
        self.acknowledge = (
            f"UPDATE alert SET status = 'acknowledged', acknowledged_at = COALESCE(acknowledged_at, {p}) "
            f"{where} {_RETURNING}"
        )
        self.resolve = (
            f"UPDATE alert SET status = 'resolved', open_dedup_key = NULL, resolved_at = {p}, ends_at = {p}, "
            f"last_seen_at = {p} {where} {_RETURNING}"
        )
        columns = "open_dedup_key, id, count, incident_id, incident_number, summary"
        self.bump_many = (
            f"UPDATE alert SET count = count + 1, last_seen_at = {p} WHERE integration_id = {p} AND "
            + ("open_dedup_key IN ({keys})" if self.sqlite else "open_dedup_key = ANY(%s)")
            + f" RETURNING {columns}"
        )
        returning = (
            "RETURNING alert.integration_id, alert.open_dedup_key, alert.id, alert.count, "
            "alert.incident_id, alert.incident_number, alert.summary"
        )
        self.bump_repeats = (
            (
                "UPDATE alert SET count = count + j.n, last_seen_at = j.t FROM (SELECT "
                "json_extract(value, '$[0]') AS i, json_extract(value, '$[1]') AS k, "
                "json_extract(value, '$[2]') AS n, json_extract(value, '$[3]') AS t FROM json_each(?)) AS j "
            )
            if self.sqlite
            else (
                "UPDATE alert SET count = alert.count + j.n, last_seen_at = j.t "
                "FROM unnest(%s::int[], %s::text[], %s::int[], %s::timestamptz[]) AS j(i, k, n, t) "
            )
        ) + f"WHERE alert.integration_id = j.i AND alert.open_dedup_key = j.k {returning}"
        self.link = f"UPDATE alert SET incident_id = {p}, incident_number = {p}, outcome = {p} WHERE id = {p}"
        marks = ", ".join(
            f"{p}::jsonb" if not self.sqlite and c in _JSON_COLUMNS else p for c in INSERT_COLUMNS
        )
        self.insert = (
            f"INSERT INTO alert ({', '.join(INSERT_COLUMNS)}) VALUES ({marks}) "
            "ON CONFLICT (integration_id, open_dedup_key) DO NOTHING RETURNING id"
        )

    def time(self, value: datetime | None) -> Any:
        if value is None or not self.sqlite:
            return value
        return _sqlite_time(value)

    def row(self, values: dict[str, Any]) -> tuple[Any, ...]:
        out = []
        for column in INSERT_COLUMNS:
            value = values.get(column)
            if column in _JSON_COLUMNS:
                value = orjson.dumps(value).decode()
            elif column in _TIME_COLUMNS:
                value = self.time(value)
            out.append(value)
        return tuple(out)


@lru_cache(maxsize=256)
def _sqlite_time(value: datetime) -> str:
    """How SQLAlchemy stores a UTCDateTime in SQLite (the events of one request share ``now``)."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


_DIALECTS: dict[str, _Sql] = {}


_PINNED = "alerts.dbapi"


def _sql(session: Session) -> _Sql:
    pin = session.info.get(_PINNED)
    if pin is not None:
        return pin[1]
    name = session.get_bind().dialect.name
    found = _DIALECTS.get(name)
    if found is None:
        found = _DIALECTS[name] = _Sql(name)
    return found


@contextmanager
def pinned(session: Session) -> Iterator[None]:
    """Within this block (one transaction), statements skip SQLAlchemy's per-call connection lookup:
    the session's DBAPI connection is looked up once. The group committer wraps each batch in it."""
    session.info[_PINNED] = (session.connection().connection, _sql(session))
    try:
        yield
    finally:
        session.info.pop(_PINNED, None)
        left = session.info.pop(_PREBUMPED, None)
    if left and any(entry[2] for entry in left.values()):  # counted up front, taken by no event
        keys = sorted(k for k, entry in left.items() if entry[2])
        raise RuntimeError(f"repeats bumped up front but not ingested: {keys}")


def _cursor(session: Session) -> Any:
    """A DBAPI cursor on the session's connection, in its transaction."""
    session.flush()  # pending ORM changes must be visible to the raw statement (a no-op when clean)
    pin = session.info.get(_PINNED)
    return (pin[0] if pin is not None else session.connection().connection).cursor()


def _run(session: Session, statement: str, params: tuple[Any, ...]) -> Any:
    """One statement; the first row it returned (None: none, or it returns nothing)."""
    cursor = _cursor(session)
    try:
        cursor.execute(statement, params)
        return cursor.fetchone() if cursor.description else None
    finally:
        cursor.close()


def _run_all(session: Session, statement: str, params: tuple[Any, ...]) -> list[Any]:
    cursor = _cursor(session)
    try:
        cursor.execute(statement, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _open(row: Any) -> OpenAlert | None:
    return OpenAlert(row[0], row[1], row[2], row[3], row[4]) if row is not None else None


def bump_repeats(session: Session, *, triggers: Sequence[tuple[int, str, int, datetime]]) -> None:
    """Bump ahead, in one statement, the open alerts that this transaction's triggers will repeat.

    ``triggers``: (integration id, dedup key, how many triggers, the last one's ``now``) for keys
    that only plain triggers touch in the transaction (no acknowledge, resolve or self-named
    delivery: those must see the alert in order). Each such open alert gets count + n and the
    last ``now`` — what n bumps in a row leave — and the next n :func:`bump` calls for its key
    in this :func:`pinned` block take the counts c+1 … c+n in turn instead of a statement each.
    Nothing else in the transaction touches those rows, so the order does not show; a key with
    no open alert is left alone (its first trigger opens one as usual). Distinct keys only.
    """
    if not triggers:
        return
    sql = _sql(session)
    rows = [(i, stored_key(k), n, t) for i, k, n, t in triggers]
    if sql.sqlite:  # one writer at a time: the order of the rows does not matter
        params: tuple[Any, ...] = (orjson.dumps([(i, k, n, sql.time(t)) for i, k, n, t in rows]).decode(),)
    else:
        rows.sort()  # one lock order among concurrent writers
        params = tuple(list(column) for column in zip(*rows, strict=True))
    wanted = {(i, k): n for i, k, n, _t in rows}
    prebumped = session.info.setdefault(_PREBUMPED, {})
    for row in _run_all(session, sql.bump_repeats, params):
        key = (row[0], row[1])
        n = wanted[key]
        # [the alert after the last bump, the count the next bump call reports, calls left]
        prebumped[key] = [OpenAlert(*row[2:]), row[3] - n + 1, n]


def _prebumped(session: Session, integration_id: int, key: str) -> OpenAlert | None:
    """The next of the counts :func:`bump_repeats` took for this (stored) key, if any are left."""
    queued = session.info.get(_PREBUMPED)
    if not queued:
        return None
    entry = queued.get((integration_id, key))
    if entry is None or not entry[2]:
        return None
    alert, count, _left = entry
    entry[1] += 1
    entry[2] -= 1
    if count == alert.count:
        return alert
    return OpenAlert(alert.id, count, alert.incident_id, alert.incident_number, alert.summary)


def bump(session: Session, *, integration_id: int, dedup_key: str, now: datetime) -> OpenAlert | None:
    """A repeat: count + 1 and last_seen_at on the open alert with this key (None: there is none)."""
    key = stored_key(dedup_key)
    done = _prebumped(session, integration_id, key)
    if done is not None:
        return done
    sql = _sql(session)
    return _open(_run(session, sql.bump, (sql.time(now), integration_id, key)))


def bump_many(
    session: Session, *, integration_id: int, dedup_keys: list[str], now: datetime
) -> dict[str, OpenAlert]:
    """:func:`bump` for many distinct keys in one statement: key → the open alert it bumped."""
    keys = {stored_key(k): k for k in dedup_keys}  # stored form → as sent (distinct either way)
    done = {}
    for key, sent in keys.items():
        hit = _prebumped(session, integration_id, key)
        if hit is not None:
            done[sent] = hit
    wanted = [k for k, sent in keys.items() if sent not in done] if done else list(keys)
    if not wanted:
        return done
    sql = _sql(session)
    if sql.sqlite:
        statement = sql.bump_many.format(keys=", ".join("?" * len(wanted)))
        params: tuple[Any, ...] = (sql.time(now), integration_id, *wanted)
    else:
        statement, params = sql.bump_many, (now, integration_id, wanted)
    done.update((keys[row[0]], OpenAlert(*row[1:])) for row in _run_all(session, statement, params))
    return done


def insert_open(session: Session, *, values: dict[str, Any]) -> int | None:
    """Open a new alert; None when an open alert with this (integration, dedup key) already exists.
    ``values`` as the caller has them: redacted here as the alert table stores them."""
    sql = _sql(session)
    row = _run(
        session,
        sql.insert,
        sql.row(stored.redact_row(_alert, {**values, "open_dedup_key": values["dedup_key"]})),
    )
    return int(row[0]) if row is not None else None


def link_incident(session: Session, *, alert_id: int, incident_id: int, number: int, outcome: str) -> None:
    _run(session, _sql(session).link, (incident_id, number, outcome, alert_id))


def acknowledge(session: Session, *, integration_id: int, dedup_key: str, now: datetime) -> OpenAlert | None:
    sql = _sql(session)
    return _open(_run(session, sql.acknowledge, (sql.time(now), integration_id, stored_key(dedup_key))))


def resolve(
    session: Session, *, integration_id: int, dedup_key: str, now: datetime, ends_at: datetime | None
) -> OpenAlert | None:
    """Close the open alert with this key (None: there is none); a later trigger opens a new one."""
    sql = _sql(session)
    at = sql.time(now)
    key = stored_key(dedup_key)
    return _open(_run(session, sql.resolve, (at, sql.time(ends_at or now), at, integration_id, key)))


def claim_delivery(session: Session, *, values: dict[str, Any]) -> int | None:
    """Record a delivery that names itself; None when that (integration, idempotency key) was seen."""
    stmt = insert_for(session, _event).values(**values).on_conflict_do_nothing().returning(_event.c.id)
    row = session.execute(stmt).first()
    return int(row[0]) if row is not None else None


def record_event(session: Session, *, values: dict[str, Any]) -> int:
    return int(session.execute(insert(_event).values(**values).returning(_event.c.id)).scalar_one())


def finish_event(session: Session, *, event_id: int, **values: Any) -> None:
    session.execute(update(_event).where(_event.c.id == event_id).values(**values))
