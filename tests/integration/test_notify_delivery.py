"""Delivery to real far ends: a local HTTP receiver standing in for Slack and webhooks, aiosmtpd for email.

Every test here also watches the socket layer: any connection to an address outside the
loopback range fails the test, and the SSRF cases assert that no connection was even attempted.
"""

from __future__ import annotations

import email
import email.policy
import io
import json
import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr
from sqlalchemy import select

from commandpost.notify import service
from commandpost.notify.channels import Channels
from commandpost.notify.models import DEAD, DELIVERED, PENDING, OutgoingAttempt, OutgoingMessage
from commandpost.notify.sender import NotificationSender
from commandpost.notify.signing import verify_signature
from tests.integration.notify_sink import Sink, free_port, start_sink, stop_sink

pytestmark = pytest.mark.integration
SECRET = "whsec_integration"


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every connect() made through Python sockets; a non-loopback one is refused and fails the test."""
    seen: list[Any] = []
    real_connect = socket.socket.connect

    def spy(sock: socket.socket, address: Any) -> Any:
        seen.append(address)
        host = address[0] if isinstance(address, tuple) else str(address)
        if sock.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1"):
            raise AssertionError(f"a test tried to connect to {address}: only loopback is allowed")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", spy)
    return seen


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = start_sink()
    yield server
    stop_sink(server)


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()


@pytest.fixture
def tuned(settings):  # type: ignore[no-untyped-def]
    return settings.model_copy(
        update={
            "outbound_allowlist": ["127.0.0.1"],
            "webhook_signing_secret": SecretStr(SECRET),
            "notify_pass_wait_seconds": 30.0,
            "notify_max_attempts": 4,
        }
    )


def make_sender(settings, **channel_kw: Any) -> NotificationSender:  # type: ignore[no-untyped-def]
    channels = Channels(settings, console_stream=io.StringIO(), **channel_kw)
    return NotificationSender(settings, channels=channels, owner="it", rand=lambda: 0.5)


@pytest.fixture
def sender(tuned) -> Iterator[NotificationSender]:  # type: ignore[no-untyped-def]
    made = make_sender(tuned)
    yield made
    made.close()


def enqueue(sessions, clock, key: str, channel: str, destination: str, **kw: Any) -> int:  # type: ignore[no-untyped-def]
    with sessions() as s:
        message = service.enqueue(
            s,
            key=key,
            channel=channel,  # type: ignore[arg-type]
            destination=destination,
            subject=kw.pop("subject", "[SEV1] INC-7 payment webhook backlog"),
            body=kw.pop("body", "Runbook: https://runbooks.example/payments\nFirst move: scale the workers"),
            severity="SEV1",
            incident_id=7,
            person="yuta",
            now=clock.now(),
            **kw,
        )
        s.commit()
        assert message is not None
        return message.id


def run(sender: NotificationSender, sessions, now) -> int:  # type: ignore[no-untyped-def]
    with sessions() as s:
        done = sender.run(s, now)
        s.commit()
        return done


def fetch(session, message_id: int) -> OutgoingMessage:  # type: ignore[no-untyped-def]
    session.rollback()
    return session.get(OutgoingMessage, message_id)


def test_slack_gets_block_kit(sessions, session, clock, sink, sender, connections):
    mid = enqueue(sessions, clock, "slack-1", "slack", sink.url + "/services/T0/B1/yuta")
    assert run(sender, sessions, clock.now()) == 1
    [request] = sink.to("/services/T0/B1/yuta")
    doc = json.loads(request.body)
    assert request.headers["Content-Type"] == "application/json"
    assert [b["type"] for b in doc["blocks"]] == ["header", "section", "context"]
    assert doc["blocks"][0]["text"]["text"] == "[SEV1] INC-7 payment webhook backlog"
    assert "First move: scale the workers" in doc["blocks"][1]["text"]["text"]
    assert fetch(session, mid).status == DELIVERED
    assert {c[0] for c in connections} == {"127.0.0.1"}


def test_webhook_is_signed_and_the_signature_verifies(sessions, session, clock, sink, sender, connections):
    key = "page/incident=7/level=1/person=ken/channel=webhook/repeat=0"
    mid = enqueue(sessions, clock, key, "webhook", sink.url + "/hooks/ken", payload={"url": "https://cp/7"})
    run(sender, sessions, clock.now())
    [request] = sink.to("/hooks/ken")
    header = request.headers["Commandpost-Signature"]
    assert verify_signature(SECRET, header, request.body, clock.now())
    assert not verify_signature(SECRET, header, request.body, clock.now() + timedelta(seconds=301))
    assert not verify_signature("wrong", header, request.body, clock.now())
    assert request.headers["Commandpost-Idempotency-Key"] == key
    assert request.headers["Commandpost-Message-Id"] == str(mid)
    doc = json.loads(request.body)
    assert (doc["key"], doc["severity"], doc["payload"]) == (key, "SEV1", {"url": "https://cp/7"})


def test_email_arrives_with_subject_plain_and_html(sessions, session, clock, smtp, tuned):
    mailbox, port = smtp
    settings = tuned.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_from": "cp@ops.test"}
    )
    sender = make_sender(settings)
    try:
        mid = enqueue(sessions, clock, "mail-1", "email", "yuta@example.com")
        assert run(sender, sessions, clock.now()) == 1
    finally:
        sender.close()
    [mail] = mailbox.messages
    assert mailbox.envelopes == [("cp@ops.test", ["yuta@example.com"])]
    assert mail["Subject"] == "[SEV1] INC-7 payment webhook backlog"
    assert "First move: scale the workers" in mail.get_body(("plain",)).get_content()
    assert '<a href="https://runbooks.example/payments">' in mail.get_body(("html",)).get_content()
    assert fetch(session, mid).status == DELIVERED


def test_email_without_smtp_settings_is_a_clear_dead_letter(sessions, session, clock, sender):
    mid = enqueue(sessions, clock, "mail-2", "email", "yuta@example.com")
    run(sender, sessions, clock.now())
    message = fetch(session, mid)
    assert message.status == DEAD and "set COMMANDPOST_SMTP_HOST" in message.last_error


def test_a_sink_failing_then_recovering_loses_nothing(sessions, session, clock, sink, sender):
    sink.script("/flaky", *([500] * 12), 200)
    ids = [enqueue(sessions, clock, f"flaky-{i}", "webhook", sink.url + "/flaky") for i in range(8)]
    for _ in range(6):
        run(sender, sessions, clock.now())
        clock.advance(minutes=1)
    assert {fetch(session, i).status for i in ids} == {DELIVERED}
    delivered_keys = [json.loads(r.body)["key"] for r in sink.to("/flaky")[12:]]
    assert sorted(delivered_keys) == sorted(
        f"flaky-{i}" for i in range(8)
    )  # each exactly once after recovery
    outcomes = session.scalars(select(OutgoingAttempt.outcome)).all()
    assert outcomes.count("retry") == 12 and outcomes.count("delivered") == 8


def test_429_retry_after_is_honoured(sessions, session, clock, sink, sender):
    sink.script("/limited", (429, {"Retry-After": "30"}), 200)
    mid = enqueue(sessions, clock, "limited", "webhook", sink.url + "/limited")
    run(sender, sessions, clock.now())
    message = fetch(session, mid)
    assert message.status == PENDING and message.next_attempt_at >= clock.now() + timedelta(seconds=30)
    assert run(sender, sessions, clock.now() + timedelta(seconds=29)) == 0
    assert len(sink.to("/limited")) == 1  # nothing sent before Retry-After
    assert run(sender, sessions, clock.now() + timedelta(seconds=31)) == 1
    assert fetch(session, mid).status == DELIVERED and len(sink.to("/limited")) == 2
    codes = session.scalars(select(OutgoingAttempt.status_code).order_by(OutgoingAttempt.id)).all()
    assert codes == [429, 200]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:{port}/hook", "a loopback address"),  # the sink itself, but not allowlisted here
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://10.0.0.1/hook", "a private address"),
        ("http://[fd00::1]/hook", "a private address"),
        ("file:///etc/passwd", "scheme 'file' refused"),
    ],
)
def test_the_guard_refuses_before_connecting(
    sessions, session, clock, sink, settings, connections, url, reason
):
    closed = settings.model_copy(update={"notify_pass_wait_seconds": 30.0})  # empty allowlist
    sender = make_sender(closed)
    try:
        mid = enqueue(sessions, clock, "ssrf", "webhook", url.format(port=sink.server.server_address[1]))
        run(sender, sessions, clock.now())
    finally:
        sender.close()
    message = fetch(session, mid)
    assert message.status == DEAD and reason in message.last_error and message.attempts == 1
    assert connections == [] and sink.received == []


def test_every_resolved_address_must_pass(sessions, session, clock, sink, tuned, connections):
    def resolver(host: str, port: int) -> list[str]:
        return {"hooks.test": ["127.0.0.1", "10.0.0.1"]}.get(host, [host])

    sender = make_sender(tuned, resolver=resolver)
    try:
        mid = enqueue(
            sessions, clock, "dns", "webhook", f"http://hooks.test:{sink.server.server_address[1]}/x"
        )
        run(sender, sessions, clock.now())
    finally:
        sender.close()
    assert "resolves to 10.0.0.1, a private address" in fetch(session, mid).last_error
    assert connections == []


def test_a_redirect_to_the_metadata_address_is_refused(sessions, session, clock, sink, sender, connections):
    sink.script("/moved", (302, {"Location": "http://169.254.169.254/latest/meta-data/iam"}))
    sink.script("/hop", (307, {"Location": "/landed"}))
    refused = enqueue(sessions, clock, "redirect-bad", "webhook", sink.url + "/moved")
    followed = enqueue(sessions, clock, "redirect-ok", "webhook", sink.url + "/hop")
    run(sender, sessions, clock.now())
    message = fetch(session, refused)
    assert message.status == DEAD
    assert "redirect to http://169.254.169.254/… refused" in message.last_error
    assert fetch(session, followed).status == DELIVERED and len(sink.to("/landed")) == 1
    assert {c[0] for c in connections} == {"127.0.0.1"}  # never the metadata address
