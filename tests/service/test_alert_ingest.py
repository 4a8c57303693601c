"""The intake pipeline on a real database (SQLite and PostgreSQL): dedup, routing, incidents, timeline."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from commandpost.alerts import service
from commandpost.alerts.models import Alert, AlertEvent, ChangeEvent
from commandpost.alerts.normalized import NormalizedEvent
from commandpost.incidents import service as incident_service
from commandpost.incidents.models import Incident, TimelineEntry
from commandpost.policy import service as policy_service
from tests.alert_support import apply_variant, counts, keys

DB_ALERT = {"alertname": "DBConnectionsExhausted"}


@pytest.fixture
def ingest(sessions, clock, applied_ops, session):
    """``ingest("pagerduty", event, …)`` → outcomes, committed like one intake request (the read-only
    ``session`` then starts a fresh snapshot, so it sees what was committed)."""

    def run(source: str, *events: NormalizedEvent, body=None):
        with sessions() as s:
            ref = service.integration_for_key(s, key=keys(sessions)[source])
            out = service.ingest(s, integration=ref, events=list(events), now=clock.now(), body=body)
            s.commit()
        session.rollback()
        return out

    return run


def trig(key: str = "k-1", **fields) -> NormalizedEvent:
    return NormalizedEvent(
        action="trigger", dedup_key=key, **{"summary": "DB connections exhausted", **fields}
    )


def alert_entries(session, number: int) -> list[str]:
    inc = session.scalars(select(Incident).where(Incident.number == number)).one()
    rows = session.scalars(
        select(TimelineEntry).where(TimelineEntry.incident_id == inc.id, TimelineEntry.kind == "alert")
    )
    return [r.text for r in rows]


def test_paging_trigger_opens_an_automatic_incident_with_the_rules_runbook(ingest, session, clock):
    started = clock.now() - timedelta(minutes=7)
    (out,) = ingest("pagerduty", trig(**DB_ALERT, starts_at=started))
    assert (out.outcome, out.incident, out.severity, out.count) == ("incident_opened", 1, "SEV1", 1)
    alert = session.get(Alert, out.alert_id)
    assert (alert.status, alert.severity, alert.runbook, alert.no_runbook) == (
        "triggered",
        "SEV1",
        "db-connection-exhaustion",
        False,
    )
    inc = session.scalars(select(Incident)).one()
    assert (inc.detection, inc.severity, inc.runbook, inc.no_runbook) == (
        "automatic",
        "SEV1",
        "db-connection-exhaustion",
        False,
    )
    assert inc.impact_started_at == started and inc.detected_at == clock.now()
    assert alert.incident_id == inc.id and alert.incident_number == inc.number


def test_repeats_bump_the_count_and_write_an_entry_only_at_10_100_1000(ingest, session, clock):
    ingest("pagerduty", trig(**DB_ALERT))
    outs = []
    for _ in range(99):
        clock.advance(seconds=1)
        outs += ingest("pagerduty", trig(**DB_ALERT))
    assert {o.outcome for o in outs} == {"deduplicated"} and {o.incident for o in outs} == {1}
    alert = session.scalars(select(Alert)).one()
    assert alert.count == 100 and alert.last_seen_at == clock.now() and alert.first_seen_at < clock.now()
    texts = alert_entries(session, 1)
    assert [t for t in texts if "repeated" in t] == [
        "alert repeated ×10: DB connections exhausted",
        "alert repeated ×100: DB connections exhausted",
    ]
    assert session.query(Incident).count() == 1


def test_resolve_closes_the_alert_but_never_the_incident(ingest, session):
    ingest("pagerduty", trig(**DB_ALERT))
    (out,) = ingest("pagerduty", NormalizedEvent(action="resolve", dedup_key="k-1"))
    assert (out.outcome, out.incident) == ("resolved", 1)
    alert = session.scalars(select(Alert)).one()
    assert (alert.status, alert.open_dedup_key) == ("resolved", None) and alert.resolved_at is not None
    inc = session.scalars(select(Incident)).one()
    assert inc.status == "investigating" and inc.resolved_at is None
    assert any("alert resolved" in t and "stays open" in t for t in alert_entries(session, 1))


def test_trigger_after_resolve_opens_a_new_alert_on_the_same_open_incident(ingest, session):
    ingest("pagerduty", trig(**DB_ALERT))
    ingest("pagerduty", NormalizedEvent(action="resolve", dedup_key="k-1"))
    (out,) = ingest("pagerduty", trig(**DB_ALERT))
    assert (out.outcome, out.incident) == ("attached", 1)
    alerts = session.scalars(select(Alert).order_by(Alert.id)).all()
    assert [a.status for a in alerts] == ["resolved", "triggered"] and alerts[1].count == 1


def test_acknowledge_marks_the_alert_not_the_incident(ingest, session):
    ingest("pagerduty", trig(**DB_ALERT))
    (out,) = ingest("pagerduty", NormalizedEvent(action="acknowledge", dedup_key="k-1"))
    assert (out.outcome, out.incident) == ("recorded", 1)
    alert = session.scalars(select(Alert)).one()
    assert alert.status == "acknowledged" and alert.acknowledged_at is not None
    assert session.scalars(select(Incident)).one().acknowledged_at is None
    # a trigger while acknowledged is a repeat of the same open alert
    (again,) = ingest("pagerduty", trig(**DB_ALERT))
    assert again.outcome == "deduplicated" and session.get(Alert, alert.id).status == "acknowledged"


def test_acknowledge_or_resolve_of_an_unknown_key_is_recorded_not_an_error(ingest, session):
    before = counts(session)
    outs = ingest(
        "pagerduty",
        NormalizedEvent(action="acknowledge", dedup_key="ghost"),
        NormalizedEvent(action="resolve", dedup_key="ghost"),
    )
    assert [o.outcome for o in outs] == ["recorded", "recorded"]
    after = counts(session)
    assert after["alert_event"] == before["alert_event"] + 2 and after["alert"] == before["alert"]
    rows = session.scalars(select(AlertEvent).order_by(AlertEvent.id)).all()
    assert [(r.action, r.dedup_key, r.outcome) for r in rows] == [
        ("acknowledge", "ghost", "recorded"),
        ("resolve", "ghost", "recorded"),
    ]


def test_record_events_are_kept_without_touching_alerts(ingest, session):
    (out,) = ingest(
        "generic", NormalizedEvent(action="record", dedup_key="alarm-1", summary="INSUFFICIENT_DATA")
    )
    assert out.outcome == "recorded" and out.alert_id is None
    assert session.scalars(select(AlertEvent)).one().summary == "INSUFFICIENT_DATA"
    assert counts(session)["alert"] == 0


def test_a_delivery_with_an_idempotency_key_changes_nothing_the_second_time(ingest, session):
    first = ingest("generic", trig("k-9", **DB_ALERT, idempotency_key="msg-1"))
    state = counts(session)
    again = ingest("generic", trig("k-9", **DB_ALERT, idempotency_key="msg-1"))
    assert first[0].outcome == "incident_opened"
    assert (again[0].outcome, again[0].alert_id, again[0].incident) == ("deduplicated", first[0].alert_id, 1)
    assert counts(session) == state
    assert session.scalars(select(Alert)).one().count == 1
    row = session.scalars(select(AlertEvent)).one()
    assert (row.idempotency_key, row.outcome, row.alert_id) == ("msg-1", "incident_opened", first[0].alert_id)
    # the same delivery id on another integration is another delivery
    other = ingest("pagerduty", trig("k-9", **DB_ALERT, idempotency_key="msg-1"))
    assert other[0].outcome == "attached"


def test_sev3_tells_the_channel_in_business_hours_and_is_suppressed_outside(ingest, session, clock):
    (inside,) = ingest("generic", trig("noise-1", alertname="Other"))  # 12:00 JST on a Wednesday
    assert (inside.outcome, inside.severity, inside.incident) == ("recorded", "SEV3", None)
    assert session.get(Alert, inside.alert_id).notify_after == clock.now()
    clock.advance(hours=9)  # 21:00 JST
    (outside,) = ingest("generic", trig("noise-2", alertname="Other"))
    assert outside.outcome == "suppressed"
    opening = session.get(Alert, outside.alert_id).notify_after
    assert opening is not None and opening.isoformat() == "2026-06-25T00:00:00+00:00"  # Thu 09:00 JST
    assert counts(session)["incident"] == 0


def test_sev4_is_recorded_only(sessions, clock, tmp_path, session):
    def sev4_for_info(svc):
        svc["alert_rules"].append({"match": {"source_severity": "info"}, "severity": "SEV4"})

    k = apply_variant(sessions, clock, tmp_path, sev4_for_info)
    with sessions() as s:
        ref = service.integration_for_key(s, key=k["generic"])
        (out,) = service.ingest(
            s, integration=ref, events=[trig("x", source_severity="info")], now=clock.now()
        )
        s.commit()
    session.rollback()
    assert (out.outcome, out.severity) == ("recorded", "SEV4")
    assert session.get(Alert, out.alert_id).notify_after is None


def test_paging_alert_without_runbook_still_pages_marked_no_runbook(sessions, clock, tmp_path, session):
    # `check` refuses a paging default without a default_runbook (issue 14, item 12); a revision an
    # older commandpost applied can still have one: such an alert still pages, marked no runbook
    k = apply_variant(sessions, clock, tmp_path, lambda svc: None)
    with sessions() as s:
        applied = policy_service.current_config(s)
        (svc,) = applied.services
        config = applied.model_copy(
            update={"services": [svc.model_copy(update={"default_severity": "SEV2"})]}
        )
        ref = service.integration_for_key(s, key=k["generic"])
        (out,) = service.ingest(
            s, integration=ref, events=[trig("x", alertname="Unknown")], now=clock.now(), config=config
        )
        (linked,) = service.ingest(
            s,
            integration=ref,
            events=[
                trig("y", alertname="Else", runbook_url="https://runbooks.internal/payment-webhook-backlog")
            ],
            now=clock.now(),
            config=config,
        )
        s.commit()
    session.rollback()
    assert (out.outcome, out.unrunbooked_page) == ("incident_opened", True)
    inc = session.scalars(select(Incident).where(Incident.number == out.incident)).one()
    assert inc.no_runbook is True and inc.runbook is None
    assert session.get(Alert, out.alert_id).no_runbook is True
    assert (linked.unrunbooked_page, session.get(Alert, linked.alert_id).runbook) == (
        False,
        "payment-webhook-backlog",
    )


def test_alerts_of_one_group_share_an_incident_and_other_groups_get_their_own(ingest, session):
    a = ingest("alertmanager", trig("fp-1", alertname="X", group_key="{}:{a}", **{"source_severity": ""}))
    # default SEV3 does not page: use the paging rule's alertname with two instances
    one = ingest("alertmanager", trig("fp-2", **DB_ALERT, labels={"instance": "db-1"}))
    two = ingest("alertmanager", trig("fp-3", **DB_ALERT, labels={"instance": "db-2"}))
    other = ingest("alertmanager", trig("fp-4", alertname="WebhookBacklogHigh"))
    assert a[0].outcome == "recorded"
    assert (one[0].outcome, two[0].outcome, other[0].outcome) == (
        "incident_opened",
        "attached",
        "incident_opened",
    )
    assert one[0].incident == two[0].incident != other[0].incident
    assert [a.dedup_key for a in service.incident_alerts(session, number=one[0].incident)] == ["fp-2", "fp-3"]


def test_alert_resolution_on_a_closed_incident_writes_no_entry(ingest, sessions, session, clock):
    ingest("pagerduty", trig(**DB_ALERT))
    with sessions() as s:
        inc = s.scalars(select(Incident)).one()
        incident_service.change_status(
            s, incident=inc, status="closed", actor="yuta", now=clock.now(), note="done"
        )
        s.commit()
    entries_before = counts(session)["timeline_entry"]
    (out,) = ingest("pagerduty", NormalizedEvent(action="resolve", dedup_key="k-1"))
    assert out.outcome == "resolved"
    assert counts(session)["timeline_entry"] == entries_before


def test_stored_text_is_redacted_and_raw_is_capped(ingest, session):
    secret = "AKIAIOSFODNN7EXAMPLE"
    raw = {"payload": {"summary": f"key {secret} leaked", "blob": "x" * 40_000}}
    (out,) = ingest(
        "pagerduty",
        trig("r-1", summary=f"key {secret} leaked", details={"password": "hunter2"}, raw=raw),
    )
    alert = session.get(Alert, out.alert_id)
    assert secret not in alert.summary and "REDACTED" in alert.summary
    assert alert.details == {"password": "[REDACTED:secret-key]"}
    assert alert.raw["truncated"] is True and alert.raw["bytes"] > 40_000
    assert secret not in alert.raw["head"] and len(alert.raw["head"]) <= service.MAX_RAW_BYTES


def test_change_events_are_recent_changes_of_the_service_newest_first(ingest, session, clock):
    deploy = NormalizedEvent(
        action="record", dedup_key="c1", kind="change", summary="Deploy v42", source="ci"
    )
    ingest("pagerduty", deploy)
    clock.advance(minutes=5)
    ingest(
        "pagerduty",
        NormalizedEvent(
            action="record",
            dedup_key="c0",
            kind="change",
            summary="Old",
            starts_at=clock.now() - timedelta(days=2),
        ),
    )
    ingest("pagerduty", NormalizedEvent(action="record", dedup_key="c2", kind="change", summary="Flag flip"))
    clock.advance(minutes=1)
    (opened,) = ingest("pagerduty", trig(**DB_ALERT))
    clock.advance(minutes=10)
    ingest(
        "pagerduty", NormalizedEvent(action="record", dedup_key="c3", kind="change", summary="Rollback v42")
    )
    assert counts(session)["change_event"] == 4
    incident, changes = service.incident_changes(session, number=opened.incident, now=clock.now())
    assert incident.number == opened.incident
    assert [c.summary for c in changes] == ["Rollback v42", "Flag flip", "Deploy v42"]
    assert (
        session.scalars(select(ChangeEvent).where(ChangeEvent.summary == "Deploy v42")).one().origin == "ci"
    )


def test_listing_filters(ingest, session):
    ingest("pagerduty", trig("a", **DB_ALERT))
    ingest("pagerduty", trig("b", alertname="Other"))
    ingest("pagerduty", NormalizedEvent(action="resolve", dedup_key="b"))
    assert [a.dedup_key for a in service.list_alerts(session)] == ["b", "a"]
    assert [a.dedup_key for a in service.list_alerts(session, status="open")] == ["a"]
    assert [a.dedup_key for a in service.list_alerts(session, status="resolved")] == ["b"]
    assert service.list_alerts(session, service="search") == []
    assert [a.dedup_key for a in service.list_alerts(session, limit=1, before=2)] == ["a"]
    from commandpost.errors import NotFound, ValidationFailed

    with pytest.raises(ValidationFailed, match="status 'burning' is not one of"):
        service.list_alerts(session, status="burning")
    with pytest.raises(NotFound):
        service.get_alert(session, alert_id=999)


def test_a_webhook_of_distinct_firing_alerts_is_one_bump_then_inserts_in_order(ingest, session):
    first = ingest("alertmanager", trig("fp-a", **DB_ALERT), trig("fp-b", **DB_ALERT))
    assert [o.outcome for o in first] == ["incident_opened", "attached"]
    again = ingest(
        "alertmanager", trig("fp-b", **DB_ALERT), trig("fp-c", **DB_ALERT), trig("fp-a", **DB_ALERT)
    )
    assert [(o.dedup_key, o.outcome, o.count) for o in again] == [
        ("fp-b", "deduplicated", 2),
        ("fp-c", "attached", 1),
        ("fp-a", "deduplicated", 2),
    ]
    # the same key twice in one request is applied one event at a time
    twice = ingest("alertmanager", trig("fp-a", **DB_ALERT), trig("fp-a", **DB_ALERT))
    assert [o.count for o in twice] == [3, 4]
    counts_by_key = {a.dedup_key: a.count for a in session.scalars(select(Alert))}
    assert counts_by_key == {"fp-a": 4, "fp-b": 2, "fp-c": 1}
