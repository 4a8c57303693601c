"""The metrics API on both databases: every endpoint's happy path, scopes, bad input (4xx, nothing
stored), the budget gauges at /metrics after the burn-rate processor ran, and the freeze in the web UI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from commandpost.db.engine import transaction
from commandpost.metrics import slo
from commandpost.metrics.models import SloEvent
from commandpost.metrics.processors import BurnRateAlerts
from commandpost.security import users
from commandpost.security.models import AuditLog
from tests.api.test_web_auth import PASSWORD, login
from tests.factories import make_incident

NOW = datetime(2026, 6, 24, 3, 0, tzinfo=UTC)
EVENTS = "/api/v1/slos/payment-platform/availability/events"


@pytest.fixture
def reader(auth, applied_ops):  # type: ignore[no-untyped-def]
    return auth("read", person="hana")


@pytest.fixture
def responder(auth, applied_ops):  # type: ignore[no-untyped-def]
    return auth("responder", person="yuta")


@pytest.fixture
def reporting(sessions, applied_ops) -> None:  # type: ignore[no-untyped-def]
    """The SLI has been pushed for four days (a count of no traffic then): enough of the 30-day window
    for an overspent budget to freeze (10 %, docs/metrics.md "Coverage")."""
    with transaction(sessions) as s:
        slo.push(
            s,
            config=applied_ops,
            service="payment-platform",
            slo="availability",
            counts=[slo.Count("since", 0, 0, NOW - timedelta(days=4))],
            now=NOW,
        )


def _count(i: int, good: int = 999, total: int = 1000, minutes: int = 1) -> dict[str, object]:
    return {"id": f"e{i}", "good": good, "total": total, "at": (NOW - timedelta(minutes=minutes)).isoformat()}


def test_push_counts_then_read_the_slo(client, reader, responder, session, reporting) -> None:  # type: ignore[no-untyped-def]
    r = client.post(EVENTS, json={"events": [_count(1), _count(2, 990)]}, headers=responder)
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 2, "duplicates": 0}
    again = client.post(EVENTS, json={"events": [_count(2, 990), _count(3)]}, headers=responder)
    assert again.json() == {"accepted": 1, "duplicates": 1}
    one = client.get("/api/v1/slos/payment-platform/availability", headers=reader)
    assert one.status_code == 200, one.text
    body = one.json()
    assert body["source"] == "events"
    assert body["budget"]["allowed"] == 3.0 and body["budget"]["consumed"] == 12.0
    assert body["burn_rates"]["5m"] == 4.0  # 12 bad of 3,000 against 0.1 %
    assert body["freeze"] is True and body["service_freeze"] == {
        "service": "payment-platform",
        "freeze": True,
        "exhausted": ["availability"],
    }
    listing = client.get("/api/v1/slos", headers=reader).json()
    assert [(s["slo"], s["source"]) for s in listing["slos"]] == [
        ("availability", "events"),
        ("charge-success", "none"),
    ]
    assert listing["services"] == [body["service_freeze"]]
    session.rollback()
    audit = session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert audit is not None and audit.target == "slo:payment-platform/availability"


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (
            {"events": [_count(1, good=11, total=10)]},
            422,
            "events[0]: good (11) must be between 0 and total (10)",
        ),
        ({"events": [{"id": "x", "good": 1, "total": 1, "at": "2026-06-24T02:59:00"}]}, 422, "timezone"),
        ({"events": []}, 422, "events"),
        ({"events": [_count(i) for i in range(5001)]}, 422, "events"),
        ({"events": [_count(1) | {"extra": 1}]}, 422, "extra"),
        ({"events": [_count(1), _count(1)]}, 422, "appears twice"),
        ({"events": [_count(1, minutes=-10)]}, 422, "is in the future"),
    ],
)
def test_bad_counts_are_refused_and_nothing_is_stored(
    client, responder, session, body, status, fragment
) -> None:  # type: ignore[no-untyped-def]
    r = client.post(EVENTS, json=body, headers=responder)
    assert r.status_code == status, r.text
    assert fragment in r.text
    assert session.scalar(select(func.count()).select_from(SloEvent)) == 0


def test_scopes_and_unknown_slos(client, reader, responder) -> None:  # type: ignore[no-untyped-def]
    assert client.post(EVENTS, json={"events": [_count(1)]}, headers=reader).status_code == 403
    assert client.get("/api/v1/slos").status_code == 401
    missing = client.post(
        "/api/v1/slos/payment-platform/latency/events", json={"events": [_count(1)]}, headers=responder
    )
    assert missing.status_code == 404
    assert (
        "has no SLO 'latency' (its SLOs: availability, charge-success)" in missing.json()["error"]["message"]
    )
    assert client.get("/api/v1/slos/checkout/availability", headers=reader).status_code == 404
    assert client.get("/api/v1/slos?service=checkout", headers=reader).status_code == 404


def test_targets_response_and_the_other_reports(client, reader) -> None:  # type: ignore[no-untyped-def]
    targets = client.get("/api/v1/slos/targets", headers=reader).json()
    assert [s["allowed_downtime"] for s in targets["slos"]] == ["43.2 min", "13.104 min"]
    r = client.get(
        "/api/v1/metrics/response", params={"from": "2026-06-01", "severity": "SEV1"}, headers=reader
    )
    assert r.status_code == 200, r.text
    assert (r.json()["from"], r.json()["to"], r.json()["severities"]) == (
        "2026-06-01T00:00:00+00:00",
        NOW.isoformat(),
        [],
    )
    bad = client.get("/api/v1/metrics/response", params={"from": "2026-07-01"}, headers=reader)
    assert bad.status_code == 422 and "must be before" in bad.json()["error"]["message"]
    assert (
        client.get("/api/v1/metrics/response", params={"severity": "SEV9"}, headers=reader).status_code == 422
    )
    health = client.get("/api/v1/metrics/oncall-health", params={"hours_per_incident": 4}, headers=reader)
    assert health.status_code == 200 and health.json()["hours_per_incident"] == 4.0
    assert [r["below_8_person_minimum"] for r in health.json()["rotations"]] == [True, True]
    quality = client.get("/api/v1/metrics/alert-quality", params={"auto_resolve_minutes": 3}, headers=reader)
    assert quality.status_code == 200 and quality.json()["alerts_per_incident"] is None
    assert client.get("/api/v1/metrics/toil", headers=reader).json() == []
    assert client.get("/api/v1/metrics/alert-quality", params={"limit": 0}, headers=reader).status_code == 422


def test_gauges_at_metrics_after_an_evaluation(client, responder, sessions, reporting) -> None:  # type: ignore[no-untyped-def]
    client.post(EVENTS, json={"events": [_count(1, good=900)]}, headers=responder)
    with transaction(sessions) as s:
        BurnRateAlerts().run(s, NOW)
    text = client.get("/metrics").text
    assert (
        'commandpost_slo_burn_rate{service="payment-platform",slo="availability",window="5m"} 100.0' in text
    )
    assert 'commandpost_slo_freeze{service="payment-platform"} 1.0' in text
    assert (
        'commandpost_slo_error_budget_remaining_ratio{service="payment-platform",slo="availability"} -99.0'
        in text
    )
    # the unit is in the name, not a label: 100 bad events of 1 allowed (1,000 at 99.9 %)
    labels = '{service="payment-platform",slo="availability"}'
    assert f"commandpost_slo_error_budget_consumed_events{labels} 100.0" in text
    assert f"commandpost_slo_error_budget_allowed_events{labels} 1.0" in text
    assert "commandpost_slo_error_budget_consumed_seconds{" not in text  # no time-based SLO here
    assert 'unit="' not in text


def test_the_web_ui_shows_the_freeze(client, responder, sessions, applied_ops, clock, reporting) -> None:  # type: ignore[no-untyped-def]
    """Guide §7 in the web UI: while the budget is exhausted the incident page of the service carries
    the freeze banner and the metrics page marks the SLO; within budget neither does."""
    with transaction(sessions) as s:
        users.set_password(
            s, config=applied_ops, handle="hana", password=PASSWORD, role="read", now=clock.now()
        )
        make_incident(s, severity="SEV3")  # SEV3: no bad minutes of its own
    login(client, "hana")
    banner = "SLO freeze: payment-platform has exhausted its error budget (availability)"
    client.post(EVENTS, json={"events": [_count(1, good=1000)]}, headers=responder)
    within = client.get("/incidents/INC-1")
    assert within.status_code == 200 and "SLO freeze" not in within.text
    assert 'class="badge bad">freeze' not in client.get("/insights").text
    client.post(EVENTS, json={"events": [_count(2, good=990)]}, headers=responder)  # 10 bad, 2 allowed
    frozen = client.get("/incidents/INC-1")
    assert frozen.status_code == 200 and banner in frozen.text
    insights = client.get("/insights")
    assert insights.status_code == 200
    assert "payment-platform/availability</td><td>99.9% / 30d</td>" in insights.text
    assert 'class="badge bad">freeze</span>' in insights.text


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/api/v1/metrics/response?to=0001-03-01T23:01:00Z", "must be from 1970 to 2999"),
        ("/api/v1/metrics/response?from=1969-12-31T00:00:00Z", "must be from 1970 to 2999"),
        (
            "/api/v1/metrics/oncall-health?from=2026-09-16T09:37:54Z&to=2026-09-16T09:37:54.12916Z",
            "at least a minute before",
        ),
        ("/api/v1/metrics/alert-quality?from=2026-09-16T09:37:54Z&to=2026-09-16T09:38:00Z", "a minute"),
    ],
)
def test_a_period_before_1970_or_under_a_minute_is_a_422_not_a_500(client, applied_ops, auth, path, says):
    """Found by schemathesis (400 examples per operation): a `to` in year 1 overflowed the default
    `from`, and a zero-length on-call period divided by zero — both 500s."""
    r = client.get(path, headers=auth("read"))
    assert r.status_code == 422, r.text
    assert says in r.json()["error"]["message"], r.text


def test_a_default_period_reaching_before_1970_starts_there(client, applied_ops, auth):
    r = client.get("/api/v1/metrics/response?to=1970-01-02T00:00:00Z", headers=auth("read"))
    assert r.status_code == 200, r.text
