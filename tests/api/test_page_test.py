"""``POST /api/v1/people/{handle}/page-test``: a test page on each of a person's methods, its report,
and acknowledging it through its one-tap link (which touches no incident)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from commandpost.incidents.models import Incident
from commandpost.notify.models import OutgoingMessage
from commandpost.security import links
from commandpost.security.links import LinkSigner
from commandpost.security.models import AuditLog
from tests.api.test_web_auth import csrf_of, login
from tests.api.test_web_auth import people as people


def test_a_person_tests_their_own_methods_and_acknowledges_one(
    client, auth, applied_ops, sessions, settings, clock
):
    answer = client.post("/api/v1/people/@yuta/page-test", headers=auth("responder", person="yuta"))
    assert answer.status_code == 202, answer.text
    out = answer.json()
    assert out["person"] == "yuta" and out["test_id"].startswith("test/person=yuta/at=")
    assert [(m["channel"], m["status"], m["acknowledged_at"]) for m in out["methods"]] == [
        ("push", "pending", None),
        ("email", "pending", None),
        ("slack", "pending", None),
        ("console", "pending", None),
    ]
    slack = next(m for m in out["methods"] if m["channel"] == "slack")
    # a webhook URL is a credential: its host only
    assert slack["destination"] == "slack:yuta@example.com or https://hooks.slack.example/…"

    with sessions() as s:
        email = s.scalars(select(OutgoingMessage).where(OutgoingMessage.channel == "email")).one()
        assert email.payload["kind"] == "test" and email.incident_id is None
        token = LinkSigner(links.key(s, settings)).token(
            action="ack",
            message_id=email.id,
            person="yuta",
            incident_id=None,
            expires_at=clock.now() + timedelta(hours=1),
        )
    assert "Acknowledge this test page as @yuta?" in client.get(f"/a/{token}").text
    clock.advance(timedelta(seconds=30))
    done = client.post(f"/a/{token}")
    assert done.status_code == 200 and "Test page acknowledged by @yuta: this method works." in done.text
    report = client.get("/api/v1/people/yuta/page-test", headers=auth("read", person="hana")).json()
    acked = {m["channel"]: m["acknowledged_at"] for m in report["methods"]}
    assert acked["email"] is not None and acked["slack"] is None
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 0
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "page_test.ack")).one()
        assert (audit.actor, audit.details) == ("yuta", {"via": "email"})


def test_only_yourself_unless_admin(client, auth, applied_ops, sessions):
    refused = client.post("/api/v1/people/yuta/page-test", headers=auth("responder", person="hana"))
    assert refused.status_code == 403 and "your own methods only" in refused.json()["error"]["message"]
    assert (
        client.post("/api/v1/people/yuta/page-test", headers=auth("admin", person="hana")).status_code == 202
    )
    missing = client.post("/api/v1/people/nobody/page-test", headers=auth("admin"))
    assert missing.status_code == 404
    hostile = client.post("/api/v1/people/%00yuta/page-test", headers=auth("admin"))
    assert hostile.status_code in (403, 404, 422)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(OutgoingMessage)) == 4  # the admin's test only


def test_no_test_yet_reports_nothing(client, auth, applied_ops):
    out = client.get("/api/v1/people/mei/page-test", headers=auth("read")).json()
    assert out == {"person": "mei", "test_id": None, "methods": []}


def test_send_me_a_test_page_from_the_on_call_page(client, people, sessions):  # type: ignore[no-untyped-def]
    assert login(client, "hana").status_code == 303
    page = client.get("/oncall").text
    assert "Your notifications" in page and "Pages reach you by push, email, slack" in page
    assert "Send me a test page" in page
    sent = client.post("/oncall/page-test", data={"csrf_token": csrf_of(page)}, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == "/oncall#page-test"
    shown = client.get("/oncall").text
    assert "<td>push</td><td><code>cp-…</code></td><td>pending</td>" in shown
    with sessions() as s:
        assert {m.person for m in s.scalars(select(OutgoingMessage))} == {"hana"}
    forged = client.post("/oncall/page-test", data={"csrf_token": "forged"}, follow_redirects=False)
    assert forged.status_code == 403
    assert login(client, "mei").status_code == 303  # a read-only login has no button and may not send
    assert "Send me a test page" not in client.get("/oncall").text
    assert (
        client.post("/oncall/page-test", data={"csrf_token": csrf_of(client.get("/oncall").text)}).status_code
        == 403
    )
