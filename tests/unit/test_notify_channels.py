"""What each channel puts on the wire, and who receives a page (people.yaml contact methods)."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from commandpost.errors import NotFound
from commandpost.notify import service
from commandpost.notify.channels.base import Outbound
from commandpost.notify.channels.console import ConsoleChannel
from commandpost.notify.channels.email import build
from commandpost.notify.channels.slack import blocks
from commandpost.notify.channels.webhook import document
from commandpost.policy.opsfiles import OpsConfig, PeopleFile

NOW = datetime(2026, 6, 24, 3, 0, tzinfo=UTC)
PAGE = Outbound(
    id=3,
    key="page/incident=7/level=1/person=yuta/channel=slack/repeat=0",
    channel="slack",
    destination="https://hooks.example.com/services/T/B/x",
    subject="[SEV1] INC-7 payment webhook backlog",
    body="Runbook: https://runbooks.example/payments\nFirst move: scale workers <now> & check queue",
    severity="SEV1",
    incident_id=7,
    person="yuta",
    payload={"url": "https://cp.example/incidents/7", "runbook_url": "https://runbooks.example/payments"},
)


def test_slack_block_kit_shape():
    doc = blocks(PAGE)
    assert doc["text"] == "[SEV1] INC-7 payment webhook backlog"
    header, section, context, actions = doc["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "[SEV1] INC-7 payment webhook backlog", "emoji": True},
    }
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert "scale workers &lt;now&gt; &amp; check queue" in section["text"]["text"]
    assert context["elements"][0]["text"] == "*SEV1* · incident 7 · for @yuta"
    assert [b["url"] for b in actions["elements"]] == [
        "https://cp.example/incidents/7",
        "https://runbooks.example/payments",
    ]


def test_a_slack_page_carries_acknowledge_and_escalate_first_and_last():
    page = replace(
        PAGE,
        payload={
            **PAGE.payload,
            "ack_url": "https://cp.example/a/a.7.yuta.7.1~sig",
            "escalate_url": "https://cp.example/a/e.7.yuta.7.1~sig",
        },
    )
    buttons = blocks(page)["blocks"][-1]["elements"]
    assert [(b["text"]["text"], b["url"]) for b in buttons] == [
        ("Acknowledge", "https://cp.example/a/a.7.yuta.7.1~sig"),
        ("Open incident", "https://cp.example/incidents/7"),
        ("Runbook", "https://runbooks.example/payments"),
        ("Escalate", "https://cp.example/a/e.7.yuta.7.1~sig"),
    ]


def test_slack_header_gets_the_severity_and_stays_one_short_line():
    doc = blocks(
        Outbound(
            id=1,
            key="k",
            channel="slack",
            destination="d",
            subject="line one\nline two " + "x" * 300,
            body="",
            severity="SEV2",
            payload={"url": "javascript:alert(1)"},
        )
    )
    text = doc["blocks"][0]["text"]["text"]
    assert text.startswith("[SEV2] line one line two") and "\n" not in text and len(text) == 150
    assert all(b["type"] != "actions" for b in doc["blocks"])  # only http(s) links become buttons


def test_email_has_subject_plain_and_html_and_a_stable_message_id():
    page = replace(PAGE, channel="email", destination="yuta@example.com")
    mail = build(page, sender="cp@example.com", now=NOW)
    assert mail["Subject"] == "[SEV1] INC-7 payment webhook backlog"
    assert mail["From"] == "cp@example.com" and mail["To"] == "yuta@example.com"
    plain = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "First move: scale workers <now>" in plain
    assert "scale workers &lt;now&gt; &amp; check queue" in html
    assert '<a href="https://runbooks.example/payments">' in html
    assert mail["Message-ID"] == build(page, sender="cp@example.com", now=NOW)["Message-ID"]
    assert (
        mail["Message-ID"]
        != build(replace(page, key="other"), sender="cp@example.com", now=NOW)["Message-ID"]
    )


def test_email_subject_cannot_inject_headers():
    evil = Outbound(
        id=1, key="k", channel="email", destination="a@b.c", subject="hi\r\nBcc: all@corp", body=""
    )
    mail = build(evil, sender="cp@example.com", now=NOW)
    assert mail["Subject"] == "hi Bcc: all@corp" and mail["Bcc"] is None


def test_webhook_document_and_console_output():
    doc = document(PAGE, NOW)
    assert doc["type"] == "commandpost.notification" and doc["key"] == PAGE.key
    assert (doc["id"], doc["incident_id"], doc["severity"], doc["person"]) == (3, 7, "SEV1", "yuta")
    stream = io.StringIO()
    ConsoleChannel(stream).send(PAGE, NOW)
    assert stream.getvalue().splitlines()[0].endswith("SEV1] INC-7 payment webhook backlog")
    assert "    First move: scale workers <now> & check queue" in stream.getvalue()


PEOPLE = PeopleFile.model_validate(
    {
        "people": [
            {
                "handle": "yuta",
                "name": "Yuta",
                "contact": {"email": "yuta@example.com", "slack_webhook": "https://hooks.example.com/y"},
            },
            {
                "handle": "sato",
                "name": "Sato",
                "contact": {"email": "sato@example.com", "webhook": "https://alerts.example.com/s"},
                "notify": {"SEV1": ["webhook", "slack", "email", "webhook"], "SEV3": ["console"]},
            },
            {"handle": "nobody", "name": "No Contact"},
        ],
        "teams": [
            {
                "name": "payments",
                "members": ["yuta"],
                "channel": {"name": "#payments-oncall", "slack_webhook": "https://hooks.example.com/p"},
            },
            {"name": "quiet", "members": ["sato"]},
        ],
    }
)
CONFIG = OpsConfig.model_construct(people=PEOPLE.people, teams=PEOPLE.teams)


def test_destinations_follow_contact_methods_and_per_severity_preferences():
    assert service.destinations_for_person(CONFIG, "yuta", "SEV1") == [
        ("slack", "slack:yuta@example.com https://hooks.example.com/y"),
        ("email", "yuta@example.com"),
        ("console", "@yuta"),
    ]
    # sato's SEV1 list, in his order, without duplicates, skipping slack (he has none)
    assert service.destinations_for_person(CONFIG, "@sato", "SEV1") == [
        ("webhook", "https://alerts.example.com/s"),
        ("email", "sato@example.com"),
        ("console", "@sato"),
    ]
    assert service.destinations_for_person(CONFIG, "sato", "SEV3") == [("console", "@sato")]
    assert service.destinations_for_person(CONFIG, "sato", None)[0] == ("email", "sato@example.com")
    assert service.destinations_for_person(CONFIG, "nobody", "SEV1") == [("console", "@nobody")]
    with pytest.raises(NotFound, match="no person 'ghost'"):
        service.destinations_for_person(CONFIG, "ghost", "SEV1")


def test_team_channel_destinations():
    assert service.destinations_for_team_channel(CONFIG, "payments") == [
        ("slack", "https://hooks.example.com/p"),
        ("console", "#payments-oncall"),
    ]
    assert service.destinations_for_team_channel(CONFIG, "quiet") == [("console", "#quiet")]
    with pytest.raises(NotFound, match="no team 'ghosts'"):
        service.destinations_for_team_channel(CONFIG, "ghosts")
