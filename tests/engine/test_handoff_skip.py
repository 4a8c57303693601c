"""The handoff processor's idle skip, on both databases with the injected clock: once a pass finds
nothing to notice it answers from the remembered next handoff instant (one fingerprint query) —
and still notices that handoff at its exact instant, an override added after the skip, and a new
ops revision."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from commandpost.clock import FrozenClock
from commandpost.notify.models import OutgoingMessage
from commandpost.oncall import service as oncall_service
from commandpost.oncall.processors import HandoffNotices
from commandpost.policy import service as policy_service
from tests.conftest import EXAMPLE_OPS
from tests.engine.test_oncall_handoffs import HANDOFF, _setup

PER_HANDOFF = 12  # primary and secondary, outgoing and incoming, three channels each


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements the database received inside the block."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _pass(sessions: sessionmaker[Session], processor: HandoffNotices, now: datetime) -> tuple[bool, int]:
    """One engine pass as the runner makes it: ask, run, commit."""
    with sessions() as s:
        work = processor.has_work(s, now)
        done = processor.run(s, now)
        s.commit()
    return work, done


def _queued(sessions: sessionmaker[Session], at: datetime) -> set[str]:
    stamp = at.strftime("%Y%m%dT%H%M%SZ")
    with sessions() as s:
        return {k for k in s.scalars(select(OutgoingMessage.key)) if f"/at={stamp}/" in k}


def test_an_idle_pass_is_one_query_and_the_handoff_is_noticed_at_its_exact_instant(
    engine, sessions, clock, tmp_path
):
    _setup(sessions, clock, tmp_path)
    processor = HandoffNotices()
    before = HANDOFF - timedelta(hours=1)
    assert _pass(sessions, processor, before) == (False, 0)
    with _statements(engine) as seen, sessions() as s:
        assert processor.has_work(s, before + timedelta(minutes=30)) is False
        assert processor.next_due(s, before + timedelta(minutes=30)) == HANDOFF
        assert processor.run(s, HANDOFF - timedelta(microseconds=1)) == 0
    queries = [q for q in seen if q.lstrip().upper().startswith("SELECT")]
    assert len(queries) == 3 and all("rotation_anchor" in q for q in queries)  # the fingerprint alone
    assert _pass(sessions, processor, HANDOFF) == (True, PER_HANDOFF)
    assert len(_queued(sessions, HANDOFF)) == PER_HANDOFF
    assert _pass(sessions, processor, HANDOFF + timedelta(seconds=5)) == (False, 0)
    with sessions() as s:
        assert processor.next_due(s, HANDOFF + timedelta(seconds=10)) == HANDOFF + timedelta(weeks=1)
    # the clock going back is not answered from what was remembered later
    fresh = HandoffNotices()
    with sessions() as s:
        assert processor.next_due(s, before) == fresh.next_due(s, before) == HANDOFF


def test_an_override_added_or_removed_after_the_skip_is_noticed(sessions, clock, tmp_path):
    config = _setup(sessions, clock, tmp_path)
    processor = HandoffNotices()
    now = HANDOFF + timedelta(hours=1)
    _pass(sessions, processor, now)  # this week's handoff (queued here) is behind; quiet from now
    assert _pass(sessions, processor, now + timedelta(seconds=5)) == (False, 0)
    cover = HANDOFF + timedelta(days=1)
    with sessions() as s:
        row = oncall_service.add_override(
            s, config=config, schedule="payment-platform", layer="primary", person="mei",
            start=cover, end=cover + timedelta(hours=8), actor="hana", now=now,
        )  # fmt: skip
        s.commit()
        override_id = row.id
    with sessions() as s:
        assert processor.next_due(s, now + timedelta(seconds=10)) == cover
    assert _pass(sessions, processor, cover - timedelta(seconds=1)) == (False, 0)
    assert _pass(sessions, processor, cover) == (True, 6)  # hana -> mei on primary, three channels each
    assert _pass(sessions, processor, cover + timedelta(seconds=5)) == (False, 0)
    with sessions() as s:
        assert processor.next_due(s, cover + timedelta(seconds=5)) == cover + timedelta(hours=8)
        oncall_service.remove_override(s, override_id=override_id)
        s.commit()
    with sessions() as s:  # removed: the next handoff is next week's again
        assert processor.next_due(s, cover + timedelta(seconds=10)) == HANDOFF + timedelta(weeks=1)


def test_a_new_ops_revision_after_the_skip_is_noticed(sessions, clock: FrozenClock, tmp_path):
    _setup(sessions, clock, tmp_path)
    processor = HandoffNotices()
    now = HANDOFF + timedelta(hours=1)
    _pass(sessions, processor, now)
    assert _pass(sessions, processor, now + timedelta(seconds=5)) == (False, 0)
    with sessions() as s:
        assert processor.next_due(s, now + timedelta(seconds=5)) == HANDOFF + timedelta(weeks=1)
    ops = tmp_path / "later"
    shutil.copytree(EXAMPLE_OPS, ops)
    (ops / "schedules" / "platform-db.yaml").write_text(
        "description: A daily rotation added after the skip.\n"
        "timezone: Asia/Tokyo\n"
        "layers:\n"
        "  - name: primary\n"
        "    rotation:\n"
        "      members: [ken, mei]\n"
        "      length: daily\n"
        "      start: 2026-01-05\n"
        '      handoff: {time: "09:00", timezone: Asia/Tokyo}\n'
    )
    with sessions() as s:
        policy_service.apply_folder(s, path=ops, now=now + timedelta(minutes=1), actor="test")
        s.commit()
    asked = now + timedelta(minutes=2)
    with sessions() as s:
        daily = HandoffNotices().next_due(s, asked)  # worked out afresh: the truth
        assert daily is not None and daily < HANDOFF + timedelta(weeks=1)
        assert processor.next_due(s, asked) == daily
    assert _pass(sessions, processor, daily - timedelta(seconds=1)) == (False, 0)
    work, done = _pass(sessions, processor, daily)
    assert work and done > 0
    assert all("schedule=platform-db" in key for key in _queued(sessions, daily))
