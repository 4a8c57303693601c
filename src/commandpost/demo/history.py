"""The demo's 90-day history, written by the real services on a frozen clock with real engine passes."""

from __future__ import annotations

import contextlib
import io
from datetime import datetime, timedelta
from typing import Any

from commandpost import wiring
from commandpost.clock import FrozenClock
from commandpost.console import progress

HISTORY = (
    # severity, title, how it was detected (an alert name, or None: a person declared it)
    ("SEV1", "Payment webhooks all failing", "DBConnectionsExhausted"),
    ("SEV1", "All APIs 5xx: database connections exhausted", "DBConnectionsExhausted"),
    ("SEV2", "Payment-webhook backlog growing", "WebhookBacklogHigh"),
    ("SEV2", "Receipts not issued after successful charges", None),
    ("SEV2", "Payment-webhook backlog after provider retry storm", "WebhookBacklogHigh"),
    ("SEV2", "Login failing for some regions", None),
    ("SEV3", "Admin-panel CSV export fails", None),
    ("SEV3", "Nightly settlement job delayed", None),
    ("SEV3", "Refund emails delayed", None),
    ("SEV4", "Staging deploy error", None),
    ("SEV4", "Log noise from the webhook consumer", None),
)
REPEAT = 3  # each row happens about every month over 90 days


def _history_plan(days: int) -> list[tuple[timedelta, int, str, str, str | None]]:
    import random

    rng = random.Random(20260624)
    rows = [(sev, title, alert) for _ in range(REPEAT) for sev, title, alert in HISTORY]
    plan = []
    for i, (sev, title, alert) in enumerate(rows):
        offset = timedelta(days=days) * (i + rng.random()) / len(rows)
        plan.append((offset, rng.randint(2, 14), sev, title, alert))
    return sorted(plan)


def seed_history(database_url: str, *, days: int, end: datetime) -> dict[str, int]:
    """Incidents of every SEV over ``days`` before ``end``: alerts, pages, acks, runbook steps, comms,
    status changes, postmortems taken to Final with action items — each by the service that owns it,
    with engine passes at the instants they would have run."""
    from commandpost.db.engine import create_db_engine, make_session_factory
    from commandpost.engine.runner import Runner
    from commandpost.settings import Settings

    engine = create_db_engine(database_url)
    sessions = make_session_factory(engine)
    clock = FrozenClock(end - timedelta(days=days))
    settings = Settings(database_url=database_url, engine_enabled=False)
    runner = Runner(sessions, clock, settings=settings, processors=wiring.engine_plan(settings).sequence())
    start = clock.now()
    counts = {"incidents": 0, "postmortems": 0, "action items": 0}
    plan = _history_plan(days)
    with progress("seeding incidents", total=len(plan)) as advance:
        for n, (offset, ack_minutes, sev, title, alert) in enumerate(plan):
            clock.set(start + offset)
            with contextlib.redirect_stdout(io.StringIO()):  # the console channel's historical pages
                _history_incident(sessions, runner, clock, n, sev, title, alert, ack_minutes, counts)
            advance(1)
    counts["SLO counts"] = _slo_counts(sessions, start, end, [start + o for o, *_ in _history_plan(days)])
    engine.dispose()
    return counts


def _slo_counts(sessions: Any, start: datetime, end: datetime, incidents: list[datetime]) -> int:
    """Charges counted every 6 hours for the charge-success SLO (99.99 %), worse around incidents."""
    from commandpost.db.engine import transaction
    from commandpost.metrics import slo
    from commandpost.policy import service as policy_service

    counts = []
    at = start
    while at < end:
        near = any(abs((at - when).total_seconds()) < 6 * 3600 for when in incidents)
        bad = 1 + (at.hour % 3) + (40 if near else 0)
        counts.append(slo.Count(client_id=f"demo-{at:%Y%m%d%H}", good=50_000 - bad, total=50_000, at=at))
        at += timedelta(hours=6)
    with transaction(sessions) as session:
        config = policy_service.current_config(session)
        for i in range(0, len(counts), slo.MAX_BATCH):
            slo.push(
                session,
                config=config,
                service="payment-platform",
                slo="charge-success",
                counts=counts[i : i + slo.MAX_BATCH],
                now=end,
            )
    return len(counts)


def _history_incident(
    sessions: Any,
    runner: Any,
    clock: FrozenClock,
    n: int,
    sev: str,
    title: str,
    alert: str | None,
    ack_minutes: int,
    counts: dict[str, int],
) -> None:
    from commandpost.alerts import service as alerts_service
    from commandpost.alerts.normalized import NormalizedEvent
    from commandpost.db.engine import transaction
    from commandpost.incidents import publish, service
    from commandpost.oncall import service as oncall_service
    from commandpost.policy import service as policy_service
    from commandpost.runbooks import service as runbook_service

    with transaction(sessions) as session:
        config = policy_service.current_config(session)
        primary = oncall_service.who_is_on_call(
            session, config=config, schedule="payment-platform", layer="primary", at=clock.now()
        )
        responder = primary or "hana"
        if alert:
            key = next(k for k in policy_service.list_integrations(session) if k.source == "alertmanager")
            ref = alerts_service.integration_for_key(session, key=key.key)
            assert ref is not None
            event = NormalizedEvent(
                action="trigger",
                dedup_key=f"history-{n}",
                alertname=alert,
                summary=title,
                labels={"alertname": alert, "service": "payment-platform"},
                starts_at=clock.now() - timedelta(minutes=3),
            )
            outcome = alerts_service.ingest(session, integration=ref, events=[event], now=clock.now())[0]
            number = outcome.incident
            if number is None:
                raise RuntimeError(f"history: the {alert} alert opened no incident ({outcome.outcome})")
        else:
            number = service.declare(
                session,
                title=title,
                severity=sev,
                service="payment-platform",
                actor=responder,
                now=clock.now(),
            ).number
    runner.run_once()
    clock.advance(minutes=ack_minutes)
    with transaction(sessions) as session:
        incident = service.timeline.incident(session, number=number, for_update=True)
        service.acknowledge(session, incident=incident, person=responder, now=clock.now())
        if incident.severity != sev:
            service.change_severity(
                session,
                incident=incident,
                severity=sev,
                reason="impact confirmed",
                actor=responder,
                now=clock.now(),
            )
        if incident.runbook:
            for step in ("3.1", "3.2", "3.3"):
                runbook_service.mark_step(
                    session,
                    incident=incident,
                    slug=incident.runbook,
                    step_ref=step,
                    state="done",
                    by=responder,
                    now=clock.now(),
                )
        if config.severities[sev].comms_cadence:  # the IC publishes to the status page (a comms update)
            publish.publish(
                session,
                incident=incident,
                title="Delayed card payments" if sev == "SEV2" else "Card payments failing",
                message="We are looking into it; the next update follows within the hour.",
                services={"payment-platform": "partial_outage" if sev == "SEV2" else "major_outage"},
                actor=responder,
                config=config,
                now=clock.now(),
            )
        service.add_entry(
            session,
            incident=incident,
            kind="decision",
            text="Mitigate first: scale out, root cause later",
            actor=responder,
            now=clock.now(),
        )
    clock.advance(minutes=15 + 7 * (n % 6))
    with transaction(sessions) as session:
        incident = service.timeline.incident(session, number=number, for_update=True)
        service.change_status(
            session, incident=incident, status="mitigated", actor=responder, now=clock.now()
        )
        clock.advance(minutes=20)
        if publish.shown_unresolved(session, incident=incident) is not None:
            publish.publish(
                session,
                incident=incident,
                message="Payments work normally again.",
                state="resolved",
                actor=responder,
                config=config,
                now=clock.now(),
            )
        service.change_status(session, incident=incident, status="resolved", actor=responder, now=clock.now())
        counts["incidents"] += 1
    runner.run_once()  # the postmortem criteria are evaluated and a draft written where they apply
    _history_postmortem(sessions, clock, number, responder, n, counts)


FILLER = {
    "root_cause": "1. The consumer fell behind. 2. Its task count was fixed. 3. Auto-scaling had no "
    "queue-depth signal. 4. The scaling policy predates the webhook volume. "
    "5. No capacity review after growth.",
    "technical_factor": "No auto-scaling on queue depth for the webhook consumer.",
    "process_factor": "Capacity is not reviewed when webhook volume grows.",
    "went_well": "The runbook's first move drained the backlog within minutes.",
    "went_poorly": "The page reached the secondary only after the escalation delay.",
    "got_lucky": "The provider kept retrying, so no event was lost.",
    "user_impact": "Charges confirmed late for a few minutes; none lost or doubled.",
    "business_impact": "Delayed confirmations; data consistency maintained.",
}


def _history_postmortem(
    sessions: Any, clock: FrozenClock, number: int, author: str, n: int, counts: dict[str, int]
) -> None:
    from commandpost.db.engine import transaction
    from commandpost.errors import NotFound
    from commandpost.postmortems import actions
    from commandpost.postmortems import service as pm_service

    with transaction(sessions) as session:
        try:
            incident, pm = pm_service.find(session, number=number)
        except NotFound:
            return
        if pm.status != "draft":
            return
        counts["postmortems"] += 1
        sections = {k: v for k, v in FILLER.items() if not (pm.sections or {}).get(k, "").strip()}
        sections.update(
            {k: "—" for k, v in (pm.sections or {}).items() if not str(v).strip() and k not in sections}
        )
        pm_service.edit(session, number=number, actor=author, now=clock.now(), sections=sections)
        actions.add(
            session,
            pm=pm,
            incident=incident,
            title="Add queue-depth auto-scaling to the payment-webhook consumer",
            type="prevent",
            owner=author,
            due=(clock.now() + timedelta(days=14 + n % 21)).date(),
            ticket=f"OPS-{100 + n}",
            verification="reproduce the backlog in a failure drill and confirm the consumer scales out",
            actor=author,
            now=clock.now(),
        )
        for item in pm_service.items_of(session, pm=pm):
            if not item.ticket:  # e.g. the pre-filled "add the missing alert" item
                actions.update_item(
                    session,
                    item_id=item.id,
                    changes={"ticket": f"OPS-{200 + item.id}"},
                    actor=author,
                    now=clock.now(),
                )
        counts["action items"] += len(pm_service.items_of(session, pm=pm))
        if n % 3 == 0:
            return  # some stay in draft
        reviewer = "yuta" if author != "yuta" else "hana"
        pm_service.submit(session, number=number, reviewer=reviewer, actor=author, now=clock.now())
        if n % 3 == 1:
            pm_service.approve(session, number=number, actor=reviewer, now=clock.now())
