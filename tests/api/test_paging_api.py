"""The paging endpoints over HTTP: escalate, pages (with delivery), ack stopping escalation, the
PagerDuty acknowledge event, errors and auth — on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest

from commandpost.db.engine import transaction
from commandpost.notify.sender import NotificationSender
from tests.alert_support import keys, pd_trigger
from tests.engine.test_paging_engine import Recording
from tests.paging_support import processor, run_until

DB = {"class": "DBConnectionsExhausted"}


@pytest.fixture
def k(sessions, applied_ops):  # type: ignore[no-untyped-def]
    return keys(sessions)


def _deliver(sessions, clock, settings) -> Recording:  # type: ignore[no-untyped-def]
    channels = Recording()
    sender = NotificationSender(settings, channels=channels, owner="t", rand=lambda: 0.5)  # type: ignore[arg-type]
    with transaction(sessions) as s:
        sender.run(s, clock.now())
    sender.close()
    return channels


def test_an_alert_pages_and_the_pages_endpoint_says_who_when_where_and_whether_delivered(
    client, auth, k, sessions, clock, settings
):
    r = client.post("/v2/enqueue", json=pd_trigger(k["pagerduty"], **DB))
    assert (r.status_code, r.json()["incident"]) == (202, "INC-1")
    run_until(sessions, clock, clock.now(), processor())
    _deliver(sessions, clock, settings)
    r = client.get("/api/v1/incidents/INC-1/pages", headers=auth("read"))
    assert r.status_code == 200
    body = r.json()
    assert body["number"] == "INC-1" and body["severity"] == "SEV1"
    esc = body["escalation"]
    assert (esc["state"], esc["levels"], esc["next_level"], esc["next_targets"]) == (
        "active",
        2,
        2,
        ["secondary_oncall", "team_lead"],
    )
    assert esc["next_escalation_at"] == (clock.now() + timedelta(minutes=5)).isoformat().replace(
        "+00:00", "Z"
    )
    pages = [(p["kind"], p["level"], p["person"], p["channel"], p["delivered"]) for p in body["pages"]]
    assert pages == [
        ("fyi", None, "sato", "email", True),
        ("fyi", None, "sato", "console", True),
        ("page", 1, "yuta", "slack", True),
        ("page", 1, "yuta", "email", True),
        ("page", 1, "yuta", "push", True),
        ("page", 1, "yuta", "console", True),
    ]
    slack = body["pages"][2]
    # a webhook URL is a credential: its host only
    assert slack["destination"] == "slack:yuta@example.com or https://hooks.slack.example/…"
    assert slack["target"] == "primary_oncall" and slack["attempts"] == 1 and slack["sent_at"]


def test_ack_stops_escalation_at_once_in_the_api_and_for_the_engine(client, auth, k, sessions, clock):
    client.post("/v2/enqueue", json=pd_trigger(k["pagerduty"], **DB))
    esc = processor()
    run_until(sessions, clock, clock.now(), esc)
    r = client.post("/api/v1/incidents/INC-1/ack", headers=auth("responder", person="yuta"))
    assert r.status_code == 200 and r.json()["ic"] == "yuta"
    r = client.get("/api/v1/incidents/INC-1/pages", headers=auth("read"))
    assert (r.json()["escalation"]["state"], r.json()["escalation"]["next_escalation_at"]) == (
        "acknowledged",
        None,
    )
    run_until(sessions, clock, clock.now() + timedelta(hours=1), esc)
    pages = client.get("/api/v1/incidents/INC-1/pages", headers=auth("read")).json()["pages"]
    assert {p["level"] for p in pages if p["kind"] == "page"} == {1}


def test_a_pagerduty_acknowledge_event_stops_escalation(client, auth, k, sessions, clock):
    client.post("/v2/enqueue", json=pd_trigger(k["pagerduty"], **DB))
    esc = processor()
    run_until(sessions, clock, clock.now(), esc)
    r = client.post(
        "/v2/enqueue", json={"routing_key": k["pagerduty"], "event_action": "acknowledge", "dedup_key": "k-1"}
    )
    assert r.status_code == 202
    run_until(sessions, clock, clock.now() + timedelta(hours=1), esc)
    body = client.get("/api/v1/incidents/INC-1/pages", headers=auth("read")).json()
    assert body["escalation"]["state"] == "acknowledged"
    assert body["escalation"]["acknowledged_by"] == "pagerduty ack"
    assert {p["level"] for p in body["pages"] if p["kind"] == "page"} == {1}


def test_escalate_pages_the_next_level_now(client, auth, k, sessions, clock):
    client.post("/v2/enqueue", json=pd_trigger(k["pagerduty"], **DB))
    run_until(sessions, clock, clock.now(), processor())
    clock.advance(minutes=1)
    r = client.post("/api/v1/incidents/INC-1/escalate", headers=auth("responder", person="hana"))
    assert r.status_code == 200
    out = r.json()
    assert out["number"] == "INC-1" and out["queued"] == 8  # hana and yuta: slack, email, push, console
    assert (out["escalation"]["state"], out["escalation"]["next_level"]) == ("active", None)
    pages = client.get("/api/v1/incidents/INC-1/pages", headers=auth("read")).json()["pages"]
    assert {(p["person"], p["escalated_by"]) for p in pages if p["level"] == 2} == {
        ("hana", "hana"),
        ("yuta", "hana"),
    }
    timeline = client.get("/api/v1/incidents/INC-1/timeline", headers=auth("read")).json()["entries"]
    assert timeline[-1]["kind"] == "page" and timeline[-1]["text"].startswith("INC-1: escalated by @hana")


def test_errors_say_what_and_store_nothing(client, auth, k, sessions, clock):
    client.post(
        "/api/v1/incidents",
        json={"title": "CSV", "severity": "SEV3", "service": "payment-platform"},
        headers=auth("responder"),
    )
    r = client.post("/api/v1/incidents/INC-1/escalate", headers=auth("responder"))
    assert r.status_code == 409 and "pages nobody for SEV3" in r.json()["error"]["message"]
    assert client.post("/api/v1/incidents/INC-9/escalate", headers=auth("responder")).status_code == 404
    assert client.post("/api/v1/incidents/nope/escalate", headers=auth("responder")).status_code == 422
    assert client.get("/api/v1/incidents/INC-9/pages", headers=auth("read")).status_code == 404
    assert client.post("/api/v1/incidents/INC-1/escalate", headers=auth("read")).status_code == 403
    assert client.post("/api/v1/incidents/INC-1/escalate").status_code == 401
    assert client.get("/api/v1/incidents/INC-1/pages", headers=auth("read")).json()["pages"] == []


def test_the_routes_are_in_the_openapi_contract(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert "post" in paths["/api/v1/incidents/{number}/escalate"]
    assert "get" in paths["/api/v1/incidents/{number}/pages"]
    assert "post" in paths["/api/v1/incidents/{number}/ack"]
