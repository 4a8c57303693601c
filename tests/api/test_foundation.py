"""The app's edges: health, auth matrix, audit in the same transaction, one error shape, body limits."""

from __future__ import annotations

import base64
import hashlib
import time

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


def test_mutation_writes_audit_row_in_same_transaction(client, auth, session, applied_ops):
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


def test_readyz_is_200_once_a_revision_is_applied(client, applied_ops):
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ready"] is True
    assert body["checks"]["database"] == "ok" and body["checks"]["migrations"] == "ok"
    assert body["checks"]["ops"].startswith("revision ")


def test_readyz_answers_while_a_writer_holds_the_database(client, applied_ops, sessions, clock):
    """A probe only reads: on SQLite it must not queue for the write lock (and time out into a 503)."""
    from commandpost.security import service

    with sessions() as writer:
        service.create_token(
            writer, person="hana", scope="read", now=clock.now(), people={"hana"}
        )  # holds the lock
        started = time.monotonic()
        r = client.get("/readyz")
        elapsed = time.monotonic() - started
        writer.rollback()
    assert r.status_code == 200, r.text
    assert elapsed < 2.0


def test_an_unexpected_error_is_500_in_the_error_shape_without_a_trace(app, client):
    def explode() -> None:
        raise RuntimeError("internal detail: password=hunter2 at /srv/app.py line 12")

    app.add_api_route("/api/v1/test-explode", explode)
    r = client.get("/api/v1/test-explode")
    assert r.status_code == 500
    error = r.json()["error"]
    assert set(error) == {"code", "message", "details"} and error["code"] == "internal_error"
    assert "reference" in error["message"]
    for leak in ("Traceback", "RuntimeError", "hunter2", "app.py"):
        assert leak not in r.text


def test_audit_row_rolls_back_with_the_mutation(client, auth, session, monkeypatch, applied_ops):
    """The audit row and the change are one transaction: if writing the audit row fails, no token either."""
    from commandpost.security import service

    headers = auth("admin")
    before = session.scalar(select(func.count()).select_from(ApiToken))
    session.rollback()
    real = service.record_audit

    def record_then_fail(*args, **kwargs):  # type: ignore[no-untyped-def]
        real(*args, **kwargs)  # the row is in the transaction, next to the new token...
        raise RuntimeError("commit never happens")  # ...and both go

    monkeypatch.setattr(service, "record_audit", record_then_fail)
    r = client.post("/api/v1/tokens", json={"person": "hana", "scope": "read"}, headers=headers)
    assert r.status_code == 500
    assert session.scalar(select(func.count()).select_from(ApiToken)) == before
    assert session.scalar(select(func.count()).select_from(AuditLog)) == 0


def test_a_body_that_cannot_be_decoded_is_400_bad_request(client, auth):
    headers = {**auth("admin"), "Content-Type": "application/json"}
    for body in (b'{"person": "\xff\xfe", "scope": "read"}', b"[" * 50_000 + b"]" * 50_000):
        r = client.post("/api/v1/tokens", content=body, headers=headers)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "bad_request"


def test_tokens_are_stored_only_as_a_hash(client, auth, session, applied_ops):
    r = client.post("/api/v1/tokens", json={"person": "hana", "scope": "read"}, headers=auth("admin"))
    plaintext = r.json()["token"]
    assert plaintext.startswith("cp_")
    assert len(base64.urlsafe_b64decode(plaintext[3:] + "=")) == 32  # 32 random bytes
    row = session.get(ApiToken, r.json()["id"])
    stored = [str(getattr(row, c.key)) for c in ApiToken.__table__.columns]
    assert all(plaintext not in value and plaintext[3:] not in value for value in stored)
    assert row.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext not in client.get("/api/v1/tokens", headers=auth("admin")).text
