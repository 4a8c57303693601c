"""Checks 3 and 4: paging survives engine crashes.

3, exactly-once paging: two engine processes (the paging tests' own worker,
``tests/integration/paging_worker.py``: the real Runner with the escalation processor and the sender)
share one database; N incidents each escalate through both levels of a compressed policy (the primary,
then 2 s later the secondary and the team lead: three pages per incident, each to a webhook on the
local sink; real time runs the clock, so no page is faked). Every few seconds one replica is SIGKILLed
and a fresh one started. Zero pages may be missed; a page may arrive twice only if the killed process
had it in flight (claimed, ``sending``) at the kill, and those are counted.

4, restart across an escalation boundary: a real ``serve`` pages level 1 of a SEV2 incident and is
SIGKILLed; while it is down, the clock passes the level-2 escalation by 10 minutes (the escalation
and the engine lease are moved 20 minutes into the past, which is what 20 minutes of downtime does to
them). Started again, it must send the level-2 page within 5 s of answering, marked late.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy import func, select
from tests.integration.notify_sink import Sink
from tests.paging_support import open_alert

from commandpost.db.engine import transaction
from commandpost.engine.models import EngineLease
from commandpost.notify.models import OutgoingMessage
from commandpost.paging.models import Escalation
from reliability.figures import Figure, at_most, equals
from reliability.stack import BACKENDS, REPO, Stack, engine_of, sessions_of, stack, wait_until

LEVELS = 2
PAGES = 3
"""per incident: level 1 pages the primary, level 2 the secondary and the team lead together"""


def _policy(escalate_after: str) -> Any:
    def edit(data: dict[str, Any]) -> None:
        data["severity_routing"]["SEV2"] = {
            "page": "primary_oncall",
            "escalate_after": escalate_after,
            "then": ["secondary_oncall", "team_lead"],
        }

    return {"escalation/payment-platform.yaml": edit}


def _page_keys(sink: Sink) -> Counter[str]:
    with sink.lock:
        return Counter(
            r.headers.get("Commandpost-Idempotency-Key", "")
            for r in sink.received
            if r.path.startswith("/hook/")
        )


# ------------------------------------------------------------------ 3: exactly-once paging


class Workers:
    """Engine processes (``tests.integration.paging_worker`` under the loopback guard), each with its own
    owner name so a restarted one never inherits the claims of the one it replaces."""

    def __init__(self, env: Stack) -> None:
        self.env = env
        self.spawned = 0
        self.running: list[tuple[str, subprocess.Popen[bytes]]] = []

    def spawn(self) -> None:
        self.spawned += 1
        owner = f"engine-{self.spawned}"
        log = (self.env.folder / f"{owner}.log").open("wb")
        worker = subprocess.Popen(
            [sys.executable, "-m", "reliability.guarded", "--module", "tests.integration.paging_worker",
             self.env.url, owner],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=log,
            env={**os.environ, "RELIABILITY_CONNECT_LOG": str(self.env.folder / "workers.connections")},
        )  # fmt: skip
        assert worker.stdout is not None
        if worker.stdout.readline().strip() != b"started":
            raise RuntimeError(f"paging worker {owner} did not start; see {log.name}")
        self.running.append((owner, worker))

    def kill_one(self, which: int) -> str:
        owner, worker = self.running.pop(which % len(self.running))
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        return owner

    def stop(self) -> None:
        for _owner, worker in self.running:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for _owner, worker in self.running:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        self.running.clear()


def exactly_once(backend: str, incidents: int, kill_every: float, timeout: float) -> list[Figure]:
    check = f"3 exactly-once paging ({backend}, 2 engines)"
    expected = incidents * PAGES
    with stack(backend, edits=_policy("2s")) as env:
        workers = Workers(env)
        workers.spawn()
        workers.spawn()
        in_flight: set[str] = set()
        kills = 0
        try:
            with sessions_of(env.url) as sessions:
                for batch in range(0, incidents, 50):
                    with transaction(sessions) as s:
                        for i in range(batch, min(incidents, batch + 50)):
                            open_alert(s, severity="SEV2", title=f"exactly once {i}", now=datetime.now(UTC),
                                       group=f"g{i}")  # fmt: skip
            started = time.monotonic()
            with engine_of(env.url) as engine:
                while len(_page_keys(env.sink)) < expected and time.monotonic() - started < timeout:
                    time.sleep(kill_every)
                    if len(_page_keys(env.sink)) >= expected:
                        break
                    victim = workers.kill_one(kills)
                    kills += 1
                    with engine.connect() as conn:
                        in_flight |= set(
                            conn.scalars(
                                select(OutgoingMessage.key).where(
                                    OutgoingMessage.status == "sending", OutgoingMessage.claimed_by == victim
                                )
                            )
                        )
                    workers.spawn()
                left = max(5.0, timeout - (time.monotonic() - started))
                wait_until(lambda: len(_page_keys(env.sink)) >= expected, left)
                seconds = time.monotonic() - started
                with engine.connect() as conn:
                    fired = Counter(conn.scalars(select(Escalation.fired)))
        finally:
            workers.stop()
        received = _page_keys(env.sink)
        guard_log = env.folder / "workers.connections"
        guard = guard_log.read_text().splitlines() if guard_log.exists() else []
    duplicates = {key: n for key, n in received.items() if n > 1}
    unexplained = sorted(set(duplicates) - in_flight)
    return [
        equals(check, "pages received", len(received), expected,
               note=f"{incidents} incidents × {PAGES} pages in {seconds:.0f} s, {kills} SIGKILLs"),
        equals(check, "missed pages", max(0, expected - len(received)), 0),
        Figure(check, "pages sent twice (in flight at a kill)", sum(n - 1 for n in duplicates.values()),
               "counted", True, note=f"{len(in_flight)} messages were in flight at the kills"),
        equals(check, "pages sent twice that were not in flight", len(unexplained), 0,
               note=", ".join(unexplained[:3])),
        equals(check, "escalations that fired every level", fired.get(LEVELS, 0), incidents),
        equals(check, "connections attempted off loopback", len(guard), 0),
    ]  # fmt: skip


# ------------------------------------------------------------------ 4: restart across a boundary


def restart_boundary(backend: str) -> list[Figure]:
    check = f"4 restart across an escalation boundary ({backend})"
    with stack(backend, edits=_policy("10m")) as env:
        server = env.server("boundary")
        event = {
            "routing_key": env.keys()["pagerduty"],
            "event_action": "trigger",
            "dedup_key": "boundary/backlog",
            "payload": {"summary": "webhook backlog", "source": "queue-1", "severity": "error",
                        "custom_details": {"alertname": "WebhookBacklogHigh"}},
        }  # fmt: skip
        httpx.post(f"{server.base}/v2/enqueue", content=orjson.dumps(event), timeout=30).raise_for_status()
        first = wait_until(lambda: any("level=0" in k for k in _page_keys(env.sink)), 60)
        server.kill()
        shift = timedelta(minutes=20)
        with sessions_of(env.url) as sessions, transaction(sessions) as s:
            for esc in s.scalars(select(Escalation).where(Escalation.next_escalation_at.is_not(None))):
                esc.next_escalation_at = (esc.next_escalation_at or datetime.now(UTC)) - shift
            for held in s.scalars(select(EngineLease)):
                held.expires_at -= shift
            s.flush()
            due = s.scalar(select(func.min(Escalation.next_escalation_at)))
        spawned = time.monotonic()
        server.start()
        sent = wait_until(lambda: any("level=1" in k for k in _page_keys(env.sink)), 60, every=0.02)
        after_ready = time.monotonic() - server.ready_at
        after_spawn = time.monotonic() - spawned
        with engine_of(env.url) as engine, engine.connect() as conn:
            late = conn.execute(
                select(OutgoingMessage.late, OutgoingMessage.due_at, OutgoingMessage.sent_at).where(
                    OutgoingMessage.key.like("page/%level=1%"), OutgoingMessage.channel == "webhook"
                )
            ).first()
    overdue = (datetime.now(UTC) - due.replace(tzinfo=UTC)).total_seconds() / 60 if due else 0.0
    return [
        equals(check, "level-1 page before the crash", first, True),
        equals(check, "level-2 page sent after the restart", sent, True,
               note=f"due {overdue:.0f} min before"),
        at_most(check, "seconds from serving to the level-2 page", after_ready if sent else 999.0, 5.0, " s",
                note=f"{after_spawn:.1f} s from the restart command", timing=True),
        equals(check, "level-2 page marked late", bool(late and late.late), True),
    ]  # fmt: skip


def run(
    backends: tuple[str, ...] = BACKENDS,
    incidents: int = 3334,
    kill_every: float = 3.0,
    timeout: float = 900.0,
) -> list[Figure]:
    """Exactly-once on PostgreSQL, where two replicas really share the work (on SQLite the lease makes
    one the sender: the bounded test covers it there); the restart boundary on both."""
    figures = exactly_once("postgresql", incidents, kill_every, timeout) if "postgresql" in backends else []
    for backend in backends:
        figures += restart_boundary(backend)
    return figures
