"""Alert quality (alerts per incident, noisy alerts) from alerts ingested through the real pipeline, and
toil ranked by hand-executions × time from real checklists, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from commandpost.alerts import service as alerts_service
from commandpost.alerts.normalized import NormalizedEvent
from commandpost.db.engine import transaction
from commandpost.incidents import service as incident_service
from commandpost.incidents import timeline
from commandpost.metrics import alert_quality, toil
from commandpost.policy import service as policy_service
from commandpost.runbooks import service as runbooks_service
from tests.factories import make_incident

T = datetime(2026, 6, 24, 3, 0, tzinfo=UTC)


def _send(sessions: sessionmaker[Session], action: str, key: str, alertname: str, at: datetime) -> int | None:
    with transaction(sessions) as s:
        generic = next(k for k in policy_service.list_integrations(s) if k.source == "generic")
        ref = alerts_service.integration_for_key(s, key=generic.key)
        assert ref is not None
        event = NormalizedEvent(
            action=action, dedup_key=key, alertname=alertname, summary=f"{alertname} firing"
        )  # type: ignore[arg-type]
        (outcome,) = alerts_service.ingest(s, integration=ref, events=[event], now=at)
        return outcome.incident


def test_alerts_per_incident_and_the_noisiest(sessions, session, applied_ops) -> None:
    # A paging SEV1 alert firing 4 times, and a second key of the same group: one incident, acted on.
    for minute in range(4):
        number = _send(sessions, "trigger", "db-1", "DBConnectionsExhausted", T + timedelta(minutes=minute))
    _send(sessions, "trigger", "db-2", "DBConnectionsExhausted", T + timedelta(minutes=5))
    with transaction(sessions) as s:
        incident = timeline.incident(s, number=number or 0)
        incident_service.change_status(
            s, incident=incident, status="mitigated", actor="yuta", now=T + timedelta(minutes=9)
        )
    # A SEV2 page acknowledged at its source, then nothing: acked without action.
    _send(sessions, "trigger", "hook-1", "WebhookBacklogHigh", T + timedelta(minutes=10))
    _send(sessions, "acknowledge", "hook-1", "WebhookBacklogHigh", T + timedelta(minutes=12))
    _send(sessions, "resolve", "hook-1", "WebhookBacklogHigh", T + timedelta(minutes=40))
    # An unrouted alert (SEV3, no incident) flapping: resolved by its source within 2 minutes, 3 times.
    for start in (20, 30, 50):
        _send(sessions, "trigger", "disk", "DiskSpaceLow", T + timedelta(minutes=start))
        _send(sessions, "resolve", "disk", "DiskSpaceLow", T + timedelta(minutes=start + 2))
    # Flapping slower than the auto-resolve limit: noisy only for having no incident.
    _send(sessions, "trigger", "cpu", "CpuHigh", T + timedelta(minutes=60))
    _send(sessions, "resolve", "cpu", "CpuHigh", T + timedelta(minutes=70))
    got = alert_quality.alert_quality(session, start=T, end=T + timedelta(hours=2))
    assert {
        k: got[k] for k in ("alerts", "firings", "paging_alerts", "alerts_with_incident", "incidents")
    } == {
        "alerts": 7,
        "firings": 10,
        "paging_alerts": 3,
        "alerts_with_incident": 3,
        "incidents": 2,
    }
    assert got["alerts_per_incident"] == 1.5
    assert got["paging_alerts_without_runbook"] == 0
    assert got["noisy"] == [
        {
            "service": "payment-platform",
            "alertname": "DiskSpaceLow",
            "alerts": 3,
            "firings": 3,
            "without_incident": 3,
            "auto_resolved": 3,
            "acked_without_action": 0,
            "noisy": 3,
            "without_runbook": 0,
        },
        {
            "service": "payment-platform",
            "alertname": "CpuHigh",
            "alerts": 1,
            "firings": 1,
            "without_incident": 1,
            "auto_resolved": 0,
            "acked_without_action": 0,
            "noisy": 1,
            "without_runbook": 0,
        },
        {
            "service": "payment-platform",
            "alertname": "WebhookBacklogHigh",
            "alerts": 1,
            "firings": 1,
            "without_incident": 0,
            "auto_resolved": 0,
            "acked_without_action": 1,
            "noisy": 1,
            "without_runbook": 0,
        },
    ]
    narrower = alert_quality.alert_quality(
        session, start=T, end=T + timedelta(hours=2), auto_resolve_minutes=1
    )
    assert narrower["noisy"][0]["auto_resolved"] == 0


SLUG = "payment-webhook-backlog"


def _checklist(sessions: sessionmaker[Session], when: datetime, marks: list[tuple[str, int]]) -> None:
    """A declared incident that attached the backlog runbook at ``when`` and marked steps done at +minutes."""
    with transaction(sessions) as s:
        incident = make_incident(s, now=when)
        runbooks_service.attach(s, incident=incident, slug=SLUG, by="yuta", now=when)
        number = incident.number
    for step, minutes in marks:
        with transaction(sessions) as s:
            at = when + timedelta(minutes=minutes)
            runbooks_service.mark_step(
                s,
                incident=timeline.incident(s, number=number),
                slug=SLUG,
                step_ref=step,
                state="done",
                by="yuta",
                now=at,
            )


def test_toil_ranks_by_executions_times_median_time(sessions, session, applied_ops) -> None:
    _checklist(sessions, T - timedelta(days=3), [("3.1", 4), ("3.3", 10)])  # 3.1: 4 min, 3.3: 6 min
    _checklist(sessions, T - timedelta(days=2), [("3.3", 2), ("3.1", 3)])  # 3.3: 2 min, 3.1: 1 min
    _checklist(sessions, T - timedelta(days=1), [("3.1", 120), ("3.3", 121)])  # 3.1: 2 h, capped at 1 h
    ranked = toil.ranked(session, min_incidents=3)
    assert [
        (r["step_id"][:3], r["executions"], r["median_seconds"], r["score_seconds"], r["hand_seconds_total"])
        for r in ranked
    ] == [("3.1", 3, 240, 720, 60 + 240 + 3600), ("3.3", 3, 120, 360, 360 + 120 + 60)]
    assert ranked[1]["text"].startswith("First move: scale out the consumer")
    assert toil.ranked(session, min_incidents=4) == []
