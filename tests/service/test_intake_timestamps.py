"""Issue 14 item 15: a source's timestamps are bounded before they become an incident's impact start.

PagerDuty's documentation example carries ``timestamp: 2015-07-17``; taken as given, it opened an
incident whose impact began in 2015 (SEV2 MTTD mean 120,104,284 s). Every source's start time is
clamped to [receipt − ``alert_start_max_age_seconds`` (24 h), receipt + ``alert_clock_skew_seconds``
(5 min) → receipt], and the incident's timeline says so. Through the real intake endpoints, on
SQLite and PostgreSQL, with the frozen clock (receipt = 2026-06-24 03:00 UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from commandpost.alerts.models import Alert
from commandpost.alerts.sources import registry, sns
from commandpost.incidents.models import Incident, TimelineEntry
from commandpost.settings import Settings
from tests.alert_support import keys, pd_trigger
from tests.fixtures.sns import signer

NOW = datetime(2026, 6, 24, 3, 0, tzinfo=UTC)  # conftest's FrozenClock
OLD = "2015-07-17T08:42:58.315+0000"  # PagerDuty's documentation example
OLD_AT = datetime(2015, 7, 17, 8, 42, 58, 315000, tzinfo=UTC)
TOPIC = signer.EXAMPLE_OPS_TOPIC


@pytest.fixture
def max_age() -> float | None:
    return None  # the default


@pytest.fixture
def settings(db_url: str, cert_dir: Path, max_age: float | None) -> Settings:
    extra = {} if max_age is None else {"alert_start_max_age_seconds": max_age}
    return Settings(
        database_url=db_url, engine_enabled=False, sns_cert_dir=cert_dir, sns_auto_confirm=False, **extra
    )


@pytest.fixture
def send(client: TestClient, applied_ops: Any, sessions: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``send(source, started)`` posts a paging alert that started at ``started`` (RFC 3339 text)."""
    monkeypatch.setitem(registry.SOURCES, "sns", registry.Source("sns", sns.parse, blocking=True))
    key = keys(sessions)

    def post(source: str, started: str, *, dedup: str = "db-down") -> Any:
        if source == "pagerduty":
            body: Any = pd_trigger(
                key["pagerduty"],
                dedup,
                timestamp=started,
                custom_details={"alertname": "DBConnectionsExhausted"},
            )
            answer = client.post("/v2/enqueue", json=body)
        elif source == "sns":
            alarm = signer.alarm(StateChangeTime=started, NewStateValue="ALARM")
            message = signer.sign(signer.notification(alarm, topic=TOPIC, message_id=f"m-{dedup}"))
            answer = client.post(
                f"/api/v1/intake/sns/{key['sns']}",
                content=signer.body(message),
                headers={"Content-Type": "text/plain"},
            )
        else:
            labels = {"alertname": "DBConnectionsExhausted", "instance": dedup}
            alert = {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": "DB connections exhausted"},
            }
            if source == "generic":
                body = {
                    "dedup_key": dedup,
                    "summary": "DB connections exhausted",
                    "alertname": "DBConnectionsExhausted",
                    "starts_at": started,
                }
            elif source == "alertmanager":
                body = {"version": "4", "status": "firing", "alerts": [{**alert, "startsAt": started}]}
            else:
                body = {"version": "1", "status": "firing", "alerts": [{**alert, "startsAt": started}]}
            answer = client.post(f"/api/v1/intake/{source}/{key[source]}", json=body)
        assert answer.status_code == 202, answer.text
        return answer

    return post


def opened(session: Any) -> tuple[Alert, Incident, list[TimelineEntry]]:
    session.rollback()
    alert = session.scalars(select(Alert).order_by(Alert.id.desc())).first()
    assert alert is not None and alert.incident_id is not None, "the alert opened no incident"
    incident = session.get(Incident, alert.incident_id)
    entries = list(
        session.scalars(
            select(TimelineEntry).where(TimelineEntry.incident_id == incident.id).order_by(TimelineEntry.id)
        )
    )
    return alert, incident, entries


def clamp_notes(entries: list[TimelineEntry]) -> list[TimelineEntry]:
    return [e for e in entries if e.data and "clamped" in e.data]


SOURCES = ["pagerduty", "alertmanager", "grafana", "sns", "generic"]


@pytest.mark.parametrize("source", SOURCES)
def test_a_start_years_old_is_clamped_to_a_day_before_receipt_and_the_timeline_says_so(
    send: Any, session: Any, source: str
) -> None:
    send(source, OLD)
    alert, incident, entries = opened(session)
    bound = NOW - timedelta(hours=24)
    assert incident.impact_started_at == bound  # not 2015
    assert incident.detected_at == NOW
    assert (incident.detected_at - incident.impact_started_at).total_seconds() == 86_400  # MTTD ≤ 24 h
    assert alert.starts_at == bound
    [note] = clamp_notes(entries)
    assert note.kind == "alert"
    assert "2015-07-17" in note.text and "24h" in note.text
    assert note.data["clamped"] == [
        {"field": "starts_at", "source": OLD_AT.isoformat(), "used": bound.isoformat(), "why": "too old"}
    ]


@pytest.mark.parametrize("source", ["pagerduty", "generic", "alertmanager"])
def test_a_start_in_the_future_is_taken_as_the_receipt_time(send: Any, session: Any, source: str) -> None:
    send(source, (NOW + timedelta(hours=2)).isoformat())
    alert, incident, entries = opened(session)
    assert alert.starts_at == NOW
    assert incident.impact_started_at == NOW
    [note] = clamp_notes(entries)
    assert "in the future" in note.text
    assert note.data["clamped"][0]["why"] == "in the future"


def test_a_start_within_the_bounds_is_kept_and_not_noted(send: Any, session: Any) -> None:
    send("generic", (NOW - timedelta(hours=23)).isoformat(), dedup="a")
    alert, incident, entries = opened(session)
    assert alert.starts_at == incident.impact_started_at == NOW - timedelta(hours=23)
    assert clamp_notes(entries) == []

    send("generic", (NOW + timedelta(minutes=4)).isoformat(), dedup="b")  # within the clock skew
    alert, _incident, entries = opened(session)
    assert alert.starts_at == NOW + timedelta(minutes=4)  # the source's word, as given
    assert clamp_notes(entries) == []


@pytest.mark.parametrize("max_age", [3600.0])
def test_the_bound_is_a_setting(send: Any, session: Any) -> None:
    send("generic", (NOW - timedelta(hours=3)).isoformat())
    alert, incident, entries = opened(session)
    assert incident.impact_started_at == alert.starts_at == NOW - timedelta(hours=1)
    [note] = clamp_notes(entries)
    assert "1h" in note.text


def test_an_end_in_the_future_is_taken_as_the_receipt_time(
    send: Any, client: TestClient, sessions: Any, session: Any
) -> None:
    send("alertmanager", (NOW - timedelta(minutes=5)).isoformat(), dedup="db-9")
    resolved = {
        "status": "resolved",
        "labels": {"alertname": "DBConnectionsExhausted", "instance": "db-9"},
        "startsAt": (NOW - timedelta(minutes=5)).isoformat(),
        "endsAt": (NOW + timedelta(days=3)).isoformat(),
    }
    answer = client.post(
        f"/api/v1/intake/alertmanager/{keys(sessions)['alertmanager']}",
        json={"version": "4", "status": "resolved", "alerts": [resolved]},
    )
    assert answer.json()["outcome"] == "resolved", answer.text
    alert, _incident, _entries = opened(session)
    assert alert.status == "resolved"
    assert alert.ends_at == NOW


def test_ingest_called_directly_clamps_with_the_defaults(
    sessions: Any, applied_ops: Any, session: Any
) -> None:
    """The pipeline every caller shares (the engine's burn alerts, the demo) bounds starts too."""
    from commandpost.alerts import service
    from commandpost.alerts.normalized import NormalizedEvent

    with sessions() as s:
        integration = next(k for k in keys_rows(s) if k.source == "generic")
        ref = service.integration_for_key(s, key=integration.key)
        assert ref is not None
        event = NormalizedEvent(
            action="trigger",
            dedup_key="direct",
            summary="DB connections exhausted",
            alertname="DBConnectionsExhausted",
            starts_at=OLD_AT,
        )
        (out,) = service.ingest(s, integration=ref, events=[event], now=NOW)
        s.commit()
    assert out.outcome == "incident_opened"
    _alert, incident, entries = opened(session)
    assert incident.impact_started_at == NOW - timedelta(hours=24)
    assert len(clamp_notes(entries)) == 1


def keys_rows(session: Any) -> Any:
    from commandpost.policy import service as policy_service

    return policy_service.list_integrations(session)
