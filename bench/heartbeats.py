"""Heartbeats: 10,000 of them at 1-minute intervals — what they cost the engine's pass, their pings,
and a storm of misses — on SQLite and PostgreSQL.

In-process, on the real code: a fresh migrated database, examples/ops applied, then 10,000 heartbeats
(each with its own key, every 1m, no grace) seeded by bulk SQL with their due times spread over the
next minute, as steady pings leave them. Three figures per database:

- **idle pass**: the engine processor ``alerts.heartbeats`` as the runner calls it in every pass
  (``has_work``, and ``next_due`` for the runner's sleep) with none due — what 10,000 heartbeats add
  to each pass. The index answers both from its first entry.
- **pings**: ``heartbeats.ping`` transactions, one heartbeat after another, as 10,000 pings a minute
  (167/s) would arrive; one writer keeps up while a ping takes at most 6 ms.
- **misses**: 1,000 heartbeats due at once (a fleet's cron host down), decided by the processor's
  passes: each raises ``HeartbeatMissed`` through the alert intake (SEV3 in examples/ops: an alert
  each, the team channel told, no incident).

    .venv/bin/python -m bench heartbeats
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from bench import ingest
from commandpost import wiring
from commandpost.alerts import heartbeats
from commandpost.alerts.models import Alert, Heartbeat
from commandpost.alerts.processors import HeartbeatsDue
from commandpost.db.engine import create_db_engine, make_session_factory, transaction
from commandpost.policy import service as policy_service
from commandpost.policy.models import IntegrationKey
from commandpost.settings import Settings

Row = tuple[str, str, str, bool]
COUNT = 10_000
PINGS = 2_000
MISSES = 1_000
IDLE_RATIO = 1.5
"""The idle pass with 10,000 heartbeats against the same with one: an index's first entry costs the
same however long the index (a scan would grow 10,000-fold)."""
PING_TARGET_MS = 6.0
"""10,000 pings a minute are 167 a second: one writer keeps up while a ping takes at most 6 ms."""
MISS_TARGET_S = 10.0

NOTES = f"""\
{COUNT:,} heartbeats at 1-minute intervals, seeded in bulk with due times spread over the next minute
(in-process, real code, a fresh database each; the machine is shared with other work, so figures vary
up to threefold between runs, PostgreSQL's round trips most).

**idle pass**: the processor's ``has_work`` + ``next_due`` with none due, median of 500 in a read-only
transaction each, as the runner looks — with 10,000 heartbeats and, before they were seeded, with one.
Both read the first entry of ``ix_heartbeat_due_at``, so the figure does not grow with the number of
heartbeats: the target is the ratio; the milliseconds are the transaction's round trips, which every
processor's look pays (on PostgreSQL the runner skips ``has_work`` and runs the processor's claim).

**pings**: {PINGS:,} ``heartbeats.ping`` transactions one after another, wall time each; 10,000 a minute
are 167 a second, which one writer (SQLite's) keeps up with while a ping takes at most 6 ms
(PostgreSQL takes concurrent pings in parallel).

**misses**: {MISSES:,} heartbeats due at once, decided by the processor's passes (200 a pass), each
through the alert intake (an alert; the example's SEV3 opens no incident).
"""


def _seed(url: str, now: datetime) -> None:
    engine = create_db_engine(url)
    sessions = make_session_factory(engine)
    with transaction(sessions) as s:
        ids = (
            s.execute(
                insert(IntegrationKey).returning(IntegrationKey.id),
                [
                    {
                        "name": f"bench-beat-{i}",
                        "service": "payment-platform",
                        "source": "heartbeat",
                        "key": f"{i:032x}",
                        "created_at": now,
                        "rotated_at": None,
                        "active": True,
                    }
                    for i in range(COUNT)
                ],
            )
            .scalars()
            .all()
        )
        s.execute(
            insert(Heartbeat),
            [
                {
                    "integration_id": key_id,
                    "name": f"bench-beat-{i}",
                    "service": "payment-platform",
                    "interval_seconds": 60,
                    "grace_seconds": 0,
                    "due_at": now + timedelta(seconds=1 + 59 * i / COUNT),
                    "last_ping_at": None,
                    "missed_at": None,
                    "created_at": now,
                }
                for i, key_id in enumerate(ids)
            ],
        )
    engine.dispose()


def _idle(read: Any, processor: HeartbeatsDue, now: datetime) -> float:
    """The median of 500 idle looks, as the runner takes them (a read-only transaction each)."""
    idle = []
    for _ in range(500):
        started = time.perf_counter()
        with read() as s:
            assert not processor.has_work(s, now)
            processor.next_due(s, now)
        idle.append(time.perf_counter() - started)
    return statistics.median(idle)


def _measure(kind: str) -> dict[str, Any] | None:
    with ingest.database(kind) as url:
        if url is None:
            return None
        wiring.wire(Settings(database_url=url, engine_enabled=False))
        now = datetime.now(UTC).replace(microsecond=0)
        engine = create_db_engine(url)
        sessions = make_session_factory(engine)
        read = make_session_factory(engine, read_only=True)
        processor = HeartbeatsDue()
        with transaction(sessions) as s:  # examples/ops' own heartbeat, due in a day: out of the way
            policy_service.apply_folder(s, path=ingest.EXAMPLE_OPS, now=now, actor="bench")
        one = _idle(read, processor, now)
        _seed(url, now)
        idle = _idle(read, processor, now)
        with read() as s:
            key_ids = list(s.scalars(select(Heartbeat.integration_id).order_by(Heartbeat.id).limit(PINGS)))
        pings = []
        for key_id in key_ids:
            started = time.perf_counter()
            with transaction(sessions) as s:
                assert heartbeats.ping(s, integration_id=key_id, now=now) is not None
            pings.append(time.perf_counter() - started)
        with transaction(sessions) as s:  # a cron host down: MISSES of them fall due at once
            ids = list(s.scalars(select(Heartbeat.id).order_by(Heartbeat.id.desc()).limit(MISSES)))
            s.execute(
                update(Heartbeat).where(Heartbeat.id.in_(ids)).values(due_at=now - timedelta(seconds=1))
            )
        started = time.perf_counter()
        passes = decided = 0
        while True:
            with transaction(sessions) as s:
                done = processor.run(s, now)
            passes += 1
            decided += done
            if not done:
                break
        storm = time.perf_counter() - started
        with read() as s:
            alerts = len(list(s.scalars(select(Alert.id).where(Alert.alertname == heartbeats.ALERTNAME))))
        engine.dispose()
        return {
            "idle_ms": idle * 1000,
            "idle_one_ms": one * 1000,
            "ping_ms": statistics.mean(pings) * 1000,
            "ping_p99_ms": sorted(pings)[int(len(pings) * 0.99)] * 1000,
            "storm_s": storm,
            "passes": passes - 1,
            "decided": decided,
            "alerts": alerts,
        }


def run() -> list[Row]:
    rows: list[Row] = []
    for kind, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        if kind not in ingest.BACKENDS:
            continue
        got = _measure(kind)
        if got is None:
            rows.append((f"heartbeats ({label})", "", "no database", False))
            continue
        rows += [
            (
                f"idle engine pass cost of {COUNT:,} heartbeats ({label})",
                f"≤ {IDLE_RATIO:g} × one heartbeat's",
                f"{got['idle_ms']:.2f} ms (one heartbeat: {got['idle_one_ms']:.2f} ms)",
                got["idle_ms"] <= IDLE_RATIO * got["idle_one_ms"],
            ),
            (
                f"ping, {COUNT:,} heartbeats at 1/min ({label})",
                f"mean ≤ {PING_TARGET_MS:g} ms",
                f"mean {got['ping_ms']:.2f} ms, p99 {got['ping_p99_ms']:.2f} ms",
                got["ping_ms"] <= PING_TARGET_MS,
            ),
            (
                f"{MISSES:,} misses at once decided ({label})",
                f"≤ {MISS_TARGET_S:g} s, one alert each",
                f"{got['storm_s']:.2f} s in {got['passes']} passes, {got['alerts']:,} alerts",
                got["storm_s"] <= MISS_TARGET_S and got["alerts"] == MISSES == got["decided"],
            ),
        ]
    return rows


if __name__ == "__main__":
    for row in run():
        print(" | ".join(str(c) for c in row))
