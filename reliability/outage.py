"""Check 5, notifier outage: the far ends fail, then recover, and nothing is lost or slows intake.

A real server pages into the local sink. Ingest p99 is measured at a fixed rate three times: before
anything fails (the baseline), while every person's webhook answers 500 and every team channel 429
with ``Retry-After`` (new incidents keep paging into the outage), and while every person's webhook
holds each request for 10 s after the recovery. Then every queued message must be delivered —
0 lost, 0 dead letters — except one control message given a 3-attempt budget to a sink that never
recovers, which must be a dead letter after exactly 3 attempts: dead letters come only past the budget.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select, update

from commandpost.db.engine import transaction
from commandpost.notify import service as notify_service
from commandpost.notify.models import DEAD, DELIVERED, OutgoingAttempt, OutgoingMessage
from reliability.figures import Figure, at_least, at_most, equals
from reliability.ingest_load import measure, pagerduty_bodies
from reliability.stack import Stack, engine_of, sessions_of, stack, wait_until

PEOPLE = ("yuta", "hana", "ken", "mei", "sato")
CHANNELS = ("payments", "engineering-management")
HOLD_SECONDS = 10.0
BUDGET = 3


def _group_by_n(service: dict[str, Any]) -> None:
    for rule in service["alert_rules"]:
        rule["group_by"] = ["n"]


def _open_incidents(base: str, key: str, first: int, count: int) -> None:
    """``count`` SEV1 incidents (one group each): a page to the primary and an FYI to the manager each."""
    with httpx.Client(base_url=base, timeout=60) as client:
        for n in range(first, first + count):
            event = {"dedup_key": f"outage/{n}", "alertname": "DBConnectionsExhausted",
                     "summary": f"outage drill {n}", "labels": {"n": str(n)}}  # fmt: skip
            client.post(f"/api/v1/intake/generic/{key}", json=event).raise_for_status()


def _release(holds: list[threading.Event]) -> None:
    for hold in holds:
        hold.set()


def _budget_control(env: Stack) -> None:
    with sessions_of(env.url) as sessions, transaction(sessions) as s:
        message = notify_service.enqueue(
            s, key="outage/budget-control", channel="webhook", destination=f"{env.sink.url}/never",
            subject="budget control", body="this far end never recovers", severity="SEV1",
            incident_id=None, person="yuta", now=datetime.now(UTC),
        )  # fmt: skip
        assert message is not None
        s.execute(
            update(OutgoingMessage).where(OutgoingMessage.id == message.id).values(attempt_limit=BUDGET)
        )


def run(
    backend: str = "sqlite", outage_seconds: float = 120.0, incidents: int = 40, rate: float = 100.0
) -> list[Figure]:
    check = f"5 notifier outage ({backend})"
    env_vars = {
        "COMMANDPOST_NOTIFY_BACKOFF_BASE_SECONDS": "1",
        "COMMANDPOST_NOTIFY_BACKOFF_CAP_SECONDS": "5",
        "COMMANDPOST_NOTIFY_MAX_ATTEMPTS": str(int(outage_seconds / 2) + 30),
    }
    window = min(outage_seconds, 20.0)
    with stack(backend, edits={"services/payment-platform.yaml": _group_by_n}) as env:
        server = env.server("outage", env=env_vars)
        keys = env.keys()
        bodies = pagerduty_bodies(env.folder, keys["pagerduty"], 50)
        env.sink.script("/never", 500)
        baseline = measure(server.base, bodies, rate=rate, seconds=window)

        for person in PEOPLE:
            env.sink.script(f"/hook/{person}", 500)
        for team in CHANNELS:
            env.sink.script(f"/chan/{team}", (429, {"Retry-After": "3"}))
        _budget_control(env)
        outage_started = time.monotonic()
        _open_incidents(server.base, keys["generic"], 0, incidents // 2)
        during = measure(server.base, bodies, rate=rate, seconds=window)
        _open_incidents(server.base, keys["generic"], incidents // 2, incidents - incidents // 2)
        time.sleep(max(0.0, outage_started + outage_seconds - time.monotonic()))
        failed_during = len(env.sink.received)

        holds = [env.sink.hold(f"/hook/{person}") for person in PEOPLE]
        with env.sink.lock:
            for path in [p for p in env.sink.answers if p != "/never"]:
                del env.sink.answers[path]
        release = threading.Timer(HOLD_SECONDS, _release, args=(holds,))
        release.start()
        _open_incidents(server.base, keys["generic"], incidents, 5)
        slow = measure(server.base, bodies, rate=rate, seconds=HOLD_SECONDS)
        release.join()

        with engine_of(env.url) as engine:

            def messages() -> list[Any]:
                with engine.connect() as conn:
                    return list(
                        conn.execute(
                            select(OutgoingMessage.key, OutgoingMessage.status, OutgoingMessage.attempts)
                        )
                    )

            settled = wait_until(
                lambda: all(m.status in (DELIVERED, DEAD) for m in messages()), 180, every=0.5
            )
            rows = messages()
            with engine.connect() as conn:
                retried = conn.scalar(
                    select(OutgoingAttempt.id).where(OutgoingAttempt.status_code.in_((500, 429))).limit(1)
                )
        received = {r.headers.get("Commandpost-Idempotency-Key") for r in env.sink.received}
    control = next(m for m in rows if m.key == "outage/budget-control")
    others = [m for m in rows if m.key != "outage/budget-control"]
    lost = [m.key for m in others if m.status != DELIVERED]
    webhooks_missing = [
        m.key
        for m in others
        if m.key.startswith("page/") and "channel=webhook" in m.key and m.key not in received
    ]
    limit = max(baseline.p99_ms * 1.5, baseline.p99_ms + 10.0)
    return [
        at_least(check, "messages queued during the outage", len(others), incidents,
                 note=f"{failed_during} failed sends seen"),
        equals(check, "answers 500/429 seen by the sender (control)", retried is not None, True),
        equals(check, "messages lost (not delivered)", len(lost), 0, note=f"settled: {settled}; {lost[:3]}"),
        equals(check, "webhook pages never received", len(webhooks_missing), 0),
        equals(check, "dead letters within the retry budget", sum(1 for m in others if m.status == DEAD), 0),
        equals(check, f"budget control dead after {BUDGET} attempts", (control.status, control.attempts),
               (DEAD, BUDGET)),
        Figure(check, "ingest p99 before the outage", baseline.p99_ms, "baseline (ms)", baseline.errors == 0,
               note=f"{rate:.0f}/s for {window:.0f} s, {baseline.errors} errors"),
        at_most(check, "ingest p99 during the outage", during.p99_ms, limit, " ms",
                note=f"≤ 1.5× baseline or +10 ms; {during.errors} errors", timing=True),
        at_most(check, "ingest p99 while sinks hold requests 10 s", slow.p99_ms, limit, " ms",
                note=f"{slow.errors} errors", timing=True),
        equals(check, "ingest errors", baseline.errors + during.errors + slow.errors, 0),
    ]  # fmt: skip
