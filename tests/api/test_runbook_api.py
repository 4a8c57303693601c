"""The runbooks API on both databases: list and detail (lint, staleness on a frozen clock, pointers,
use), coverage and toil, and checklists inside an incident (attach, step state, 403 / 404 / 422)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from commandpost.policy import service as policy_service
from tests.alert_support import keys, pd_trigger
from tests.conftest import EXAMPLE_OPS

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
SLUG = "payment-webhook-backlog"
INC = "/api/v1/incidents/INC-1"


@pytest.fixture
def ops(sessions, clock):  # type: ignore[no-untyped-def]
    """The example ops applied on 2026-11-27 (its runbooks are dated 2026-11-01)."""
    clock.set(NOW)
    with sessions() as s:
        policy_service.apply_folder(s, path=EXAMPLE_OPS, now=NOW, actor="test")
        s.commit()
    return clock


@pytest.fixture
def yuta(auth, ops):  # type: ignore[no-untyped-def]
    return auth("responder", person="yuta")


@pytest.fixture
def declared(client, yuta):  # type: ignore[no-untyped-def]
    body = {"title": "Payment webhooks failing", "severity": 2, "service": "payment-platform"}
    r = client.post("/api/v1/incidents", json=body, headers=yuta)
    assert r.status_code == 201, r.text
    return r.json()


def _steps(client, headers) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """``{"3.3": "3.3-abcdef", …}`` of the backlog runbook."""
    r = client.get(f"/api/v1/runbooks/{SLUG}", headers=headers)
    return {s["id"].split("-")[0]: s["id"] for sec in r.json()["sections"] for s in sec["steps"]}


def test_list_and_staleness_with_a_frozen_clock(client, yuta, ops):  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/runbooks", headers=yuta)
    assert r.status_code == 200, r.text
    rows = {row["slug"]: row for row in r.json()}
    assert list(rows) == ["db-connection-exhaustion", SLUG]
    backlog = rows[SLUG]
    assert (backlog["owner"], backlog["severity"], backlog["last_updated"]) == (
        "payments",
        "SEV2",
        "2026-11-01",
    )
    assert (backlog["stale"], backlog["age_days"], backlog["lint_errors"], backlog["lint_warnings"]) == (
        False,
        26,
        0,
        0,
    )
    assert backlog["services"] == ["payment-platform"] and backlog["alerts"] == ["WebhookBacklogHigh"]
    assert backlog["url"] == f"https://runbooks.internal/{SLUG}" and backlog["steps"] == 7
    ops.set(datetime(2027, 1, 31, 3, 0, tzinfo=UTC))  # 2027-01-31 12:00 in Tokyo: 91 days old
    stale = {row["slug"]: row for row in client.get("/api/v1/runbooks", headers=yuta).json()}[SLUG]
    assert (stale["stale"], stale["age_days"], stale["lint_warnings"]) == (True, 91, 1)
    detail = client.get(f"/api/v1/runbooks/{SLUG}", headers=yuta).json()
    assert detail["staleness"] == {
        "last_updated": "2026-11-01",
        "age_days": 91,
        "max_age_days": 90,
        "stale": True,
        "stale_from": "2027-01-31",
    }
    assert [(f["rule"], f["line"], f["severity"]) for f in detail["lint"]] == [("RB014", 4, "warning")]


def test_detail_has_sections_steps_warnings_pointers_and_use(client, yuta, declared):  # type: ignore[no-untyped-def]
    r = client.get(f"/api/v1/runbooks/{SLUG}", headers=yuta)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [s["number"] for s in body["sections"]] == [0, 1, 2, 3, 4, 5, 6]
    mitigate = body["sections"][3]
    assert [s["position"] for s in mitigate["steps"]] == [1, 2, 3, 4]
    assert all(s["command"] and s["needs_ops"] for s in mitigate["steps"])
    [warning] = body["warnings"]
    assert (
        warning["text"].startswith("⚠️ What you must never do")
        and warning["guards"] == mitigate["steps"][3]["id"]
    )
    assert mitigate["steps"][3]["cautions"] == [warning]
    assert body["first_move"]["step_id"] == mitigate["steps"][2]["id"]
    assert body["pointed_by"] == [
        {
            "service": "payment-platform",
            "alert": "WebhookBacklogHigh",
            "labels": {},
            "severity": "SEV2",
            "kind": "alert_rule",
        },
        {
            "service": "payment-platform",
            "alert": "SLOErrorBudgetBurn",
            "labels": {"urgency": "page", "slo": "charge-success"},
            "severity": "SEV2",
            "kind": "alert_rule",
        },
    ]
    assert body["lint"] == [] and body["incidents"] == []
    assert client.post(f"{INC}/runbooks", json={"slug": SLUG}, headers=yuta).status_code == 201
    used = client.get(f"/api/v1/runbooks/{SLUG}", headers=yuta).json()["incidents"]
    assert [(i["number"], i["status"]) for i in used] == [("INC-1", "investigating")]
    missing = client.get("/api/v1/runbooks/nope", headers=yuta)
    assert (
        missing.status_code == 404 and "runbooks: db-connection-exhaustion, payment-webhook" in missing.text
    )


def test_checklist_in_an_incident(client, auth, yuta, declared):  # type: ignore[no-untyped-def]
    hana = auth("responder", person="hana")
    steps = _steps(client, yuta)
    r = client.post(f"{INC}/runbooks", json={"slug": SLUG}, headers=hana)
    assert r.status_code == 201, r.text
    assert client.post(f"{INC}/runbooks", json={"slug": SLUG}, headers=yuta).status_code == 201
    [attached] = client.get(f"{INC}/runbooks", headers=yuta).json()
    assert (attached["slug"], attached["source"], attached["attached_by"]) == (SLUG, "manual", "hana")
    assert [s["number"] for s in attached["sections"]] == [3, 4, 0, 1, 2, 5, 6]  # Mitigate first
    assert attached["progress"] == {"total": 7, "open": 7, "done": 0, "skipped": 0, "failed": 0}

    ops_step = f"{INC}/runbooks/{SLUG}/steps/{steps['3.3']}"
    refused = client.post(ops_step, json={"state": "done"}, headers=hana)
    assert refused.status_code == 403
    assert "Ops is held by the IC @yuta" in refused.json()["error"]["message"]
    assert refused.json()["error"]["details"]["holder"] == "yuta"
    ok = client.post(ops_step, json={"state": "done", "note": "12 tasks now"}, headers=yuta)
    assert ok.status_code == 200, ok.text
    marked = ok.json()
    assert (marked["changed"], marked["step"]["state"]["state"], marked["step"]["state"]["by"]) == (
        True,
        "done",
        "yuta",
    )
    verify = client.post(f"{INC}/runbooks/{SLUG}/steps/4.1", json={"state": "done"}, headers=hana)
    assert verify.status_code == 200 and verify.json()["step"]["id"] == steps["4.1"]

    [after] = client.get(f"{INC}/runbooks", headers=hana).json()
    assert after["progress"]["done"] == 2
    assert [(e["step_id"], e["by"]) for e in after["verify_evidence"]] == [(steps["4.1"], "hana")]
    first = after["sections"][0]["steps"][2]
    assert first["state"]["note"] == "12 tasks now" and first["state"]["at"].startswith("2026-11-27T03:00")
    entries = client.get(f"{INC}/timeline", params={"limit": 500}, headers=yuta).json()["entries"]
    marks = [
        (e["author"], e["data"]["step"], e["data"]["state"]) for e in entries if e["kind"] == "runbook_step"
    ]
    assert marks == [("yuta", steps["3.3"], "done"), ("hana", steps["4.1"], "done")]


def test_the_alert_that_opened_an_incident_attaches_its_runbook(client, auth, yuta, sessions):  # type: ignore[no-untyped-def]
    """No one attaches by hand: the runbook of the alert rule is the incident's checklist at once."""
    alert = pd_trigger(keys(sessions)["pagerduty"], custom_details={"alertname": "DBConnectionsExhausted"})
    opened = client.post("/v2/enqueue", json=alert)
    assert (opened.status_code, opened.json()["incident"]) == (202, "INC-1")
    [own] = client.get(f"{INC}/runbooks", headers=yuta).json()
    assert (own["slug"], own["source"], own["attached_by"]) == ("db-connection-exhaustion", "alert", None)
    assert own["sections"][0]["name"] == "Mitigate"
    assert own["first_move"]["text"].startswith("First move: rate-limit the runaway caller")
    hana = auth("responder", person="hana")
    steps = f"{INC}/runbooks/db-connection-exhaustion/steps"
    refused = client.post(f"{steps}/3.2", json={"state": "done"}, headers=hana)  # nobody acked yet
    assert refused.status_code == 403 and "nobody holds Ops on INC-1 yet" in refused.text
    assert client.post(f"{steps}/4.1", json={"state": "done"}, headers=hana).status_code == 200
    [stored] = client.get(f"{INC}/runbooks", headers=yuta).json()
    assert (stored["source"], stored["attached_by"], stored["progress"]["done"]) == ("alert", "hana", 1)
    entries = client.get(f"{INC}/timeline", params={"limit": 500}, headers=yuta).json()["entries"]
    assert [e["data"]["state"] for e in entries if e["kind"] == "runbook_step"] == ["done"]
    assert any(
        e["text"].endswith("attached (alert); first move: " + own["first_move"]["text"]) for e in entries
    )


def test_bad_step_input(client, auth, yuta, declared):  # type: ignore[no-untyped-def]
    client.post(f"{INC}/runbooks", json={"slug": SLUG}, headers=yuta)
    unknown = client.post(f"{INC}/runbooks/{SLUG}/steps/3.9-000000", json={"state": "done"}, headers=yuta)
    assert unknown.status_code == 404
    error = unknown.json()["error"]
    assert error["details"]["steps"] == list(_steps(client, yuta).values())
    assert "its steps: 3.1-" in error["message"]
    bad_state = client.post(f"{INC}/runbooks/{SLUG}/steps/4.1", json={"state": "finished"}, headers=yuta)
    assert bad_state.status_code == 422
    not_attached = client.post(
        f"{INC}/runbooks/db-connection-exhaustion/steps/4.1", json={"state": "done"}, headers=yuta
    )
    assert not_attached.status_code == 404 and "is not attached to INC-1" in not_attached.text
    assert client.post(f"{INC}/runbooks", json={"slug": "nope"}, headers=yuta).status_code == 404
    assert client.post(f"{INC}/runbooks", json={"slug": SLUG, "x": 1}, headers=yuta).status_code == 422
    reader = auth("read", person="ken")
    assert (
        client.post(f"{INC}/runbooks/{SLUG}/steps/4.1", json={"state": "done"}, headers=reader).status_code
        == 403
    )
    assert client.get("/api/v1/incidents/INC-9/runbooks", headers=yuta).status_code == 404
    assert client.get("/api/v1/runbooks").status_code == 401


def test_coverage_and_toil(client, yuta, declared, ops):  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/runbooks/coverage", params={"days": 7}, headers=yuta)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["strict_ok"] and body["days"] == 7 and body["paged_without_runbook"] == []
    assert body["never_used"] == ["db-connection-exhaustion", SLUG] and body["unpointed"] == []
    assert client.get("/api/v1/runbooks/coverage", params={"days": 0}, headers=yuta).status_code == 422
    steps = _steps(client, yuta)
    for n in range(3):
        if n:
            declared_n = client.post(
                "/api/v1/incidents",
                json={"title": f"again {n}", "severity": 2, "service": "payment-platform"},
                headers=yuta,
            )
            assert declared_n.status_code == 201
        ops.advance(hours=1)
        base = f"/api/v1/incidents/INC-{n + 1}/runbooks"
        client.post(base, json={"slug": SLUG}, headers=yuta)
        assert (
            client.post(f"{base}/{SLUG}/steps/3.3", json={"state": "done"}, headers=yuta).status_code == 200
        )
    toil = client.get("/api/v1/runbooks/toil", params={"min_incidents": 3}, headers=yuta).json()
    assert [(t["step_id"], t["incidents"]) for t in toil] == [(steps["3.3"], 3)]
    assert client.get("/api/v1/runbooks/toil", params={"min_incidents": 4}, headers=yuta).json() == []
    used = client.get("/api/v1/runbooks/coverage", headers=yuta).json()["never_used"]
    assert used == ["db-connection-exhaustion"]
