"""Checks 3 and 4: paging survives engine crashes.

3, exactly-once paging: two engine processes (the paging tests' own worker,
``tests/integration/paging_worker.py``: the real Runner with the escalation processor and the sender)
share one database; N incidents each escalate through both levels of a compressed policy (the primary,
then 2 s later the secondary and the team lead, each to a webhook on the local sink; real time runs the
clock, so no page is faked). How many people that is comes from the applied schedule at the time of the
run: three, or two in the weeks when the secondary is also the team lead (one person, paged once). The
incidents arrive evenly over a set time (the full run: 3,334 over 57 s), so paging goes on for about a
minute instead of being over before the first kill. Every few seconds the older replica is SIGKILLed (so
the two replicas are killed in turn) and a fresh one started. Zero pages may be missed; a page may arrive
twice only if the killed process had it in flight (claimed, ``sending``) at the kill, and those are
counted. The check fails when fewer than ``min_kills`` kills landed while pages were still being decided
(an escalation with a level left to fire or a page not yet delivered), so it cannot quietly shrink to one
kill again.

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
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy import Engine, func, select
from tests.integration.notify_sink import Sink
from tests.paging_support import open_alert

from commandpost.db.engine import transaction
from commandpost.engine.models import EngineLease
from commandpost.notify.models import OutgoingAttempt, OutgoingMessage
from commandpost.paging import rules as paging_rules
from commandpost.paging.decider import Decider
from commandpost.paging.models import Escalation
from reliability.figures import Figure, at_least, at_most, equals
from reliability.stack import BACKENDS, REPO, Stack, engine_of, sessions_of, stack, wait_until

LEVELS = 2
"""level 1 pages the primary, level 2 the secondary and the team lead together"""


def _policy(escalate_after: str) -> Any:
    def edit(data: dict[str, Any]) -> None:
        data["severity_routing"]["SEV2"] = {
            "page": "primary_oncall",
            "escalate_after": escalate_after,
            "then": ["secondary_oncall", "team_lead"],
        }

    return {"escalation/payment-platform.yaml": edit}


def pages_per_incident(url: str, at: datetime) -> int:
    """People the compressed SEV2 policy pages per incident at ``at``, read from the applied schedule the
    way the engine reads it (each level's recipients, a person once per level) — never assumed."""
    with sessions_of(url) as sessions, sessions() as session:
        decider = Decider.of(session, base_url="", now=at)
        policy = paging_rules.policy_for(decider.config, "payment-platform")
        route = paging_rules.route_for(policy, "SEV2")
        assert route is not None, "the check's policy has no SEV2 route"
        return sum(
            len(
                paging_rules.resolve(
                    policy, decider.config, level.targets, decider.on_call(session)
                ).recipients
            )
            for level in paging_rules.levels_of(route)
        )


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

    def __init__(self, env: Stack, settings: dict[str, str] | None = None) -> None:
        self.env = env
        self.settings = settings or {}
        """``COMMANDPOST_*`` variables for the workers (what ``settings_for`` leaves to the environment)"""
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
            env={**os.environ, **self.settings,
                 "RELIABILITY_CONNECT_LOG": str(self.env.folder / "workers.connections")},
        )  # fmt: skip
        assert worker.stdout is not None
        if worker.stdout.readline().strip() != b"started":
            raise RuntimeError(f"paging worker {owner} did not start; see {log.name}")
        self.running.append((owner, worker))

    @property
    def owners(self) -> list[str]:
        return [owner for owner, _worker in self.running]

    def kill_oldest(self) -> str:
        """SIGKILL the replica that has run longest: with its replacement appended, the two replica
        slots are killed in turn and each process lives through two kill periods."""
        owner, worker = self.running.pop(0)
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


class Arrivals(threading.Thread):
    """Opens the incidents evenly over ``seconds`` (in small batches, catching up if it falls behind),
    so escalations keep coming due for as long as the kills go on."""

    def __init__(self, url: str, incidents: int, seconds: float) -> None:
        super().__init__(name="arrivals", daemon=True)
        self.url, self.incidents, self.seconds = url, incidents, seconds
        self.opened = 0
        self.error: BaseException | None = None
        self.started_at = 0.0
        self.finished_at = 0.0
        self.halt = threading.Event()

    def run(self) -> None:
        try:
            with sessions_of(self.url) as sessions:
                self.started_at = time.monotonic()
                while self.opened < self.incidents and not self.halt.is_set():
                    elapsed = time.monotonic() - self.started_at
                    due = min(self.incidents, int(self.incidents * elapsed / self.seconds) + 1)
                    if due > self.opened:
                        with transaction(sessions) as s:
                            for i in range(self.opened, due):
                                open_alert(s, severity="SEV2", title=f"exactly once {i}",
                                           now=datetime.now(UTC), group=f"g{i}")  # fmt: skip
                        self.opened = due
                    time.sleep(0.05)
                self.finished_at = time.monotonic()
        except BaseException as exc:  # reported by the check, which stops on it
            self.error = exc


@dataclass(frozen=True)
class Kill:
    at: float
    """seconds since the first incident arrived"""
    victim: str
    undecided: int
    """escalations with a level left to fire + webhook pages not yet delivered, just before the kill"""


def _undecided(engine: Engine, live: list[str]) -> int:
    """Pages still being decided: escalation levels left to fire, webhook pages waiting to be sent and
    pages a live replica is sending. A page claimed by a replica killed earlier only waits for its
    claim to expire: a kill while nothing else is left lands on no work and does not count."""
    webhook = OutgoingMessage.channel == "webhook"
    with engine.connect() as conn:
        levels = conn.scalar(select(func.count()).select_from(Escalation).where(Escalation.fired < LEVELS))
        pending = conn.scalar(
            select(func.count())
            .select_from(OutgoingMessage)
            .where(webhook, OutgoingMessage.status == "pending")
        )
        sending = conn.scalar(
            select(func.count())
            .select_from(OutgoingMessage)
            .where(webhook, OutgoingMessage.status == "sending", OutgoingMessage.claimed_by.in_(live))
        )
    return int(levels or 0) + int(pending or 0) + int(sending or 0)


def _outbox_open(engine: Engine) -> int:
    """Webhook pages not yet delivered (or dead): pending, or claimed — by a killed replica, until
    its claim expires and a live one sends the page again."""
    with engine.connect() as conn:
        return int(
            conn.scalar(
                select(func.count())
                .select_from(OutgoingMessage)
                .where(OutgoingMessage.channel == "webhook")
                .where(OutgoingMessage.status.in_(("pending", "sending")))
            )
            or 0
        )


def exactly_once(
    backend: str,
    incidents: int,
    kill_every: float,
    timeout: float,
    *,
    arrival_seconds: float,
    min_kills: int,
    claim_seconds: float | None = None,
) -> list[Figure]:
    """``claim_seconds`` shortens the workers' ``notify_claim_seconds`` (30 s): the check waits for
    the claims the kills left behind to expire and their pages to be sent again, to count them."""
    check = f"3 exactly-once paging ({backend}, 2 engines)"
    claim = {"COMMANDPOST_NOTIFY_CLAIM_SECONDS": str(claim_seconds)} if claim_seconds else {}
    with stack(backend, edits=_policy("2s")) as env:
        # a rotation handoff during the run changes who level 2 reaches: allow either count then
        per_incident = {pages_per_incident(env.url, datetime.now(UTC) + ahead)
                        for ahead in (timedelta(0), timedelta(seconds=timeout))}  # fmt: skip
        expected, most = incidents * min(per_incident), incidents * max(per_incident)
        workers = Workers(env, claim)
        workers.spawn()
        workers.spawn()
        in_flight: set[str] = set()
        kills: list[Kill] = []
        arrivals = Arrivals(env.url, incidents, arrival_seconds)
        try:
            with engine_of(env.url) as engine:
                arrivals.start()
                wait_until(lambda: arrivals.started_at > 0 or not arrivals.is_alive(), 60, every=0.01)
                started = arrivals.started_at or time.monotonic()

                def all_paged() -> bool:
                    return arrivals.error is not None or len(_page_keys(env.sink)) >= most

                next_kill = started + kill_every
                while not all_paged() and time.monotonic() - started < timeout:
                    if not wait_until(all_paged, next_kill - time.monotonic(), every=0.1):
                        undecided = _undecided(engine, workers.owners)
                        victim = workers.kill_oldest()
                        at = time.monotonic() - started
                        with engine.connect() as conn:
                            claimed = set(
                                conn.scalars(
                                    select(OutgoingMessage.key).where(
                                        OutgoingMessage.status == "sending",
                                        OutgoingMessage.claimed_by == victim,
                                        OutgoingMessage.channel == "webhook",
                                    )
                                )
                            )
                        in_flight |= claimed
                        kills.append(Kill(at, victim, undecided))
                        workers.spawn()
                        # every kill_every on the clock; a slow restart never makes two kills back to back
                        next_kill = max(next_kill + kill_every, time.monotonic() + kill_every / 2)
                wait_until(all_paged, max(5.0, timeout - (time.monotonic() - started)))
                seconds = time.monotonic() - started
                # a page in flight at a kill stays claimed by the dead replica until the claim expires,
                # then a live one sends it again: wait for that, so the duplicates are all counted
                wait_until(
                    lambda: arrivals.error is not None or _outbox_open(engine) == 0,
                    max(5.0, timeout - (time.monotonic() - started)),
                )
                settled = time.monotonic() - started
                still_open = _outbox_open(engine)
                arrivals.halt.set()
                arrivals.join(timeout=30)
                if arrivals.error is not None:
                    raise RuntimeError(f"opening incidents failed: {arrivals.error!r}") from arrivals.error
                with engine.connect() as conn:
                    fired = Counter(conn.scalars(select(Escalation.fired)))
                    delivered: dict[str, int] = {
                        sender: n
                        for sender, n in conn.execute(
                            select(OutgoingAttempt.sender, func.count())
                            .join(OutgoingMessage, OutgoingMessage.id == OutgoingAttempt.message_id)
                            .where(OutgoingMessage.channel == "webhook")
                            .where(OutgoingAttempt.outcome == "delivered")
                            .group_by(OutgoingAttempt.sender)
                        )
                    }
                    interrupted = conn.scalar(
                        select(func.count())
                        .select_from(OutgoingAttempt)
                        .join(OutgoingMessage, OutgoingMessage.id == OutgoingAttempt.message_id)
                        .where(OutgoingMessage.channel == "webhook", OutgoingAttempt.outcome == "interrupted")
                    )
        finally:
            arrivals.halt.set()
            workers.stop()
        received = _page_keys(env.sink)
        guard_log = env.folder / "workers.connections"
        guard = guard_log.read_text().splitlines() if guard_log.exists() else []
    duplicates = {key: n for key, n in received.items() if n > 1}
    unexplained = sorted(set(duplicates) - in_flight)
    landed = [k for k in kills if k.undecided > 0]
    victims = [k.victim for k in landed]
    arrived = (arrivals.finished_at or started) - started
    spread = f"{landed[0].at:.0f} s … {landed[-1].at:.0f} s of {seconds:.0f}" if landed else "none"
    return [
        Figure(check, "pages received", len(received),
               f"= {expected}" if expected == most else f"{expected}–{most}",
               expected <= len(received) <= most,
               note=f"{incidents} incidents arriving over {arrived:.0f} s × "
                    f"{'/'.join(map(str, sorted(per_incident)))} people (the schedule at the time)"),
        equals(check, "missed pages", max(0, expected - len(received)), 0),
        at_least(check, "SIGKILLs while pages were being decided", len(landed), min_kills,
                 note=f"of {len(kills)} kills, one every {kill_every:g} s, the 2 replicas in turn, "
                      f"each replaced; at {spread} s"),
        Figure(check, "pages the killed replicas had delivered", sum(delivered.get(v, 0) for v in victims),
               "counted", True, note=f"{sum(1 for v in victims if delivered.get(v, 0))} of {len(victims)} "
                                     "victims had delivered pages before their kill"),
        Figure(check, "pages sent twice (in flight at a kill)", sum(n - 1 for n in duplicates.values()),
               "counted", True,
               note=f"{len(in_flight)} in flight at the kills; {interrupted or 0} claims recovered"),
        equals(check, "pages sent twice that were not in flight", len(unexplained), 0,
               note=", ".join(unexplained[:3])),
        equals(check, "escalations that fired every level", fired.get(LEVELS, 0), incidents),
        equals(check, "connections attempted off loopback", len(guard), 0),
        equals(check, "pages still queued or claimed at the end", still_open, 0,
               note=f"outbox settled {settled - seconds:.0f} s after the last new page (claims of killed "
                    "replicas expire, their pages are sent again)"),
        Figure(check, "run time", seconds, f"≤ {timeout:g} s", seconds < timeout,
               note=f"first incident to last page; {settled:.0f} s to a settled outbox", timing=True),
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
    arrival_seconds: float = 57.0,
    min_kills: int = 10,
) -> list[Figure]:
    """Exactly-once on PostgreSQL, where two replicas really share the work (on SQLite the lease makes
    one the sender: tests/integration/test_paging_replicas.py covers that handover); the restart boundary
    on both.

    3,334 incidents × 3 pages = 10,002 pages (the issue's 10,000 escalations; 6,668 in the weeks the
    secondary is also the team lead), arriving over 57 s: the
    last level 2 comes due at about 59 s, so a kill every 3 s makes about 19, of which at least 10 must
    land while pages are being decided."""
    figures = (
        exactly_once(
            "postgresql", incidents, kill_every, timeout, arrival_seconds=arrival_seconds, min_kills=min_kills
        )
        if "postgresql" in backends
        else []
    )
    for backend in backends:
        figures += restart_boundary(backend)
    return figures
