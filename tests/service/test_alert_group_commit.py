"""The group committer on a real database (SQLite and PostgreSQL): a batch of requests gives what the
same requests one by one give, and a request waiting for the database never stalls the event loop."""

from __future__ import annotations

import asyncio
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select, text

from commandpost.alerts import service
from commandpost.alerts.intake.committer import GroupCommitter
from commandpost.alerts.models import Alert
from commandpost.alerts.normalized import NormalizedEvent
from commandpost.db import sqlite_writer
from commandpost.db.engine import create_db_engine, make_session_factory
from commandpost.incidents.models import Incident, TimelineEntry
from commandpost.policy import service as policy_service
from tests.alert_support import EXAMPLE_OPS, keys

DB_ALERT = {"alertname": "DBConnectionsExhausted", "summary": "DB connections exhausted"}


def trig(key: str, **fields) -> NormalizedEvent:
    return NormalizedEvent(action="trigger", dedup_key=key, **{"summary": "queue depth", **fields})


def resolve(key: str) -> NormalizedEvent:
    return NormalizedEvent(action="resolve", dedup_key=key)


def run_in_own_loop(coro):
    """``asyncio.run`` on a thread of its own: earlier tests in the session (Playwright's sync API)
    can leave an event loop marked running on the main thread, where asyncio.run refuses to start."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def together(committer, ref, clock, requests):
    """Submit every request in the same event-loop turn (one batch where the committer can)."""

    async def run():
        return await asyncio.gather(
            *(committer.submit(ref, events, body=None, now=clock.now()) for events in requests)
        )

    return run_in_own_loop(run())


def test_a_batch_counts_repeats_in_order_and_keeps_resolves_in_their_place(
    sessions, clock, applied_ops, session
):
    with sessions() as s:
        ref = service.integration_for_key(s, key=keys(sessions)["pagerduty"])
    committer = GroupCommitter(sessions)
    (opened,), (other,) = together(committer, ref, clock, [[trig("db", **DB_ALERT)], [trig("q")]])
    assert opened.outcome == "incident_opened" and other.count == 1
    clock.advance(seconds=5)

    requests = [[trig("db", **DB_ALERT)] for _ in range(11)]  # counts 2 … 12: the 10th is a milestone
    requests[4] = [trig("q"), trig("db", **DB_ALERT), trig("new")]  # one request, three keys
    requests += [[resolve("q")], [trig("q")]]  # a resolve in the batch: the trigger after it opens anew
    outcomes = together(committer, ref, clock, requests)
    committer.close()

    db = [o for out in outcomes for o in out if o.dedup_key == "db"]
    assert [o.count for o in db] == list(range(2, 13))
    assert {(o.outcome, o.incident, o.alert_id) for o in db} == {("deduplicated", 1, opened.alert_id)}
    q = [o for out in outcomes for o in out if o.dedup_key == "q"]
    assert [(o.outcome, o.count) for o in q[:2]] == [("deduplicated", 2), ("resolved", 2)]
    assert q[2].count == 1 and q[2].alert_id not in (other.alert_id, None)
    assert outcomes[4][2].count == 1  # "new" opened by the request that carried it

    session.rollback()
    alert = session.get(Alert, opened.alert_id)
    assert (alert.count, alert.last_seen_at) == (12, clock.now())
    incident = session.scalars(select(Incident).where(Incident.number == 1)).one()
    entries = session.scalars(
        select(TimelineEntry.text).where(
            TimelineEntry.incident_id == incident.id, TimelineEntry.kind == "alert"
        )
    ).all()
    assert [e for e in entries if "repeated" in e] == ["alert repeated ×10: DB connections exhausted"]
    assert session.get(Alert, other.alert_id).status == "resolved"


def test_a_request_waiting_for_the_database_leaves_the_event_loop_free(
    sessions, clock, applied_ops, engine, session
):
    with sessions() as s:
        ref = service.integration_for_key(s, key=keys(sessions)["pagerduty"])
    committer = GroupCommitter(sessions)
    ((first,),) = together(committer, ref, clock, [[trig("db")]])

    async def run():
        with engine.connect() as other:  # another writer holds what the repeat needs
            if engine.dialect.name == "sqlite":
                other.exec_driver_sql("SELECT 1")  # the engine begins IMMEDIATE: the write lock
            else:
                other.execute(text("SELECT id FROM alert WHERE id = :id FOR UPDATE"), {"id": first.alert_id})
            waiting = asyncio.ensure_future(committer.submit(ref, [trig("db")], body=None, now=clock.now()))
            turns = 0
            for _ in range(20):  # the loop keeps turning while the request waits
                await asyncio.sleep(0.01)
                turns += 1
            assert turns == 20 and not waiting.done()
            other.commit()
        return await waiting

    (repeat,) = run_in_own_loop(run())
    committer.close()
    assert (repeat.outcome, repeat.count, repeat.alert_id) == ("deduplicated", 2, first.alert_id)
    session.rollback()
    assert session.get(Alert, first.alert_id).count == 2


def test_the_wal_is_copied_in_beside_the_loop_and_started_over_once_large(
    sqlite_template, tmp_path, clock, monkeypatch
):
    """SQLite only (a WAL is SQLite's): the loop's connection leaves checkpoints to a thread, and a
    WAL grown past the limit is started over at the next commit instead of growing for ever."""
    shutil.copy(sqlite_template, tmp_path / "cp.db")
    engine = create_db_engine(f"sqlite:///{tmp_path / 'cp.db'}")
    sessions = make_session_factory(engine)
    with sessions() as s:
        policy_service.apply_folder(s, path=EXAMPLE_OPS, now=clock.now(), actor="test")
        s.commit()
        ref = service.integration_for_key(s, key=keys(sessions)["pagerduty"])
    monkeypatch.setattr(sqlite_writer, "CHECKPOINT_SECONDS", 0.0)
    monkeypatch.setattr(sqlite_writer, "RESTART_WAL_FRAMES", 1)
    committer = GroupCommitter(sessions)
    wal = tmp_path / "cp.db-wal"

    def frames() -> int:
        return (wal.stat().st_size - 32) // (4096 + 24) if wal.exists() else 0

    def settled() -> None:
        deadline = time.monotonic() + 10
        while committer._wal.running and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not committer._wal.running

    together(committer, ref, clock, [[trig(f"k{i}")] for i in range(200)])  # many pages in the WAL
    settled()
    assert committer._wal.restart_due  # the thread copied them in and found the WAL past the limit
    grown = frames()
    together(committer, ref, clock, [[trig("k1")]])  # the loop copies the rest, then starts over
    settled()
    raw = engine.raw_connection()  # outside a transaction: SQLite checkpoints only there
    try:
        _busy, logged, copied = raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        raw.close()
    assert logged < 10 < grown and copied == logged  # written again from the start: a few pages
    committer.close()
    engine.dispose()
