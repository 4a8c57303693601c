"""Ops revisions and integrations over the API."""

from __future__ import annotations

import shutil

from commandpost.policy import service
from tests.conftest import EXAMPLE_OPS


def test_revisions_list_and_detail_with_changes(client, auth, sessions, clock, tmp_path):
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, ops)
    with sessions() as s:
        service.apply_folder(s, path=ops, now=clock.now(), actor="test")
        s.commit()
    people = ops / "people.yaml"
    people.write_text(people.read_text().replace("name: Ken Watanabe", "name: Ken Watanabe-Mori"))
    with sessions() as s:
        second = service.apply_folder(s, path=ops, now=clock.now(), actor="test")
        s.commit()
        second_id = second.revision.id

    listed = client.get("/api/v1/ops/revisions", headers=auth("read"))
    assert listed.status_code == 200
    assert [r["seq"] for r in listed.json()] == [2, 1]

    detail = client.get(f"/api/v1/ops/revisions/{second_id}", headers=auth("read"))
    assert detail.status_code == 200
    body = detail.json()
    assert body["changes"] == ["changed people.yaml: people"]
    assert "escalation/payment-platform.yaml" in body["files"] and body["applied_by"] == "test"

    missing = client.get("/api/v1/ops/revisions/999", headers=auth("read"))
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "ops revision 999 does not exist"


def test_integrations_are_admin_only(client, auth, applied_ops):
    assert client.get("/api/v1/integrations").status_code == 401
    assert client.get("/api/v1/integrations", headers=auth("responder")).status_code == 403
    r = client.get("/api/v1/integrations", headers=auth("admin"))
    assert r.status_code == 200
    rows = {i["name"]: i for i in r.json()}
    assert set(rows) == {i.name for _s, i in applied_ops.integrations()} | {"charge-ledger-reconciliation"}
    beat = rows["charge-ledger-reconciliation"]  # a heartbeat's key: its ping URL
    assert beat["source"] == "heartbeat" and beat["intake_url"].endswith(f"/api/v1/heartbeats/{beat['key']}")
    sns = rows["payment-platform-cloudwatch"]
    assert sns["source"] == "sns" and sns["intake_url"].endswith(f"/api/v1/intake/sns/{sns['key']}")
