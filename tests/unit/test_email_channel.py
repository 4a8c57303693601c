"""Email headers: the Message-ID's domain, auto-reply suppression, the ack links, one thread per incident."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from commandpost.notify.channels.base import Outbound
from commandpost.notify.channels.email import build, message_domain, thread_id

NOW = datetime(2026, 6, 24, 3, 0, tzinfo=UTC)
PAGE = Outbound(
    id=3,
    key="page/incident=7/level=1/person=mei/channel=email/repeat=0",
    channel="email",
    destination="mei@example.com",
    subject="[SEV1] INC-7 payment webhook backlog",
    body="First move: scale the workers\nRunbook: https://runbooks.example/payments",
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
SENDER = "commandpost <pager@ops.example.com>"


@pytest.mark.parametrize(
    ("configured", "sender", "public_url", "expected"),
    [
        ("Mail.Example.org", "pager@ops.example.com", "https://cp.example", "mail.example.org"),
        ("", "commandpost <pager@ops.example.com>", "https://cp.example", "ops.example.com"),
        ("", "commandpost@localhost", "https://cp.example:8443/base", "cp.example"),
        ("", "commandpost@localhost", "", "localhost"),
        ("", "not an address", "", "localhost"),
    ],
)
def test_the_message_id_domain_is_the_orgs(configured, sender, public_url, expected):
    assert message_domain(configured, sender, public_url) == expected


def test_a_page_email_carries_its_ids_on_the_domain_and_asks_for_no_auto_replies():
    mail = build(PAGE, sender=SENDER, now=NOW, domain="ops.example.com")
    digest = hashlib.sha256(PAGE.key.encode()).hexdigest()[:32]
    assert mail["Message-ID"] == f"<{digest}@ops.example.com>"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["X-Auto-Response-Suppress"] == "All"
    assert "@commandpost>" not in str(mail)
    # without a configured domain, the sender's
    assert build(PAGE, sender=SENDER, now=NOW)["Message-ID"] == f"<{digest}@ops.example.com>"


def test_every_email_about_an_incident_refers_to_one_thread_id_it_never_claims():
    page = build(PAGE, sender=SENDER, now=NOW, domain="ops.example.com")
    notice = build(
        replace(
            PAGE, key="comms-overdue/incident=INC-7/to=mei", subject="[SEV1] INC-7 comms overdue", payload={}
        ),
        sender=SENDER,
        now=NOW + timedelta(hours=1),
        domain="ops.example.com",
    )
    root = thread_id(7, "ops.example.com")
    assert root == "<incident-7@ops.example.com>"
    for mail in (page, notice):
        assert (mail["In-Reply-To"], mail["References"]) == (root, root)
        assert mail["Message-ID"] != root
        assert mail["Thread-Topic"] == "commandpost incident 7"
    assert page["Message-ID"] != notice["Message-ID"]
    # Outlook's conversation index: 22 bytes, 0x01, then time, then the same GUID for the incident
    indexes = [base64.b64decode(m["Thread-Index"]) for m in (page, notice)]
    assert [len(i) for i in indexes] == [22, 22] and {i[0] for i in indexes} == {1}
    assert indexes[0][6:] == indexes[1][6:] and indexes[0][1:6] < indexes[1][1:6]
    other = build(replace(PAGE, incident_id=8), sender=SENDER, now=NOW, domain="ops.example.com")
    assert other["References"] == "<incident-8@ops.example.com>"
    assert base64.b64decode(other["Thread-Index"])[6:] != indexes[0][6:]


def test_an_email_about_no_incident_starts_no_thread():
    mail = build(replace(PAGE, incident_id=None, payload={}), sender=SENDER, now=NOW)
    assert mail["In-Reply-To"] is None and mail["References"] is None and mail["Thread-Index"] is None
    assert mail["Auto-Submitted"] == "auto-generated"


def test_the_ack_and_escalate_links_head_the_text_and_are_buttons_in_html():
    mail = build(PAGE, sender=SENDER, now=NOW)
    plain = mail.get_body(("plain",)).get_content()
    assert plain.splitlines()[:3] == [
        "Acknowledge: https://cp.example/a/ack-token",
        "Escalate: https://cp.example/a/esc-token",
        "",
    ]
    assert plain.splitlines()[3] == "First move: scale the workers"
    html = mail.get_body(("html",)).get_content()
    assert html.index('href="https://cp.example/a/ack-token"') < html.index("First move")
    assert ">Escalate</a>" in html


def test_a_notice_without_links_has_no_link_lines_and_bad_links_are_left_out():
    plain = build(replace(PAGE, payload={}), sender=SENDER, now=NOW).get_body(("plain",)).get_content()
    assert plain.startswith("First move")
    hostile = replace(
        PAGE, payload={"ack_url": "javascript:alert(1)", "escalate_url": "https://x/a\nBcc: all@corp"}
    )
    mail = build(hostile, sender=SENDER, now=NOW)
    assert "Acknowledge:" not in mail.get_body(("plain",)).get_content()
    assert "javascript" not in mail.get_body(("html",)).get_content()


def test_control_characters_never_reach_the_message():
    evil = replace(PAGE, subject="[SEV1]\x00 INC-7\x1b[2J", body="a\x00b\x1b[31mc\x7fd\u202ee\r\nnext")
    mail = build(evil, sender=SENDER, now=NOW)
    assert mail["Subject"] == "[SEV1] INC-7[2J"
    raw = bytes(mail)
    assert b"\x00" not in raw and b"\x1b" not in raw and b"\x7f" not in raw
    assert "ab[31mcde\nnext" in mail.get_body(("plain",)).get_content()
