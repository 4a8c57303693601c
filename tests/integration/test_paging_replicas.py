"""Two engine processes on one database, 1,000 incidents × 2 levels, pages delivered to a local HTTP
receiver (the far end) as a delayed step of each person's notification rules: every page exactly
once. Then again with one process SIGKILLed mid-run: none missed, and a page sent twice only if the
killed process had it in flight. PostgreSQL shares the work with SKIP LOCKED; SQLite hands it over
through the engine lease."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from commandpost.db.engine import transaction
from commandpost.engine.models import EngineLease
from commandpost.notify.models import DELIVERED, OutgoingAttempt, OutgoingMessage
from commandpost.paging.models import Escalation
from tests.integration.notify_sink import Sink, start_sink, stop_sink
from tests.paging_support import REPO, apply, open_alert, ops_variant
from tests.rotation_week import shift_rotations

pytestmark = pytest.mark.integration
INCIDENTS = 1000
LEVELS = 2


def _ops(tmp_path: Path, sink: Sink) -> Path:
    def people(data: dict[str, Any]) -> None:
        for person in data["people"]:
            person["contact"] = {"webhook": f"{sink.url}/hook/{person['handle']}"}
            person.pop("notify", None)
            # the webhook is a later step of the person's notification rules: each step once, too
            person["notification_rules"] = {"high": [{"after": "1s", "methods": ["webhook"]}]}

    def policy(data: dict[str, Any]) -> None:
        data["severity_routing"]["SEV2"] = {
            "page": "primary_oncall",
            "escalate_after": "3s",
            "then": ["secondary_oncall"],
        }

    edits = {"people.yaml": people, "escalation/payment-platform.yaml": policy}
    return shift_rotations(ops_variant(tmp_path, edits))


def _spawn(url: str, owner: str, log: Path) -> subprocess.Popen[bytes]:
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.paging_worker", url, owner],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=log.open("wb"),
    )
    assert worker.stdout is not None and worker.stdout.readline().strip() == b"started", log.read_text()
    return worker


def _page_keys(sink: Sink) -> Counter[str]:
    with sink.lock:
        return Counter(
            r.headers["Commandpost-Idempotency-Key"] for r in sink.received if r.path.startswith("/hook/")
        )


def _wait_for_every_page(sink: Sink, timeout: float) -> Counter[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        received = _page_keys(sink)
        if len(received) >= INCIDENTS * LEVELS:
            return received
        time.sleep(0.2)
    return _page_keys(sink)


def _open_incidents(sessions) -> None:  # type: ignore[no-untyped-def]
    for batch in range(0, INCIDENTS, 50):
        with transaction(sessions) as s:
            for i in range(batch, batch + 50):
                open_alert(s, severity="SEV2", title=f"backlog {i}", now=datetime.now(UTC), group=f"g{i}")


def _expected_per_incident(received: Counter[str]) -> Counter[tuple[str, str]]:
    per = Counter()
    for key in received:
        parts = dict(p.split("=", 1) for p in key.split("/")[1:])
        per[(parts["incident"], parts["level"])] += 1
    return per


def _wait(condition: Any, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _sending(session, owner: str) -> set[str]:  # type: ignore[no-untyped-def]
    session.rollback()
    query = select(OutgoingMessage.key).where(
        OutgoingMessage.status == "sending", OutgoingMessage.claimed_by == owner
    )
    return set(session.scalars(query))


def _settled(session) -> bool:  # type: ignore[no-untyped-def]
    """Nothing waiting or claimed in the outbox: every message has its final status."""
    session.rollback()
    unsettled = select(func.count()).where(OutgoingMessage.status.in_(("pending", "sending")))
    return session.scalar(unsettled) == 0


def _attempts_of(session, keys: set[str]) -> str:  # type: ignore[no-untyped-def]
    """Why a message went out twice: its attempts as the senders recorded them."""
    session.rollback()
    rows = session.execute(
        select(OutgoingMessage.key, OutgoingAttempt.number, OutgoingAttempt.sender, OutgoingAttempt.outcome)
        .add_columns(OutgoingAttempt.error)
        .join(OutgoingAttempt, OutgoingAttempt.message_id == OutgoingMessage.id)
        .where(OutgoingMessage.key.in_(keys))
        .order_by(OutgoingMessage.key, OutgoingAttempt.number)
    ).all()
    return "sent twice; attempts recorded:\n" + "\n".join(str(tuple(row)) for row in rows)


def _busy_engine(session) -> str:  # type: ignore[no-untyped-def]
    """The engine to kill: on SQLite the lease holder (the one doing the work); on PostgreSQL engine-a."""
    session.rollback()
    if session.get_bind().dialect.name == "sqlite":
        return str(session.scalar(select(EngineLease.owner).where(EngineLease.name == "engine")))
    return "engine-a"


def _stop(*workers: subprocess.Popen[bytes]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


@pytest.mark.timeout(900)  # 1,000 incidents opened and paged for real: minutes on a shared 2-core box
@pytest.mark.parametrize("kill", [False, True], ids=["both-run", "one-killed"])
def test_two_engine_processes_page_every_level_once(db_url, sessions, session, clock, tmp_path, kill):
    sink = start_sink()
    clock.set(datetime.now(UTC))
    apply(sessions, clock, _ops(tmp_path, sink))
    a = _spawn(db_url, "engine-a", tmp_path / "a.log")
    b = _spawn(db_url, "engine-b", tmp_path / "b.log")
    in_flight: set[str] = set()
    started = time.monotonic()
    opener = threading.Thread(target=_open_incidents, args=(sessions,), name="intake")
    try:
        opener.start()  # incidents keep opening while both engines page and escalate
        if kill:
            _wait(lambda: len(_page_keys(sink)) >= INCIDENTS // 2)
            # The far end stalls: sends now hang in flight, so the kill lands on messages being sent.
            holds = [sink.hold(f"/hook/{handle}") for handle in ("yuta", "hana", "ken", "mei")]
            victim_name = _busy_engine(session)
            _wait(lambda: _sending(session, victim_name))
            victim = a if victim_name == "engine-a" else b
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait()
            in_flight = _sending(session, victim_name)
            for hold in holds:
                hold.set()
        opener.join(timeout=600)
        print(f"\n{INCIDENTS} incidents opened in {time.monotonic() - started:.1f}s")
        received = _wait_for_every_page(sink, timeout=240)
        print(f"{len(received)} pages received after {time.monotonic() - started:.1f}s")
        if kill:  # the killed engine's claims expire (30 s) and the survivor sends those pages again
            _wait(lambda: _settled(session), timeout=240)
            received = _page_keys(sink)
    finally:
        _stop(a, b)
        stop_sink(sink)

    per_level = _expected_per_incident(received)
    missed = [(f"INC-{n}", str(level)) for n in range(1, INCIDENTS + 1) for level in range(LEVELS)]
    missed = [pair for pair in missed if pair not in per_level]
    assert missed == [], f"{len(missed)} pages never arrived, e.g. {missed[:5]}"
    twice = {
        pair: [k for k in received if f"incident={pair[0]}/" in k and f"level={pair[1]}/" in k]
        for pair, n in per_level.items()
        if n > 1
    }
    assert twice == {}, "one level paged two different people"
    duplicates = {key: n for key, n in received.items() if n > 1}
    if kill:
        assert set(duplicates) <= in_flight, (
            "a page was sent twice that the killed process did not have in flight"
        )
        print(f"killed mid-run: {len(in_flight)} in flight, {len(duplicates)} sent twice")
    else:
        assert duplicates == {}, _attempts_of(session, set(duplicates))
    session.rollback()
    rows = session.execute(select(Escalation.fired, Escalation.next_escalation_at)).all()
    assert len(rows) == INCIDENTS and {(fired, due) for fired, due in rows} == {(LEVELS, None)}
    statuses = Counter(session.scalars(select(OutgoingMessage.status)))
    assert statuses == {DELIVERED: INCIDENTS * LEVELS * 2}  # webhook + console
    if not kill and session.get_bind().dialect.name == "postgresql":
        senders = set(session.scalars(select(OutgoingAttempt.sender).distinct()))
        assert senders == {"engine-a", "engine-b"}  # SKIP LOCKED: both replicas took a share
