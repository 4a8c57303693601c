"""Tokens speak for a person of people.yaml or a ``svc:NAME`` service account — never a made-up handle —
and a service account cannot become IC (issue 14, item 7). On both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from commandpost.incidents.models import Incident
from commandpost.security.models import ApiToken


def _tokens(session) -> int:
    session.rollback()
    return int(session.scalar(select(func.count()).select_from(ApiToken)) or 0)


def test_a_token_for_an_unknown_handle_is_refused(client, applied_ops, auth, session):
    admin = auth("admin", person="yuta")
    before = _tokens(session)
    r = client.post("/api/v1/tokens", json={"person": "nobody-at-all", "scope": "admin"}, headers=admin)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert "unknown person @nobody-at-all" in error["message"] and "@hana" in error["message"]
    assert error["details"]["field"] == "person"
    assert _tokens(session) == before


@pytest.mark.parametrize("handle", ["svc:", "svc:Deploy Bot", "svc:" + "x" * 61, "svc:../x"])
def test_a_malformed_service_account_is_refused(client, applied_ops, auth, handle):
    r = client.post("/api/v1/tokens", json={"person": handle, "scope": "read"}, headers=auth("admin"))
    assert r.status_code == 422 and "svc:NAME" in r.json()["error"]["message"], r.text


def test_a_service_account_token_declares_only_naming_a_person_as_ic(client, applied_ops, auth, session):
    r = client.post("/api/v1/tokens", json={"person": "svc:deploy-bot", "scope": "responder"}, headers=auth())
    assert r.status_code == 201 and r.json()["person"] == "svc:deploy-bot", r.text
    bot = {"Authorization": f"Bearer {r.json()['token']}"}
    refused = client.post(
        "/api/v1/incidents", json={"title": "deploy failed", "severity": "SEV3"}, headers=bot
    )
    assert refused.status_code == 422 and "cannot be IC" in refused.json()["error"]["message"], refused.text
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Incident)) == 0
    ok = client.post(
        "/api/v1/incidents", json={"title": "deploy failed", "severity": "SEV3", "ic": "hana"}, headers=bot
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["ic"] == "hana"
