"""The alert-routing entry point: one open incident per service and group, IC from the first ack."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from commandpost.db.engine import transaction
from commandpost.errors import ValidationFailed
from commandpost.incidents import roles, service, timeline
from commandpost.incidents.models import Incident
from tests.factories import make_alert_incident


def _attach(s, clock, **overrides):
    values = {
        "service": "payment-platform",
        "severity": "SEV2",
        "title": "WebhookBacklogHigh",
        "group_key": "alertname=WebhookBacklogHigh",
        "impact_started_at": None,
        "detected_at": None,
        "runbook": "payment-webhook-backlog",
        "no_runbook": False,
        "source_summary": "alertmanager: WebhookBacklogHigh firing",
        "now": clock.now(),
    }
    values.update(overrides)
    return service.open_or_attach(s, **values)


def test_opens_an_automatic_incident_without_an_ic(sessions, applied_ops, clock):
    impact = clock.now() - timedelta(minutes=7)
    detected = clock.now() - timedelta(minutes=2)
    with transaction(sessions) as s:
        incident, created = _attach(s, clock, impact_started_at=impact, detected_at=detected)
    assert created
    assert (incident.detection, incident.runbook, incident.no_runbook) == (
        "automatic",
        "payment-webhook-backlog",
        False,
    )
    assert (incident.impact_started_at, incident.detected_at, incident.declared_at) == (
        impact,
        detected,
        clock.now(),
    )
    assert incident.acknowledged_at is None
    with transaction(sessions) as s:
        loaded = timeline.incident(s, number=incident.number)
        assert roles.ic_holder(s, incident=loaded) is None
        view = roles.view(s, incident=loaded, now=clock.now())
        assert [(v.role, v.holder) for v in view] == [
            ("ic", None),
            ("ops", None),
            ("comms", None),
            ("planning", None),
        ]
        texts = [e.text for e in timeline.all_entries(s, incident=loaded)]
    assert texts == [
        "INC-1 opened SEV2 on payment-platform from an alert: alertmanager: WebhookBacklogHigh firing",
        "INC-1: command post is #inc-2026-06-24-webhookbackloghigh",
    ]


def test_attaches_to_the_open_incident_of_the_same_group(sessions, applied_ops, clock):
    with transaction(sessions) as s:
        first, _ = _attach(s, clock)
    clock.advance(minutes=1)
    with transaction(sessions) as s:
        again, created = _attach(s, clock, source_summary="still firing")
        other, other_created = _attach(s, clock, group_key="alertname=DBConnectionsExhausted")
    assert (again.number, created) == (first.number, False)
    assert other_created and other.number == 2
    with transaction(sessions) as s:
        assert (
            timeline.all_entries(s, incident=timeline.incident(s, number=1))[-1].text
            == "INC-1: alert attached (SEV2): still firing"
        )


def test_a_more_severe_alert_raises_the_incident(sessions, applied_ops, clock):
    with transaction(sessions) as s:
        _attach(s, clock)
        incident, created = _attach(s, clock, severity="SEV1", source_summary="all webhooks failing")
    assert not created and incident.severity == "SEV1"
    assert incident.comms_due_at == incident.declared_at + timedelta(minutes=30)
    with transaction(sessions) as s:
        last = timeline.all_entries(s, incident=timeline.incident(s, number=1))[-1]
    assert last.kind == "severity"
    assert last.text.startswith("INC-1: severity SEV2 → SEV1: an attached alert is SEV1")


def test_a_resolved_incident_is_not_attached_to_and_does_not_retake_its_group(sessions, applied_ops, clock):
    with transaction(sessions) as s:
        first = make_alert_incident(s, now=clock.now())
        service.change_status(s, incident=first, status="resolved", actor="hana", now=clock.now())
    with transaction(sessions) as s:
        second, created = _attach(s, clock)
    assert created and second.number == 2
    with transaction(sessions) as s:
        reopened = service.change_status(
            s, incident=timeline.incident(s, number=1), status="reopen", actor="hana", now=clock.now()
        )
        assert reopened.open_group is None  # INC-2 owns the group now
        same, created = _attach(s, clock)
    assert (same.number, created) == (2, False)


def test_a_reopened_incident_takes_its_group_back_when_free(sessions, applied_ops, clock):
    with transaction(sessions) as s:
        first = make_alert_incident(s, now=clock.now())
        service.change_status(s, incident=first, status="resolved", actor="hana", now=clock.now())
    with transaction(sessions) as s:
        service.change_status(
            s, incident=timeline.incident(s, number=1), status="investigating", actor="hana", now=clock.now()
        )
        incident, created = _attach(s, clock)
    assert (incident.number, created) == (1, False)


def test_concurrent_alerts_of_one_group_open_one_incident(sessions, applied_ops, clock):
    barrier = threading.Barrier(3)
    results: list[tuple[int, bool]] = []
    failures: list[BaseException] = []

    def route() -> None:
        try:
            barrier.wait()
            with transaction(sessions) as s:
                incident, created = _attach(s, clock)
                results.append((incident.number, created))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=route) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert sorted(results) == [(1, False), (1, False), (1, True)]
    with transaction(sessions) as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 1


def test_unknown_service_or_severity_is_refused(sessions, applied_ops, clock):
    with pytest.raises(ValidationFailed, match="valid: payment-platform"), transaction(sessions) as s:
        _attach(s, clock, service="nope")
    with pytest.raises(ValidationFailed, match="SEV1, SEV2"), transaction(sessions) as s:
        _attach(s, clock, severity="P1")


def test_first_ack_sets_acknowledged_at_once_and_makes_the_acker_ic(sessions, applied_ops, clock):
    with transaction(sessions) as s:
        make_alert_incident(s, now=clock.now())
    clock.advance(minutes=4)
    with transaction(sessions) as s:
        incident = service.acknowledge(
            s, incident=timeline.incident(s, number=1), person="@hana", now=clock.now()
        )
    acked = clock.now()
    assert incident.acknowledged_at == acked
    clock.advance(minutes=1)
    with transaction(sessions) as s:
        incident = service.acknowledge(
            s, incident=timeline.incident(s, number=1), person="ken", now=clock.now()
        )
        assert roles.ic_holder(s, incident=incident) == "hana"
        texts = [e.text for e in timeline.all_entries(s, incident=incident)][-3:]
    assert incident.acknowledged_at == acked
    assert texts == [
        "INC-1 acknowledged by @hana",
        "INC-1: @hana is IC",
        "INC-1 acknowledged by @ken (already acknowledged)",
    ]
