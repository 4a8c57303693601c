"""Issue 7's "done when", end to end on the example setup: an Alertmanager alert opens a SEV2 through the
real intake, the engine pages, people respond through the API, and one engine pass after the resolve
drafts the postmortem — its timeline is the live document transcribed (the page and the ack included).
The draft is taken to Final through the API, its action item is reminded through notifications and,
once overdue, counted on the metrics page. Frozen clock, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from commandpost.db.engine import transaction
from commandpost.engine.runner import Runner
from commandpost.incidents import timeline
from commandpost.notify.models import OutgoingMessage
from commandpost.paging.processors import EscalationsDue
from commandpost.postmortems.processors import ActionItemReminders, Criteria
from commandpost.security import users
from tests.alert_support import keys
from tests.api.test_postmortem_api import FILLED
from tests.api.test_web_auth import PASSWORD, login

START = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # Tuesday 12:00 in Asia/Tokyo
PM = "/api/v1/postmortems/INC-1"
ALERT = {
    "version": "4",
    "status": "firing",
    "receiver": "commandpost",
    "groupKey": '{}:{alertname="WebhookBacklogHigh"}',
    "groupLabels": {"alertname": "WebhookBacklogHigh"},
    "commonLabels": {"alertname": "WebhookBacklogHigh", "service": "payment-platform"},
    "commonAnnotations": {},
    "externalURL": "http://alertmanager:9093",
    "truncatedAlerts": 0,
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "WebhookBacklogHigh", "service": "payment-platform"},
            "annotations": {"summary": "payment-webhooks queue depth 4,200 > 1,000"},
            "startsAt": "2026-11-24T02:52:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph",
            "fingerprint": "5e1f0c2a9b7d3e11",
        }
    ],
}


@pytest.fixture
def runner(sessions, clock, settings):  # type: ignore[no-untyped-def]
    """The engine's paging, postmortem criteria and reminder processors (the sender is not needed: the
    outbox is what is asserted)."""
    return Runner(
        sessions,
        clock,
        settings=settings,
        processors=[EscalationsDue(settings), Criteria(), ActionItemReminders()],
    )


def test_a_sev2_from_an_alert_is_drafted_from_its_live_document_and_taken_to_final(
    client, auth, sessions, applied_ops, clock, runner
):
    clock.set(START)
    yuta, ken, hana = (auth("responder", person=p) for p in ("yuta", "ken", "hana"))

    def ok(response):  # type: ignore[no-untyped-def]
        assert response.status_code < 300, response.text
        return response.json()

    def post(minutes: int, path: str, who: dict[str, str], body: dict[str, str] | None = None) -> None:
        clock.set(START + timedelta(minutes=minutes))
        ok(client.post(f"/api/v1/incidents/INC-1{path}", json=body, headers=who))

    opened = client.post(f"/api/v1/intake/alertmanager/{keys(sessions)['alertmanager']}", json=ALERT)
    assert opened.status_code == 202 and opened.json()["incident"] == "INC-1", opened.text
    runner.run_once()  # the engine pages level 1
    post(3, "/ack", yuta)
    post(4, "/roles/ops/assign", yuta, {"person": "ken"})
    post(8, "/timeline", ken, {"kind": "note", "text": "consumer crash-looping"})
    post(12, "/timeline", yuta, {"kind": "decision", "text": "roll back the consumer to 1.4.1"})
    post(21, "/timeline", ken, {"kind": "action", "text": "rolled back the consumer to :41"})
    post(24, "/runbooks/payment-webhook-backlog/steps/3.4", ken, {"state": "done"})
    post(30, "/status", yuta, {"status": "mitigated"})
    post(52, "/status", yuta, {"status": "resolved", "note": "queue normal"})
    assert client.get(PM, headers=yuta).status_code == 404  # nothing before the engine's pass
    clock.set(START + timedelta(minutes=53))
    assert runner.run_once() >= 1

    # the draft: required by the criteria, author the IC, its timeline the live document transcribed
    shown = ok(client.get(PM, headers=yuta))
    assert (shown["status"], shown["author"], shown["severity"]) == ("draft", "yuta", "SEV2")
    assert shown["criteria"]["summary"] == "required: SEV2; manual intervention at 12:21 by @ken"
    with transaction(sessions) as s:
        live = timeline.all_entries(s, incident=timeline.incident(s, number=1))
    assert live[-1].text.startswith("INC-1: postmortem required: SEV2")  # the live document says so
    rows = shown["facts"]["timeline"]
    by_id = {e.id: e for e in live}
    dropped = [e for e in live if e.kind == "note" or (e.kind == "system" and not e.data.get("acknowledged"))]
    assert [e.kind for e in dropped] == ["system", "note", "system", "system"]  # channel, note, runbook, pm
    assert [r["entry_id"] for r in rows] == [e.id for e in live if e not in dropped]
    for row in rows:
        entry = by_id[row["entry_id"]]
        assert (row["at"], row["kind"], row["author"]) == (entry.at.isoformat(), entry.kind, entry.author)
    assert [(r["time"], r["kind"]) for r in rows] == [
        ("12:00", "alert"), ("12:00", "page"), ("12:03", "system"), ("12:03", "role"), ("12:04", "role"),
        ("12:12", "decision"), ("12:21", "action"), ("12:24", "runbook_step"), ("12:30", "status"),
        ("12:52", "status"),
    ]  # fmt: skip
    assert rows[0]["text"].endswith("payment-webhooks queue depth 4,200 > 1,000 (automatic detection)")
    assert rows[1]["text"] == next(e for e in live if e.kind == "page").text.removeprefix("INC-1: ")
    assert (shown["facts"]["alerts"], shown["facts"]["pages"], shown["facts"]["duration"]) == (1, 1, "52m")
    md = client.get(f"{PM}/markdown", headers=yuta).text
    assert "- Alerts: 1 · Pages: 1 · Comms updates: 0" in md
    assert "- 12:21 **action** @ken: rolled back the consumer to :41" in md
    assert "consumer crash-looping" not in md  # notes stay in the live document

    # to Final through the API, with one SMART action item naming the runbook
    item = ok(client.post(f"{PM}/action-items", headers=yuta, json={
        "title": "Park unknown webhook event types in the DLQ instead of crashing the consumer",
        "type": "prevent", "owner": "ken", "due": "2026-12-10", "ticket": "OPS-123",
        "verification": "replay a dispute event in a failure drill and confirm the consumer stays up",
        "runbook": "payment-webhook-backlog",
    }))  # fmt: skip
    ok(client.patch(PM, json={"sections": FILLED}, headers=yuta))
    ok(client.post(f"{PM}/submit", json={"reviewer": "hana"}, headers=yuta))
    assert client.post(f"{PM}/approve", headers=yuta).status_code == 403
    final = ok(client.post(f"{PM}/approve", headers=hana))
    assert (final["status"], final["revision"], final["empty_sections"]) == ("final", 1, [])

    # tracked and reminded: 09:00 JST two days before the due day, and the morning after it
    clock.set(datetime(2026, 12, 8, 0, 0, tzinfo=UTC))
    runner.run_once()
    clock.set(datetime(2026, 12, 11, 0, 0, tzinfo=UTC))
    runner.run_once()
    with transaction(sessions) as s:
        sent = [(m.key, m.person) for m in s.scalars(select(OutgoingMessage).order_by(OutgoingMessage.id))]
    reminders = [key.rsplit(":", 1)[0] for key, person in sent if key.startswith("action-item:")]
    assert sorted(set(reminders)) == [
        f"action-item:{item['id']}:after:2026-12-10",
        f"action-item:{item['id']}:before:2026-12-10",
    ]
    assert {person for key, person in sent if key.startswith("action-item:")} == {"ken"}
    overdue = ok(client.get("/api/v1/action-items", params={"overdue": True, "owner": "ken"}, headers=hana))
    assert [(i["id"], i["overdue"]) for i in overdue] == [(item["id"], True)]

    # the metrics page counts it as overdue
    with transaction(sessions) as s:
        users.set_password(
            s, config=applied_ops, handle="hana", password=PASSWORD, role="responder", now=clock.now()
        )
    assert login(client, "hana").status_code == 303
    page = client.get("/insights")
    assert page.status_code == 200
    assert '<a href="/action-items?overdue=1"><strong>1</strong> overdue</a>' in page.text
    ok(client.patch(f"/api/v1/action-items/{item['id']}", json={"status": "done"}, headers=ken))
    assert "<strong>0</strong> overdue" in client.get("/insights").text
