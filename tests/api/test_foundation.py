"""The app's edges: health, auth matrix, audit in the same transaction, one error shape, body limits."""

from __future__ import annotations

from sqlalchemy import func, select

from commandpost.security.models import ApiToken, AuditLog


def test_healthz_needs_no_token(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_readyz_reports_missing_ops_revision(client):
    r = client.get("/readyz")
    assert r.status_code == 503
    body = r.json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["migrations"] == "ok"
    assert "commandpost apply" in body["checks"]["ops"]


def test_metrics_and_openapi_are_served(client):
    client.get("/healthz")
    assert 'commandpost_http_requests_total{method="GET",status_class="2xx"}' in client.get("/metrics").text
    assert client.get("/openapi.json").json()["info"]["title"] == "commandpost"


def test_auth_matrix(client, auth):
    assert client.get("/api/v1/whoami").status_code == 401
    r = client.get("/api/v1/whoami", headers={"Authorization": "Bearer cp_nope"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert client.get("/api/v1/whoami", headers=auth("read")).json()["scope"] == "read"
    r = client.get("/api/v1/tokens", headers=auth("responder"))
    assert r.status_code == 403
    assert "admin" in r.json()["error"]["message"]
    assert client.get("/api/v1/tokens", headers=auth("admin")).status_code == 200


def test_token_in_query_string_is_refused(client, make_token):
    token = make_token("admin")
    r = client.get(f"/api/v1/whoami?token={token}")
    assert r.status_code == 401
    assert "query string" in r.json()["error"]["message"]
    r = client.get(f"/api/v1/whoami?access_token={token}", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


def test_revoked_token_stops_working(client, auth, make_token):
    token = make_token("read", person="hana")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/whoami", headers=headers).status_code == 200
    tokens = client.get("/api/v1/tokens", headers=auth("admin")).json()
    hana = next(t for t in tokens if t["person"] == "hana")
    assert client.delete(f"/api/v1/tokens/{hana['id']}", headers=auth("admin")).status_code == 200
    assert client.get("/api/v1/whoami", headers=headers).status_code == 401


def test_last_used_at_is_kept(client, make_token, session):
    token = make_token("read")
    client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"})
    row = session.scalars(select(ApiToken)).one()
    assert row.last_used_at is not None


def test_mutation_writes_audit_row_in_same_transaction(client, auth, session):
    headers = auth("admin")
    r = client.post("/api/v1/tokens", json={"person": "hana", "scope": "read"}, headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["token"].startswith("cp_")
    rows = session.scalars(select(AuditLog)).all()
    assert [(a.actor, a.action, a.target) for a in rows] == [
        ("yuta", "POST /api/v1/tokens", f"token:{r.json()['id']}")
    ]


def test_failed_mutation_rolls_back_with_its_audit_row(client, auth, session):
    headers = auth("admin")
    before = session.scalar(select(func.count()).select_from(ApiToken))
    session.rollback()
    r = client.post("/api/v1/tokens", json={"person": "hana", "scope": "root"}, headers=headers)
    assert r.status_code == 422
    assert session.scalar(select(func.count()).select_from(ApiToken)) == before
    assert session.scalar(select(func.count()).select_from(AuditLog)) == 0


def test_error_shape_for_unknown_route_and_validation(client, auth):
    r = client.get("/api/v1/nowhere", headers=auth("read"))
    assert r.status_code == 404
    assert set(r.json()["error"]) == {"code", "message", "details"}
    r = client.post("/api/v1/tokens", json={"scope": "read"}, headers=auth("admin"))
    assert r.status_code == 422
    assert "person" in r.json()["error"]["message"]


def test_malformed_json_is_400_not_500(client, auth):
    r = client.post(
        "/api/v1/tokens",
        content=b'{"person": "hana", "scope": ',
        headers={**auth("admin"), "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "bad_request"
    assert "JSON" in r.json()["error"]["message"]


def test_body_over_512_kib_is_413(client, auth):
    big = b"x" * (512 * 1024 + 1)
    r = client.post(
        "/api/v1/tokens", content=big, headers={**auth("admin"), "Content-Type": "application/json"}
    )
    assert r.status_code == 413
    assert r.json()["error"] == {
        "code": "payload_too_large",
        "message": "request body is larger than the 512 KiB limit",
        "details": None,
    }


def test_chunked_body_over_limit_is_413(client, auth):
    def chunks():
        for _ in range(600):
            yield b"x" * 1024

    r = client.post(
        "/api/v1/tokens", content=chunks(), headers={**auth("admin"), "Content-Type": "application/json"}
    )
    assert r.status_code == 413
