"""Email through a real SMTP server (aiosmtpd): the headers that thread an incident and stop auto-replies,
the ack links, and hostile text, as a mailbox receives them."""

from __future__ import annotations

import base64
import email
import email.policy
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from commandpost.notify.channels.base import Outbound
from commandpost.notify.channels.email import EmailChannel, SmtpConfig, message_domain
from tests.integration.notify_sink import free_port

pytestmark = pytest.mark.integration
NOW = datetime(2026, 6, 24, 3, 0, tzinfo=UTC)
PAGE = Outbound(
    id=3,
    key="page/incident=7/level=1/person=mei/channel=email/repeat=0",
    channel="email",
    destination="mei@example.com",
    subject="[SEV1] INC-7 payment webhook backlog",
    body="First move: scale the workers",
    severity="SEV1",
    incident_id=7,
    person="mei",
    payload={
        "kind": "page",
        "url": "https://cp.example/incidents/INC-7",
        "ack_url": "https://cp.example/a/ack-token",
        "escalate_url": "https://cp.example/a/esc-token",
    },
)


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.raw: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.raw.append(envelope.original_content)
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=email.policy.default))
        return "250 Message accepted for delivery"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def channel(port: int, **kw: Any) -> EmailChannel:
    sender = "Commandpost <pager@ops.example.com>"
    return EmailChannel(SmtpConfig(host="127.0.0.1", port=port, sender=sender, **kw))


def test_an_incidents_emails_form_one_thread_in_the_mailbox(mailbox):
    box, port = mailbox
    mail = channel(port, domain=message_domain("", "", "https://cp.example"))
    notice = replace(PAGE, key="comms-overdue/incident=INC-7/to=mei", subject="[SEV1] INC-7 comms overdue")
    other = replace(PAGE, key="page/incident=8/level=1/person=mei/channel=email/repeat=0", incident_id=8)
    for message, at in ((PAGE, NOW), (notice, NOW + timedelta(minutes=30)), (other, NOW)):
        assert mail.send(message, at).outcome == "delivered"
    page_mail, notice_mail, other_mail = box.messages
    for received in (page_mail, notice_mail):
        assert received["References"] == "<incident-7@cp.example>"
        assert received["In-Reply-To"] == "<incident-7@cp.example>"
        assert received["Message-ID"].endswith("@cp.example>")
        assert received["Auto-Submitted"] == "auto-generated"
    assert other_mail["References"] == "<incident-8@cp.example>"
    guid = [base64.b64decode(m["Thread-Index"])[6:] for m in box.messages]  # Outlook's conversation
    assert guid[0] == guid[1] != guid[2]
    ids = [m["Message-ID"] for m in box.messages]
    assert len(set(ids)) == 3 and "<incident-7@cp.example>" not in ids
    # what a threading client (JWZ: mutt, Thunderbird) does: group by the first reference
    threads: dict[str, list[str]] = {}
    for received in box.messages:
        threads.setdefault(received["References"].split()[0], []).append(received["Subject"])
    assert threads == {
        "<incident-7@cp.example>": ["[SEV1] INC-7 payment webhook backlog", "[SEV1] INC-7 comms overdue"],
        "<incident-8@cp.example>": ["[SEV1] INC-7 payment webhook backlog"],
    }


def test_a_resend_carries_the_same_message_id_so_mailboxes_fold_it(mailbox):
    box, port = mailbox
    mail = channel(port)
    mail.send(PAGE, NOW)
    mail.send(PAGE, NOW + timedelta(seconds=40))  # the claim expired mid-send: sent again
    first, second = box.messages
    assert first["Message-ID"] == second["Message-ID"]
    assert first["Message-ID"].endswith("@ops.example.com>")


def test_the_page_arrives_with_its_ack_and_escalate_links_first(mailbox):
    box, port = mailbox
    assert channel(port).send(PAGE, NOW).outcome == "delivered"
    [received] = box.messages
    plain = received.get_body(("plain",)).get_content().splitlines()
    assert plain[:2] == [
        "Acknowledge: https://cp.example/a/ack-token",
        "Escalate: https://cp.example/a/esc-token",
    ]
    assert received["X-Auto-Response-Suppress"] == "All"


def test_hostile_text_arrives_clean_or_is_refused_clearly(mailbox):
    box, port = mailbox
    evil = replace(
        PAGE,
        subject="[SEV1]\x00 INC-7\r\nBcc: all@corp",
        body="a\x00b\x1b[31m red\x7f\n" + "long line " * 1000,
    )
    assert channel(port).send(evil, NOW).outcome == "delivered"
    [received] = box.messages
    assert received["Subject"] == "[SEV1] INC-7 Bcc: all@corp" and received["Bcc"] is None
    assert b"\x00" not in box.raw[0] and b"\x1b" not in box.raw[0]
    assert max(len(line) for line in box.raw[0].splitlines()) <= 998  # SMTP's line limit
    assert received.get_body(("plain",)).get_content().splitlines()[3] == "ab[31m red"
    refused = channel(port).send(replace(PAGE, destination="mei@example.com\r\nBcc: all@corp"), NOW)
    assert refused.outcome == "dead" and "cannot build the email" in (refused.error or "")
    assert len(box.messages) == 1
