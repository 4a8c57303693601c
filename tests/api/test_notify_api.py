"""The notifications API: the delivery log, dead letters, retry, and the error mapping."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from commandpost.notify import service
from commandpost.notify.models import DEAD, DELIVERED, OutgoingAttempt
from commandpost.security.models import AuditLog

SLACK = "https://hooks.slack.example/services/T000/B001/SECRETPART"


def seed(sessions, clock):  # type: ignore[no-untyped-def]
    with sessions() as s:
        made = []
        for key, channel, destination in (
            ("page/7/yuta/slack", "slack", SLACK),
            ("page/7/yuta/email", "email", "yuta@example.com"),
            ("page/8/ken/webhook", "webhook", "https://alerts.example.com/hooks/ken?token=abc"),
        ):
            made.append(
                service.enqueue(
                    s,
                    key=key,
                    channel=channel,
                    destination=destination,
                    subject="[SEV1] INC-7 backlog",
                    body="first move",
                    severity="SEV1",
                    incident_id=int(key.split("/")[1]),
                    person=key.split("/")[2],
                    now=clock.now(),
                )
            )
        s.flush()
        slack, mail, hook = made
        mail.status, mail.attempts, mail.last_error = DEAD, 10, "SMTP 127.0.0.1:25: 550 no such user"
        hook.status, hook.attempts, hook.sent_at = DELIVERED, 1, clock.now()
        s.add(
            OutgoingAttempt(
                message_id=mail.id,
                number=10,
                at=clock.now(),
                duration_ms=12,
                status_code=550,
                error="550 no such user",
                outcome="dead",
                sender="replica-1",
            )
        )
        s.commit()
        return slack.id, mail.id, hook.id


def test_list_masks_webhook_urls_and_filters_dead_letters(client, auth, sessions, clock):
    slack, mail, hook = seed(sessions, clock)
    everything = client.get("/api/v1/notifications", headers=auth("read"))
    assert everything.status_code == 200
    rows = everything.json()
    assert [r["id"] for r in rows] == [hook, mail, slack]
    assert rows[2]["destination"] == "https://hooks.slack.example/…" and "SECRETPART" not in everything.text
    assert "token=abc" not in everything.text
    assert rows[0]["delivered"] is True and rows[0]["next_attempt_at"] is None
    failed = client.get("/api/v1/notifications", params={"status": "failed"}, headers=auth("read")).json()
    assert [r["id"] for r in failed] == [mail]
    assert failed[0]["history"] == [
        {
            "number": 10,
            "at": "2026-06-24T03:00:00Z",
            "duration_ms": 12,
            "status_code": 550,
            "error": "550 no such user",
            "outcome": "dead",
            "sender": "replica-1",
        }
    ]
    by_incident = client.get("/api/v1/notifications", params={"incident_id": 8}, headers=auth("read")).json()
    assert [r["id"] for r in by_incident] == [hook]
    one = client.get(f"/api/v1/notifications/{mail}", headers=auth("read")).json()
    assert one["status"] == "dead" and one["last_error"].startswith("SMTP")


def test_retry_queues_a_dead_letter_again_and_is_audited(client, auth, sessions, clock, session):
    _slack, mail, _hook = seed(sessions, clock)
    clock.advance(timedelta(minutes=5))
    response = client.post(f"/api/v1/notifications/{mail}/retry", headers=auth("responder", person="hana"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["next_attempt_at"]) == ("pending", "2026-06-24T03:05:00Z")
    audit = session.scalars(select(AuditLog).where(AuditLog.target == f"notification:{mail}")).one()
    assert (audit.actor, audit.action) == ("hana", "POST /api/v1/notifications/{notification_id}/retry")
    assert client.get("/api/v1/notifications", params={"status": "failed"}, headers=auth("read")).json() == []


def test_errors_are_mapped_and_nothing_changes(client, auth, sessions, clock):
    _slack, _mail, hook = seed(sessions, clock)
    delivered = client.post(f"/api/v1/notifications/{hook}/retry", headers=auth("responder"))
    assert delivered.status_code == 409 and "is delivered" in delivered.json()["error"]["message"]
    missing = client.post("/api/v1/notifications/999/retry", headers=auth("responder"))
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "no notification 999"
    reader = client.post(f"/api/v1/notifications/{hook}/retry", headers=auth("read"))
    assert reader.status_code == 403
    bogus = client.get("/api/v1/notifications", params={"status": "lost"}, headers=auth("read"))
    assert bogus.status_code == 422 and "status 'lost'" in bogus.json()["error"]["message"]
    assert client.get("/api/v1/notifications").status_code == 401
