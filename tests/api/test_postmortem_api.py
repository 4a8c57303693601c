"""The postmortems API: a SEV2 from the example setup taken to Final, the error mapping (422 SMART, 403 not
the reviewer, 409 empty sections), revisions after Final, action-item tracking, scopes. Both databases."""

from __future__ import annotations

from sqlalchemy import func, select

from commandpost.db.engine import transaction
from commandpost.postmortems.models import ActionItem
from commandpost.runbooks import service as runbooks_service
from tests.service.test_postmortem_draft import run_criteria, script_webhook_backlog

PM = "/api/v1/postmortems/INC-1"
FILLED = {
    "user_impact": "1,832 charges were confirmed 10–50 minutes late; no charge was lost or doubled.",
    "business_impact": "Merchants saw delayed receipts; the ledger reconciled with zero difference.",
    "root_cause": "1. Why did webhooks pile up? The consumer crashed on every message.\n"
    "2. Why did it crash? Release 1.4.2 could not parse the new dispute event type.",
    "technical_factor": "The consumer treated an unknown event type as fatal instead of parking it "
    "in the DLQ.",
    "process_factor": "The provider's changelog was not part of the release checklist.",
    "went_well": "The alert fired within 8 minutes and the runbook's rollback step worked first time.",
    "went_poorly": "The DLQ depth had no dashboard panel, so re-injection waited for a manual query.",
    "got_lucky": "The new event type arrived during business hours.",
}
ITEM = {
    "title": "Park unknown webhook event types in the DLQ instead of crashing the consumer",
    "type": "prevent",
    "owner": "ken",
    "due": "2026-12-15",
    "ticket": "ops-123",
    "verification": "replay a dispute event in staging and confirm the consumer stays up and the DLQ grows",
    "runbook": "payment-webhook-backlog",
}


def _setup(sessions, clock):  # type: ignore[no-untyped-def]
    script_webhook_backlog(sessions, clock)
    run_criteria(sessions, clock)


def test_a_sev2_is_taken_to_final_through_the_api(client, auth, sessions, applied_ops, clock):
    _setup(sessions, clock)
    yuta, hana = auth("responder", person="yuta"), auth("responder", person="hana")

    shown = client.get(PM, headers=auth("read"))
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert (body["status"], body["author"], body["severity"]) == ("draft", "yuta", "SEV2")
    assert body["criteria"]["summary"] == "required: SEV2; manual intervention at 12:21 by @ken"
    assert [r["criterion"] for r in body["criteria"]["reasons"]] == ["severity", "manual_intervention"]
    assert body["facts"]["duration"] == "52m" and body["facts"]["alerts"] == 1
    assert body["facts"]["timeline"][0]["time"] == "12:00"
    assert body["empty_sections"] == [
        "user_impact", "business_impact", "root_cause", "technical_factor", "process_factor",
        "went_well", "went_poorly", "got_lucky",
    ]  # fmt: skip

    md = client.get(f"{PM}/markdown", headers=auth("read"))
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert md.text.startswith("# Postmortem: Payment webhook backlog above 1,000 (SEV2)\n")

    added = client.post(f"{PM}/action-items", json=ITEM, headers=yuta)
    assert added.status_code == 201, added.text
    item = added.json()
    assert (item["ticket"], item["status"], item["incident"], item["overdue"]) == (
        "OPS-123",
        "open",
        "INC-1",
        False,
    )

    edited = client.patch(
        PM, json={"sections": {**FILLED, "root_cause": "@ken deleted the DLQ."}}, headers=yuta
    )
    assert edited.status_code == 200, edited.text
    submitted = client.post(f"{PM}/submit", json={"reviewer": "hana"}, headers=yuta)
    assert submitted.status_code == 200, submitted.text
    out = submitted.json()
    assert (out["status"], out["reviewer"], out["blameless_mode"]) == ("in_review", "hana", "warn")
    (flag,) = out["blameless"]
    assert (flag["section"], flag["actor"], flag["rule"]) == ("root_cause", "@ken", "actor-deleted")
    assert flag["suggestion"].startswith("there was no guard preventing deletion")

    not_reviewer = client.post(f"{PM}/approve", headers=yuta)
    assert not_reviewer.status_code == 403
    assert not_reviewer.json()["error"]["message"] == (
        "only the reviewer @hana approves the postmortem of INC-1; you are @yuta"
    )

    client.patch(PM, json={"sections": {"went_well": "", "got_lucky": " "}}, headers=yuta)
    empty = client.post(f"{PM}/approve", headers=hana)
    assert empty.status_code == 409
    assert empty.json()["error"]["details"]["empty_sections"] == ["went_well", "got_lucky"]
    assert "empty required sections: went_well, got_lucky" in empty.json()["error"]["message"]
    assert client.get(PM, headers=hana).json()["status"] == "in_review"  # nothing changed

    fixed = client.patch(PM, json={"sections": FILLED}, headers=yuta)
    assert fixed.json()["blameless"] == []
    final = client.post(f"{PM}/approve", headers=hana)
    assert final.status_code == 200, final.text
    assert (final.json()["status"], final.json()["revision"], final.json()["approved_by"]) == (
        "final",
        1,
        "hana",
    )

    with transaction(sessions) as s:  # the runbook named by the item is flagged (RB015)
        flagged = runbooks_service.runbooks_flagged_for_update(s, app=runbooks_service.applied(s))
    why = f"postmortem action item #{item['id']} of INC-1 (resolved 2026-11-24) asked for an update"
    assert flagged == {"payment-webhook-backlog": why}

    clock.advance(days=1)
    later = client.patch(
        PM, json={"sections": {"got_lucky": "The dispute event arrived at 12:00 JST."}}, headers=yuta
    )
    assert (later.json()["status"], later.json()["revision"]) == ("final", 2)
    revisions = client.get(f"{PM}/revisions", headers=hana).json()
    assert [(r["revision"], r["reason"]) for r in revisions] == [(1, "approved"), (2, "edited")]
    assert revisions[0]["sections"]["got_lucky"] == FILLED["got_lucky"]
    first = client.get(f"{PM}/markdown", params={"revision": 1}, headers=hana).text
    assert FILLED["got_lucky"] in first and "revision 1" in first
    assert "12:00 JST" in client.get(f"{PM}/markdown", headers=hana).text

    reopened = client.post(f"{PM}/reopen", json={"to": "in_review"}, headers=yuta)
    assert (reopened.json()["status"], reopened.json()["revision"]) == ("in_review", 2)


def test_bad_action_items_are_422_naming_the_smart_rule_and_store_nothing(
    client, auth, sessions, applied_ops, clock
):
    _setup(sessions, clock)
    yuta = auth("responder", person="yuta")
    vague = client.post(
        f"{PM}/action-items", json={**ITEM, "title": "Be careful when deploying the consumer"}, headers=yuta
    )
    assert vague.status_code == 422
    message = vague.json()["error"]["message"]
    assert message.startswith("action item is not SMART — Specific (title): 'be careful' is vague wording")
    ownerless = client.post(
        f"{PM}/action-items", json={k: v for k, v in ITEM.items() if k != "owner"}, headers=yuta
    )
    assert ownerless.status_code == 422
    assert ownerless.json()["error"]["details"]["smart"] == [
        {
            "rule": "Assigned",
            "field": "owner",
            "message": "an owner is required: a handle from people.yaml (owner = @yuta)",
        }
    ]
    past = client.post(f"{PM}/action-items", json={**ITEM, "due": "2026-11-24"}, headers=yuta)
    assert "Time-bound (due): due 2026-11-24 is not in the future" in past.json()["error"]["message"]
    malformed = client.post(f"{PM}/action-items", json={**ITEM, "due": "next week"}, headers=yuta)
    assert malformed.status_code == 422
    with transaction(sessions) as s:
        assert s.scalar(select(func.count()).select_from(ActionItem)) == 0


def test_action_items_are_tracked_and_filtered(client, auth, sessions, applied_ops, clock):
    _setup(sessions, clock)
    yuta = auth("responder", person="yuta")
    first = client.post(f"{PM}/action-items", json=ITEM, headers=yuta).json()
    second = client.post(
        f"{PM}/action-items",
        json={**ITEM, "title": "Add a DLQ depth panel to the payments dashboard", "type": "process",
              "owner": "mei", "due": "2026-11-30", "verification": None, "runbook": None},
        headers=yuta,
    ).json()  # fmt: skip
    assert client.get("/api/v1/action-items", params={"overdue": True}, headers=yuta).json() == []
    clock.set(clock.now().replace(month=12, day=2))
    overdue = client.get("/api/v1/action-items", params={"overdue": True}, headers=yuta).json()
    assert [(i["id"], i["overdue"]) for i in overdue] == [(second["id"], True)]
    assert [
        i["id"] for i in client.get("/api/v1/action-items", params={"owner": "@ken"}, headers=yuta).json()
    ] == [first["id"]]
    assert client.get("/api/v1/action-items/summary", headers=yuta).json() == {
        "open": 2, "in_progress": 0, "done": 0, "wontfix": 0, "overdue": 1,
    }  # fmt: skip

    done = client.patch(f"/api/v1/action-items/{second['id']}", json={"status": "done"}, headers=yuta)
    assert done.status_code == 200 and done.json()["status"] == "done" and done.json()["done_at"]
    assert client.get("/api/v1/action-items", params={"overdue": True}, headers=yuta).json() == []
    wontfix = client.patch(f"/api/v1/action-items/{first['id']}", json={"status": "wontfix"}, headers=yuta)
    assert wontfix.status_code == 422 and "wontfix needs a note" in wontfix.json()["error"]["message"]
    moved = client.patch(f"/api/v1/action-items/{first['id']}", json={"due": "2026-12-01"}, headers=yuta)
    assert moved.status_code == 422 and "Time-bound (due)" in moved.json()["error"]["message"]
    assert client.patch("/api/v1/action-items/999", json={"status": "done"}, headers=yuta).status_code == 404
    listed = client.get(f"{PM}/action-items", headers=yuta).json()
    assert [i["status"] for i in listed] == ["done", "open"]  # by due day


def test_scopes_and_unknown_numbers(client, auth, sessions, applied_ops, clock):
    _setup(sessions, clock)
    read = auth("read", person="hana")
    assert client.patch(PM, json={"sections": {"went_well": "x"}}, headers=read).status_code == 403
    assert client.post(f"{PM}/submit", json={"reviewer": "hana"}, headers=read).status_code == 403
    assert client.get(PM).status_code == 401
    missing = client.get("/api/v1/postmortems/INC-99", headers=read)
    assert missing.status_code == 404 and "no incident INC-99" in missing.json()["error"]["message"]
    bad = client.patch(PM, json={"sections": {"lessons": "x"}}, headers=auth("responder"))
    assert bad.status_code == 422 and "unknown section(s) lessons" in bad.json()["error"]["message"]
    reviewer = client.post(f"{PM}/submit", json={"reviewer": "yuta"}, headers=auth("responder"))
    assert (
        reviewer.status_code == 422 and "other than the author @yuta" in reviewer.json()["error"]["message"]
    )
    early = client.post(f"{PM}/approve", headers=auth("responder", person="hana"))
    assert early.status_code == 409 and "is Draft; it cannot approve" in early.json()["error"]["message"]


def test_listing_and_starting(client, auth, sessions, applied_ops, clock):
    _setup(sessions, clock)
    headers = auth("responder", person="yuta")
    listed = client.get("/api/v1/postmortems", headers=headers).json()
    assert [(p["number"], p["status"], p["criteria"]) for p in listed] == [
        ("INC-1", "draft", "required: SEV2; manual intervention at 12:21 by @ken")
    ]
    assert (
        client.get("/api/v1/postmortems", params={"status": "final", "since": "30d"}, headers=headers).json()
        == []
    )
    bad = client.get("/api/v1/postmortems", params={"since": "a month"}, headers=headers)
    assert bad.status_code == 422 and "since:" in bad.json()["error"]["message"]
    started = client.post(PM, headers=headers)
    assert started.status_code == 201 and started.json()["status"] == "draft"


def test_a_not_required_incident_shows_its_reasons_and_can_be_started(
    client, auth, sessions, applied_ops, clock
):
    from commandpost.incidents import service as incidents

    with transaction(sessions) as s:
        incident, _ = incidents.open_or_attach(
            s, service="payment-platform", severity="SEV3", title="Slow CSV export", group_key="csv",
            impact_started_at=None, detected_at=None, runbook=None, no_runbook=True,
            source_summary="generic CsvExportSlow: p99 > 30s", now=clock.now(),
        )  # fmt: skip
        incidents.change_status(s, incident=incident, status="resolved", actor="yuta", now=clock.now())
    run_criteria(sessions, clock)
    headers = auth("responder", person="yuta")
    shown = client.get(PM, headers=headers).json()
    assert (shown["status"], shown["criteria"]["required"], shown["empty_sections"]) == (
        "not_required",
        False,
        [],
    )
    assert shown["criteria"]["summary"].startswith("not required: SEV3, and no data loss")
    assert client.get("/api/v1/postmortems", headers=headers).json() == []
    assert [
        p["number"]
        for p in client.get("/api/v1/postmortems", params={"status": "not_required"}, headers=headers).json()
    ] == ["INC-1"]
    refused = client.patch(PM, json={"sections": {"went_well": "x"}}, headers=headers)
    assert refused.status_code == 409 and "start one first" in refused.json()["error"]["message"]
    started = client.post(PM, headers=headers)
    assert started.status_code == 201
    assert (
        started.json()["status"],
        started.json()["criteria"]["summary"].endswith("(written by choice)"),
    ) == (
        "draft",
        True,
    )
