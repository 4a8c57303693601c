"""The incidents API on both databases: each endpoint's happy path, auth, and the bad-input table."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from commandpost.security.models import AuditLog

BASE = "/api/v1/incidents"
SECRET = "AKIAIOSFODNN7EXAMPLE"


@pytest.fixture
def yuta(auth, applied_ops):
    return auth("responder", person="yuta")


@pytest.fixture
def declared(client, yuta):
    r = client.post(
        BASE,
        json={"title": "Payment webhooks failing", "severity": 2, "service": "payment-platform"},
        headers=yuta,
    )
    assert r.status_code == 201, r.text
    return r.json()


def _timeline(client, headers, number="INC-1"):
    r = client.get(f"{BASE}/{number}/timeline", params={"limit": 500}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["entries"]


def test_declare_answers_number_channel_ic_and_next_steps(client, declared, session):
    assert declared["number"] == "INC-1"
    assert declared["severity"] == "SEV2" and declared["status"] == "investigating"
    assert declared["ic"] == "yuta" and declared["detection"] == "manual"
    assert declared["channel"] == "inc-2026-06-24-payment-webhooks-failing"
    assert declared["allowed_next"] == ["identified", "mitigated", "resolved", "closed"]
    assert declared["next_steps"] == [
        "join the command post #inc-2026-06-24-payment-webhooks-failing",
        "the on-call is being paged: brief them when they ack",
        "open the service's runbook (none linked yet)",
        "post the initial comms: commandpost comms INC-1 initial",
    ]
    audit = session.scalars(select(AuditLog)).all()
    assert [(a.actor, a.action, a.target) for a in audit] == [
        ("yuta", "POST /api/v1/incidents", "incident:INC-1")
    ]


def test_scopes(client, auth, applied_ops, declared):
    reader = auth("read", person="ken")
    assert client.get(BASE, headers=reader).status_code == 200
    r = client.post(BASE, json={"title": "x", "severity": "SEV3"}, headers=reader)
    assert r.status_code == 403 and "responder" in r.json()["error"]["message"]
    assert client.get(BASE).status_code == 401


def test_list_filters_and_validates(client, yuta, declared):
    client.post(BASE, json={"title": "Receipts missing", "severity": "SEV3"}, headers=yuta)
    assert [i["number"] for i in client.get(BASE, headers=yuta).json()] == ["INC-2", "INC-1"]
    assert [i["number"] for i in client.get(BASE, params={"severity": "sev3"}, headers=yuta).json()] == [
        "INC-2"
    ]
    got = client.get(BASE, params={"service": "payment-platform", "status": "open"}, headers=yuta).json()
    assert [i["number"] for i in got] == ["INC-1"]
    r = client.get(BASE, params={"severity": "SEV9"}, headers=yuta)
    assert r.status_code == 422
    assert r.json()["error"]["message"] == "unknown severity 'SEV9'; valid: SEV1, SEV2, SEV3, SEV4"
    r = client.get(BASE, params={"status": "fixed"}, headers=yuta)
    assert r.status_code == 422 and "investigating" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("ref", "code"), [("1", 200), ("INC-1", 200), ("inc-1", 200), ("INC-9", 404), ("x", 422)]
)
def test_number_in_urls(client, yuta, declared, ref, code):
    r = client.get(f"{BASE}/{ref}", headers=yuta)
    assert r.status_code == code, r.text
    if code == 404:
        assert r.json()["error"]["message"] == "no incident INC-9"


def test_status_changes_and_refusals_list_the_allowed_states(client, yuta, declared):
    r = client.post(f"{BASE}/INC-1/status", json={"status": "mitigated", "note": "rolled back"}, headers=yuta)
    assert r.status_code == 200 and r.json()["status"] == "mitigated"
    assert r.json()["mitigated_at"] is not None
    r = client.post(f"{BASE}/INC-1/status", json={"status": "identified"}, headers=yuta)
    assert r.status_code == 409
    error = r.json()["error"]
    assert error["code"] == "invalid_transition"
    assert error["message"] == "INC-1 cannot go from mitigated to identified; allowed next: resolved, closed"
    assert error["details"]["allowed"] == ["resolved", "closed"]
    assert _timeline(client, yuta)[-1]["text"] == "INC-1 investigating → mitigated by @yuta: rolled back"


def test_severity_needs_a_reason(client, yuta, declared):
    r = client.post(f"{BASE}/1/severity", json={"severity": "SEV1"}, headers=yuta)
    assert r.status_code == 422 and "reason" in r.json()["error"]["message"]
    r = client.post(f"{BASE}/1/severity", json={"severity": "SEV1", "reason": "all charging"}, headers=yuta)
    assert r.status_code == 200 and r.json()["severity"] == "SEV1"
    assert r.json()["comms_due_at"] == "2026-06-24T03:30:00Z"


def test_roles_assign_offer_accept_decline(client, auth, yuta, declared):
    hana, mei = auth("responder", person="hana"), auth("responder", person="mei")
    held = client.get(f"{BASE}/1/roles", headers=yuta).json()
    assert [(r["role"], r["holder"], r["held_by_ic_by_default"]) for r in held] == [
        ("ic", "yuta", False),
        ("ops", "yuta", True),
        ("comms", "yuta", True),
        ("planning", "yuta", True),
    ]
    r = client.post(f"{BASE}/1/roles/ops/assign", json={"person": "mei"}, headers=yuta)
    assert r.status_code == 200 and r.json()["holder"] == "mei"
    r = client.post(f"{BASE}/1/roles/comms/assign", json={"person": "ken"}, headers=mei)
    assert r.status_code == 403 and "only the IC (@yuta)" in r.json()["error"]["message"]
    r = client.post(
        f"{BASE}/1/roles/comms/assign", json={"person": "ken"}, headers=auth("admin", person="root")
    )
    assert r.status_code == 200
    r = client.post(f"{BASE}/1/roles/ic/offer", json={"person": "@hana"}, headers=yuta)
    assert r.status_code == 201
    assert (r.json()["state"], r.json()["expires_at"]) == ("pending", "2026-06-24T03:15:00Z")
    pending = client.get(f"{BASE}/1/roles", headers=hana).json()[0]["pending_offer"]
    assert pending["to_person"] == "hana"
    r = client.post(f"{BASE}/1/roles/ic/accept", headers=hana)
    assert r.status_code == 200 and r.json()["state"] == "accepted"
    assert client.get(f"{BASE}/1", headers=hana).json()["ic"] == "hana"
    r = client.post(f"{BASE}/1/roles/planning/offer", json={"person": "sato"}, headers=hana)
    assert r.status_code == 201
    r = client.post(f"{BASE}/1/roles/planning/decline", headers=auth("responder", person="sato"))
    assert r.status_code == 200 and r.json()["state"] == "declined"
    texts = [e["text"] for e in _timeline(client, yuta)]
    assert "INC-1: IC offered to @hana by @yuta" in texts
    assert "INC-1: @hana accepted IC from @yuta" in texts
    assert texts[-1] == "INC-1: @sato declined Planning; it stays with @hana"


def test_timeline_follow_post_corrections_and_actions(client, auth, yuta, declared):
    first = client.get(f"{BASE}/1/timeline", params={"limit": 2}, headers=yuta).json()
    assert [e["kind"] for e in first["entries"]] == ["system", "role"]
    assert first["timezone"] == "Asia/Tokyo" and first["status"] == "investigating"
    r = client.post(f"{BASE}/1/timeline", json={"kind": "note", "text": "queue at 10k"}, headers=yuta)
    assert r.status_code == 201
    wrong = r.json()["id"]
    r = client.post(
        f"{BASE}/1/timeline", json={"kind": "note", "text": "100k", "corrects": wrong}, headers=yuta
    )
    assert r.json()["corrects"] == wrong
    r = client.post(f"{BASE}/1/timeline", json={"kind": "decision", "text": "fail over"}, headers=yuta)
    assert r.status_code == 201
    r = client.post(
        f"{BASE}/1/timeline", json={"kind": "action", "text": "failover"}, headers=auth(person="ken")
    )
    assert r.status_code == 403
    assert r.json()["error"]["message"].startswith(
        "only the Ops holder records actions on INC-1: Ops is held by"
    )
    r = client.post(f"{BASE}/1/timeline", json={"kind": "action", "text": "failover"}, headers=yuta)
    assert r.status_code == 201
    rest = client.get(f"{BASE}/1/timeline", params={"after": first["next_cursor"]}, headers=yuta).json()
    assert [e["kind"] for e in rest["entries"]] == ["system", "note", "note", "decision", "action"]
    tail = client.get(f"{BASE}/1/timeline", params={"after": rest["next_cursor"]}, headers=yuta).json()
    assert tail["entries"] == [] and tail["next_cursor"] == rest["next_cursor"]


def test_markdown_export_in_org_timezone(client, yuta, declared):
    client.post(f"{BASE}/1/timeline", json={"kind": "note", "text": "looking"}, headers=yuta)
    for r in (
        client.get(f"{BASE}/INC-1/timeline.md", headers=yuta),
        client.get(f"{BASE}/INC-1/timeline", params={"format": "md"}, headers=yuta),
    ):
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/markdown")
        body = r.text
        assert body.startswith("# INC-1: Payment webhooks failing\n")
        assert "| declared | 2026-06-24 12:00:00 JST |" in body
        assert "## Timeline (Asia/Tokyo)" in body
        assert "**note** @yuta: looking" in body
        assert "- **Roles:** IC @yuta, Ops @yuta, Comms @yuta, Planning @yuta" in body


def test_comms_prefilled_from_the_template(client, yuta, declared):
    tpl = client.get(f"{BASE}/1/comms/template", params={"kind": "initial"}, headers=yuta).json()
    assert tpl["body"].startswith("[SEV2] Incident #1: Payment webhooks failing")
    r = client.post(f"{BASE}/1/comms", json={"kind": "initial", "audience": "external"}, headers=yuta)
    assert r.status_code == 201
    assert r.json()["text"] == tpl["body"]
    assert r.json()["data"]["next_due_at"] == "2026-06-24T04:00:00+00:00"
    assert client.get(f"{BASE}/1", headers=yuta).json()["last_comms_at"] == "2026-06-24T03:00:00Z"


def test_acknowledge_endpoint(client, auth, yuta, declared):
    """A declared SEV2 on a service pages its on-call: the first ack is theirs, the IC stays the declarer."""
    r = client.post(f"{BASE}/1/ack", headers=auth(person="hana"))
    assert r.status_code == 200 and r.json()["ic"] == "yuta"
    assert _timeline(client, yuta)[-1]["text"] == "INC-1 acknowledged by @hana"
    client.post(f"{BASE}/1/ack", headers=auth(person="ken"))
    assert _timeline(client, yuta)[-1]["text"] == "INC-1 acknowledged by @ken (already acknowledged)"


def test_patch_details(client, yuta, declared):
    r = client.patch(
        f"{BASE}/1", json={"impact": "charges delayed", "manual_intervention": True}, headers=yuta
    )
    assert r.status_code == 200
    assert (r.json()["impact"], r.json()["manual_intervention"]) == ("charges delayed", True)
    r = client.patch(f"{BASE}/1", json={"status": "closed"}, headers=yuta)
    assert r.status_code == 422


def test_secrets_redacted_in_title_note_and_comms_body(client, yuta, applied_ops):
    r = client.post(BASE, json={"title": f"key {SECRET} leaked", "severity": "SEV1"}, headers=yuta)
    assert r.json()["title"] == "key [REDACTED:aws-access-key] leaked"
    client.post(f"{BASE}/1/timeline", json={"kind": "note", "text": f"revoking {SECRET}"}, headers=yuta)
    r = client.post(f"{BASE}/1/comms", json={"kind": "update", "body": f"we rotated {SECRET}"}, headers=yuta)
    assert r.json()["text"] == "we rotated [REDACTED:aws-access-key]"
    dump = client.get(f"{BASE}/1/timeline.md", headers=yuta).text + str(_timeline(client, yuta))
    assert SECRET not in dump and dump.count("[REDACTED:aws-access-key]") >= 4


def _close(client, headers):
    assert client.post(f"{BASE}/1/status", json={"status": "closed"}, headers=headers).status_code == 200


BAD_INPUT = [
    # (name, setup, POST path, body, as, status, words in the message)
    (
        "unknown severity",
        None,
        "/1/severity",
        {"severity": "SEV0", "reason": "r"},
        "yuta",
        422,
        ["SEV1, SEV2, SEV3, SEV4"],
    ),
    (
        "unknown role",
        None,
        "/1/roles/scribe/assign",
        {"person": "mei"},
        "yuta",
        422,
        ["ic, ops, comms, planning"],
    ),
    ("unknown comms kind", None, "/1/comms", {"kind": "final"}, "yuta", 422, ["initial, update, resolved"]),
    (
        "unknown audience",
        None,
        "/1/comms",
        {"kind": "update", "audience": "press"},
        "yuta",
        422,
        ["internal, external"],
    ),
    (
        "unknown entry kind",
        None,
        "/1/timeline",
        {"kind": "status", "text": "x"},
        "yuta",
        422,
        ["note, action, decision"],
    ),
    (
        "offer to an unknown person",
        None,
        "/1/roles/ic/offer",
        {"person": "ghost"},
        "yuta",
        422,
        ["unknown person @ghost", "@hana"],
    ),
    (
        "accept someone else's offer",
        "offer",
        "/1/roles/ic/accept",
        None,
        "ken",
        403,
        ["is for @hana; you are @ken"],
    ),
    (
        "second pending offer",
        "offer",
        "/1/roles/ic/offer",
        {"person": "ken"},
        "yuta",
        409,
        ["pending offer to @hana"],
    ),
    (
        "note on a closed incident",
        "close",
        "/1/timeline",
        {"kind": "note", "text": "x"},
        "yuta",
        409,
        ["INC-1 is closed"],
    ),
    (
        "status of a closed incident",
        "close",
        "/1/status",
        {"status": "resolved"},
        "yuta",
        409,
        ["INC-1 is closed"],
    ),
    (
        "severity of a closed incident",
        "close",
        "/1/severity",
        {"severity": "SEV1", "reason": "r"},
        "yuta",
        409,
        ["INC-1 is closed"],
    ),
    ("comms on a closed incident", "close", "/1/comms", {"kind": "update"}, "yuta", 409, ["INC-1 is closed"]),
    (
        "offer on a closed incident",
        "close",
        "/1/roles/ic/offer",
        {"person": "hana"},
        "yuta",
        409,
        ["INC-1 is closed"],
    ),
    (
        "assign on a closed incident",
        "close",
        "/1/roles/ops/assign",
        {"person": "mei"},
        "yuta",
        409,
        ["INC-1 is closed"],
    ),
    ("ack of a closed incident", "close", "/1/ack", None, "hana", 409, ["INC-1 is closed"]),
    ("accept on a closed incident", "close", "/1/roles/ic/accept", None, "hana", 409, ["INC-1 is closed"]),
    (
        "empty note",
        None,
        "/1/timeline",
        {"kind": "note", "text": " "},
        "yuta",
        422,
        ["text must not be empty"],
    ),
]


@pytest.mark.parametrize(
    ("setup", "path", "body", "person", "status", "words"),
    [case[1:] for case in BAD_INPUT],
    ids=[case[0] for case in BAD_INPUT],
)
def test_bad_input_changes_nothing(client, auth, yuta, declared, setup, path, body, person, status, words):
    if setup == "offer":
        assert (
            client.post(f"{BASE}/1/roles/ic/offer", json={"person": "hana"}, headers=yuta).status_code == 201
        )
    if setup == "close":
        _close(client, yuta)
    before = _timeline(client, yuta)
    incident_before = client.get(f"{BASE}/1", headers=yuta).json()
    roles_before = client.get(f"{BASE}/1/roles", headers=yuta).json()
    r = client.post(f"{BASE}{path}", json=body, headers=auth("responder", person=person))
    assert r.status_code == status, r.text
    for word in words:
        assert word in r.json()["error"]["message"]
    assert _timeline(client, yuta) == before
    assert client.get(f"{BASE}/1", headers=yuta).json() == incident_before
    assert client.get(f"{BASE}/1/roles", headers=yuta).json() == roles_before


def test_bad_declarations_store_nothing(client, yuta, applied_ops):
    for body, words in (
        ({"title": "x", "severity": "SEV7"}, "valid: SEV1, SEV2, SEV3, SEV4"),
        ({"title": "x", "severity": 1, "service": "billing"}, "valid: payment-platform"),
        ({"title": "x", "severity": 1, "ic": "ghost"}, "unknown person @ghost"),
        ({"title": "", "severity": 1}, "title"),
    ):
        r = client.post(BASE, json=body, headers=yuta)
        assert r.status_code == 422 and words in r.json()["error"]["message"], r.text
    assert client.get(BASE, headers=yuta).json() == []
