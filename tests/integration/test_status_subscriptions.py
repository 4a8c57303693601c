"""Email subscription to the status page (issue 18), double opt-in, through a real SMTP server
(aiosmtpd), both databases: the public form (CSRF, rate limit, the same answer for every address),
the confirmation email with its signed expiring link, updates and maintenance notices (scheduled,
cancelled) to confirmed subscribers only, each with a signed unsubscribe link; forged, altered,
expired and wrong-purpose links refused with nothing changed; the address never in the logs.
"""

from __future__ import annotations

import email
import email.policy
import io
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from commandpost.incidents.models import StatusSubscriber
from commandpost.notify.channels import Channels
from commandpost.notify.sender import NotificationSender
from commandpost.security.links import SubscriptionSigner
from commandpost.settings import Settings
from tests.integration.notify_sink import free_port

pytestmark = pytest.mark.integration
ADDRESS = "reader@example.org"
UPDATE = {
    "title": "Delayed card payments",
    "message": "Card payments are delayed; no charge is lost.",
    "state": "identified",
    "services": {"payment-platform": "partial_outage"},
}


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            (
                list(envelope.rcpt_tos),
                email.message_from_bytes(envelope.original_content, policy=email.policy.default),
            )
        )
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox, port = Mailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()


@pytest.fixture
def settings(db_url: str, smtp) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(
        database_url=db_url,
        engine_enabled=False,
        smtp_host="127.0.0.1",
        smtp_port=smtp[1],
        smtp_from="status@example.org",
        public_url="http://status.example.org",
        outbound_allowlist=["127.0.0.1"],
    )


@pytest.fixture
def deliver(settings, sessions, clock):  # type: ignore[no-untyped-def]
    sender = NotificationSender(
        settings, channels=Channels(settings, console_stream=io.StringIO()), owner="it", rand=lambda: 0.5
    )

    def run() -> None:
        with sessions() as s:
            sender.run(s, clock.now())
            s.commit()

    yield run
    sender.close()


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


def _subscribe(client, address: str = ADDRESS, *, csrf: str | None = None):  # type: ignore[no-untyped-def]
    token = csrf if csrf is not None else _csrf(client.get("/status").text)
    return client.post(
        "/status/subscribe", data={"email": address, "csrf_token": token}, follow_redirects=False
    )


def _text(message: Any) -> str:
    return str(message.get_body(preferencelist=("plain",)).get_content())


def _link(message: Any, label: str) -> str:
    found = re.search(rf"^{label}: (\S+)\s*$", _text(message), re.M)
    assert found, _text(message)
    return urlsplit(found.group(1)).path


def _count(session) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    session.rollback()
    total = session.scalar(select(func.count()).select_from(StatusSubscriber)) or 0
    confirmed = (
        session.scalar(
            select(func.count())
            .select_from(StatusSubscriber)
            .where(StatusSubscriber.confirmed_at.is_not(None))
        )
        or 0
    )
    return total, confirmed


def _publish(client, headers, body):  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/incidents/INC-1/public-updates", json=body, headers=headers)
    assert r.status_code == 201, r.text


def test_double_opt_in_updates_and_unsubscribe(
    client, auth, applied_ops, smtp, deliver, session, clock, caplog
):
    caplog.set_level(logging.DEBUG)
    mailbox, _port = smtp
    yuta = auth("responder", person="yuta")
    r = client.post(
        "/api/v1/incidents",
        json={"title": "x", "severity": "SEV2", "service": "payment-platform"},
        headers=yuta,
    )
    assert r.status_code == 201

    page = client.get("/status")
    assert "cp_status_csrf" in page.headers["set-cookie"] and 'action="/status/subscribe"' in page.text
    r = _subscribe(client)
    assert r.status_code == 303 and r.headers["location"] == "/status?subscribed=1#subscribe"
    assert "a confirmation link is on its way" in client.get(r.headers["location"]).text
    assert _count(session) == (1, 0)
    deliver()
    assert len(mailbox.messages) == 1
    rcpt, confirm_mail = mailbox.messages[0]
    assert rcpt == [ADDRESS] and confirm_mail["Subject"] == "Confirm your subscription to status updates"
    confirm, leave = _link(confirm_mail, "Confirm"), _link(confirm_mail, "Unsubscribe")
    assert confirm.startswith("/status/confirm/") and leave.startswith("/status/unsubscribe/")
    assert confirm_mail["List-Unsubscribe"] == f"<http://status.example.org{leave}>"

    _publish(client, yuta, UPDATE)  # not confirmed yet: nothing sent
    deliver()
    assert len(mailbox.messages) == 1

    asked = client.get(confirm)  # a scanner opening the link changes nothing
    assert asked.status_code == 200 and "Confirm your subscription?" in asked.text
    assert asked.headers["cache-control"] == "no-store" and asked.headers["referrer-policy"] == "no-referrer"
    assert _count(session) == (1, 0)
    done = client.post(confirm)
    assert done.status_code == 200 and "Subscribed" in done.text and _count(session) == (1, 1)
    assert client.post(confirm).status_code == 200 and _count(session) == (1, 1)  # idempotent

    _publish(client, yuta, {"message": "A fix is rolling out.", "state": "monitoring"})
    window = {
        "title": "Database upgrade",
        "message": "Slow for a few minutes.",
        "services": ["payment-platform"],
        "starts_at": "2026-06-25T01:00:00Z",
        "ends_at": "2026-06-25T02:00:00Z",
    }
    assert client.post("/api/v1/status/maintenance", json=window, headers=yuta).status_code == 201
    deliver()
    sent = {m["Subject"]: m for _rcpt, m in mailbox.messages[1:]}
    assert sorted(sent) == ["Monitoring: Delayed card payments", "Scheduled maintenance: Database upgrade"]
    update = sent["Monitoring: Delayed card payments"]
    assert "A fix is rolling out." in _text(update) and "payment-platform: partial outage" in _text(update)
    assert "Confirm:" not in _text(update) and _link(update, "Unsubscribe").startswith("/status/unsubscribe/")
    notice = _text(sent["Scheduled maintenance: Database upgrade"])
    assert "2026-06-25 01:00 – 2026-06-25 02:00 UTC · payment-platform" in notice
    window_id = client.get("/api/v1/status/maintenance", headers=yuta).json()[0]["id"]
    assert client.post(f"/api/v1/status/maintenance/{window_id}/cancel", headers=yuta).status_code == 200
    deliver()
    rcpt, called_off = mailbox.messages[3]
    assert rcpt == [ADDRESS] and called_off["Subject"] == "Maintenance cancelled: Database upgrade"
    assert _text(called_off).startswith("The planned maintenance will not take place.")
    assert "2026-06-25 01:00 – 2026-06-25 02:00 UTC · payment-platform" in _text(called_off)
    assert _link(called_off, "Unsubscribe").startswith("/status/unsubscribe/")

    # subscribing again answers the same and sends nothing (it never tells who is subscribed)
    again = _subscribe(client)
    assert again.status_code == 303 and again.headers["location"] == r.headers["location"]
    deliver()
    assert len(mailbox.messages) == 4

    assert client.get(leave).status_code == 200 and _count(session) == (1, 1)
    gone = client.post(_link(update, "Unsubscribe"))
    assert gone.status_code == 200 and "Unsubscribed" in gone.text and _count(session) == (0, 0)
    assert client.post(leave).status_code == 200  # a second click says the same
    _publish(client, yuta, {"message": "Back to normal.", "state": "resolved"})
    deliver()
    assert len(mailbox.messages) == 4
    # the logs of commandpost (not those of aiosmtpd, the stand-in server) never hold the address
    ours = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail."))
    assert ours and ADDRESS not in ours and "reader@" not in ours


def test_forged_altered_expired_and_wrong_purpose_links_change_nothing(
    client, applied_ops, smtp, deliver, session, clock
):
    mailbox, _port = smtp
    assert _subscribe(client).status_code == 303
    deliver()
    mail = mailbox.messages[0][1]
    confirm, leave = _link(mail, "Confirm"), _link(mail, "Unsubscribe")
    token = confirm.rsplit("/", 1)[1]
    body, _, signature = token.partition("~")
    hostile = [
        f"/status/confirm/{body}~{'A' * len(signature)}",  # forged signature
        f"/status/confirm/{body.replace('c.', 'u.', 1)}~{signature}",  # altered purpose
        "/status/confirm/" + leave.rsplit("/", 1)[1],  # an unsubscribe link used to confirm
        "/status/confirm/" + "x" * 5000,  # huge
        "/status/confirm/c.1.ffffffff~%00%01",  # NUL and control characters
        "/status/confirm/%E2%80%AE%1B%5B31m",
        "/status/confirm/"
        + SubscriptionSigner(b"another key").token(
            purpose="confirm", subscriber_id=1, expires_at=clock.now() + timedelta(hours=1)
        ),
    ]
    for path in hostile:
        for method in (client.get, client.post):
            r = method(path)
            assert r.status_code == 403, (path[:60], r.status_code)
            assert "not valid" in r.text
    assert client.post("/status/elsewhere/abc").status_code == 404
    assert _count(session) == (1, 0)
    clock.advance(hours=25)  # the confirm link expired
    r = client.post(confirm)
    assert r.status_code == 403 and "expired" in r.text and _count(session) == (1, 0)
    assert client.post(leave).status_code == 200 and _count(session) == (0, 0)  # unsubscribe lasts a year


@pytest.mark.parametrize(
    "address",
    ["", "not an address", "a@b", "nul\x00@example.org", "bell\x07@example.org", "x" * 300 + "@example.org",
     "<b>@example.org", "reader@example.org\r\nBcc: victim@example.org", "a@" + "b" * 5000 + ".org"],
)  # fmt: skip
def test_bad_addresses_are_refused_without_an_echo_and_nothing_stored(
    client, applied_ops, smtp, deliver, session, address
):
    r = _subscribe(client, address)
    assert r.status_code == 422, r.status_code
    assert "email" in r.text
    if address.strip():
        assert address not in r.text
    deliver()
    assert smtp[0].messages == [] and _count(session) == (0, 0)


def test_csrf_and_the_rate_limit(client, applied_ops, smtp, deliver, session, clock):
    _csrf(client.get("/status").text)
    r = _subscribe(client, csrf="forged")
    assert r.status_code == 403 and "CSRF" in r.text and _count(session) == (0, 0)
    fresh = type(client)(client.app)  # no cookie: the double submit fails
    assert fresh.post("/status/subscribe", data={"email": ADDRESS, "csrf_token": "x"}).status_code == 403
    for n in range(5):
        assert _subscribe(client, f"r{n}@example.org").status_code == 303
    r = _subscribe(client, "r9@example.org")
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0 and _count(session) == (5, 0)
    clock.advance(hours=1, seconds=1)
    assert _subscribe(client, "r9@example.org").status_code == 303
    deliver()
    assert len(smtp[0].messages) == 6
