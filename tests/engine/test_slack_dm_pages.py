"""A page on the ``slack`` method as a DM by the app's bot (issue 17): the escalation processor pages @yuta,
the real sender sends through the real channels, ``slack_sdk`` talks to the local Slack stand-in, and a
local receiver stands in for the incoming webhook. Frozen clock, both databases.

At the frozen clock (Wednesday 2026-06-24, 12:00 JST) @yuta is payment-platform's primary on-call; @hana
declares SEV1, so @yuta is paged — on Slack only (and the console), so each test reads one message.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from commandpost.clock import FrozenClock
from commandpost.db.engine import transaction
from commandpost.incidents import service as incidents_service
from commandpost.notify import service as notify_service
from commandpost.notify.channels import Channels
from commandpost.notify.channels.base import Outbound
from commandpost.notify.models import DEAD, DELIVERED, PENDING, OutgoingAttempt, OutgoingMessage
from commandpost.notify.rules import mask_destination
from commandpost.notify.sender import NotificationSender
from commandpost.policy.opsfiles import ContactMethods, slack_parts
from commandpost.settings import Settings
from tests.integration.notify_sink import Sink, start_sink, stop_sink
from tests.paging_support import BASE_URL, act, apply, ops_variant, processor, run_until
from tests.standins.slack import SlackStandIn, start_slack

YUTA = "U0YUTA0001"
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
WEBHOOK_PATH = "/services/T000/B001/yuta-webhook-secret"


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    standin = start_slack()
    standin.add_user(YUTA, "yuta@example.com")
    yield standin
    standin.close()


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = start_sink()
    yield server
    stop_sink(server)


def _settings(settings: Settings, slack: SlackStandIn, *, token: bool = True) -> Settings:
    return settings.model_copy(
        update={
            "public_url": BASE_URL,
            "outbound_allowlist": ["127.0.0.1"],
            "slack_bot_token": SecretStr(slack.token if token else ""),
            "slack_api_url": slack.api_url,
            "slack_min_interval_seconds": 0.0,
            "notify_pass_wait_seconds": 30.0,
        }
    )


@pytest.fixture
def make_sender(settings: Settings, slack: SlackStandIn) -> Iterator[Callable[..., NotificationSender]]:
    made: list[NotificationSender] = []

    def make(*, token: bool = True) -> NotificationSender:
        tuned = _settings(settings, slack, token=token)
        sender = NotificationSender(
            tuned, channels=Channels(tuned, console_stream=io.StringIO()), owner="t", rand=lambda: 0.5
        )
        made.append(sender)
        return sender

    yield make
    for sender in made:
        sender.close()


def _yuta(sink: Sink, **contact: str) -> Callable[[dict[str, Any]], None]:
    """@yuta pages by Slack only; his webhook is the local receiver; ``contact`` adds slack_user."""

    def edit(data: dict[str, Any]) -> None:
        yuta = next(p for p in data["people"] if p["handle"] == "yuta")
        yuta["contact"] = {"email": "yuta@example.com", "slack_webhook": sink.url + WEBHOOK_PATH, **contact}
        yuta["notification_rules"] = {"high": [{"methods": ["slack"]}], "low": [{"methods": ["console"]}]}

    return edit


def _page(
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    tmp_path: Path,
    sink: Sink,
    title: str,
    **contact: str,
) -> None:
    apply(sessions, clock, ops_variant(tmp_path, {"people.yaml": _yuta(sink, **contact)}))
    act(
        sessions,
        lambda s: incidents_service.declare(
            s, title=title, severity="SEV1", service="payment-platform", actor="hana", now=clock.now()
        ),
    )
    run_until(sessions, clock, clock.now(), processor())


def _send(sender: NotificationSender, sessions: sessionmaker[Session], clock: FrozenClock) -> int:
    with transaction(sessions) as s:
        return sender.run(s, clock.now())


def _slack_message(session: Session) -> OutgoingMessage:
    session.rollback()
    return session.scalars(select(OutgoingMessage).where(OutgoingMessage.channel == "slack")).one()


def _mrkdwn(call: dict[str, Any]) -> list[str]:
    """Every text of a chat.postMessage that Slack reads as mrkdwn (plain_text shows as written)."""
    texts = [call["text"]]
    for block in call["blocks"]:
        if block["type"] == "section":
            texts.append(block["text"]["text"])
        if block["type"] == "context":
            texts += [e["text"] for e in block["elements"]]
    return texts


def test_a_page_to_a_member_is_a_dm_with_the_three_buttons_and_the_signed_links(
    sessions, session, clock, tmp_path, slack, sink, make_sender
):
    _page(sessions, clock, tmp_path, sink, "Checkout failing", slack_user=YUTA)
    message = _slack_message(session)
    assert message.destination == f"slack:{YUTA} {sink.url}{WEBHOOK_PATH}"
    assert mask_destination("slack", message.destination) == f"slack:{YUTA} or {sink.url}/…"

    assert _send(make_sender(), sessions, clock) >= 1
    [call] = slack.calls("chat.postMessage")
    assert call["channel"] == YUTA and slack.calls("users.lookupByEmail") == []
    [actions] = [b for b in call["blocks"] if b["type"] == "actions"]
    assert [
        (e.get("action_id"), e["text"]["text"], e.get("value"), e.get("url")) for e in actions["elements"]
    ] == [
        ("ack", "Acknowledge", "INC-1", None),
        ("escalate", "Escalate", "INC-1", None),
        ("open", "Open", None, f"{BASE_URL}/incidents/INC-1"),
    ]
    # the signed one-tap links: the notification's fallback text, and a line under the buttons
    ack_line, escalate_line = call["text"].splitlines()[-2:]
    assert ack_line.startswith(f"Acknowledge: {BASE_URL}/a/a.") and escalate_line.startswith(
        f"Escalate: {BASE_URL}/a/e."
    )
    ack_url = ack_line.removeprefix("Acknowledge: ")
    assert f"<{ack_url}|Acknowledge>" in call["blocks"][-1]["elements"][0]["text"]

    # it is in the bot's DM with yuta, and the outbox knows which message it is (chat.update needs it)
    dm = slack.channels[slack.dms[YUTA]]
    [posted] = dm["messages"]
    message = _slack_message(session)
    assert message.status == DELIVERED and message.provider_ref == f"{dm['id']}/{posted['ts']}"
    assert sink.received == []  # the webhook was not used


def test_a_person_without_slack_user_is_found_by_email_once_an_hour(
    sessions, session, clock, tmp_path, slack, sink, make_sender
):
    _page(sessions, clock, tmp_path, sink, "Checkout failing")
    assert _slack_message(session).destination == f"slack:yuta@example.com {sink.url}{WEBHOOK_PATH}"
    sender = make_sender()
    _send(sender, sessions, clock)
    assert [c["email"] for c in slack.calls("users.lookupByEmail")] == ["yuta@example.com"]
    assert [c["channel"] for c in slack.calls("chat.postMessage")] == [YUTA]
    assert _slack_message(session).status == DELIVERED

    # INC-1 escalates: level 2 pages the team lead, @yuta again; the member is known, one call to Slack
    clock.advance(minutes=10)
    run_until(sessions, clock, clock.now(), processor())
    _send(sender, sessions, clock)
    assert len(slack.calls("users.lookupByEmail")) == 1
    assert [c["channel"] for c in slack.calls("chat.postMessage")] == [YUTA, YUTA]
    assert sink.received == []


def test_no_member_with_the_email_keeps_the_webhook(
    sessions, session, clock, tmp_path, slack, sink, make_sender
):
    slack.users.clear()
    _page(sessions, clock, tmp_path, sink, "Checkout failing")
    _send(make_sender(), sessions, clock)
    assert len(slack.calls("users.lookupByEmail")) == 1 and slack.calls("chat.postMessage") == []
    [request] = sink.to(WEBHOOK_PATH)
    doc = json.loads(request.body)
    assert doc["text"].startswith("[SEV1] INC-1") and doc["text"].endswith("Checkout failing")
    assert all("action_id" not in e for b in doc["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert _slack_message(session).status == DELIVERED


def test_ratelimited_waits_for_retry_after_then_delivers(
    sessions, session, clock, tmp_path, slack, sink, make_sender
):
    _page(sessions, clock, tmp_path, sink, "Checkout failing", slack_user=YUTA)
    slack.fail("chat.postMessage", ("ratelimited", 30))
    sender = make_sender()
    started = clock.now()
    _send(sender, sessions, clock)
    message = _slack_message(session)
    retry_at = message.next_attempt_at  # Retry-After counts from the answer: the send's duration on top
    assert message.status == PENDING and started + timedelta(seconds=30) <= retry_at < started + timedelta(
        seconds=31
    )
    attempt = session.scalars(select(OutgoingAttempt).where(OutgoingAttempt.message_id == message.id)).one()
    assert attempt.status_code == 429 and "ratelimited" in (attempt.error or "")

    clock.advance(seconds=29)
    _send(sender, sessions, clock)
    assert len(slack.calls("chat.postMessage")) == 1  # not before Slack said

    clock.set(retry_at)
    _send(sender, sessions, clock)
    assert len(slack.calls("chat.postMessage")) == 2
    assert _slack_message(session).status == DELIVERED and list(slack.dms) == [YUTA]
    assert sink.received == []


def test_slack_down_is_retried_and_does_not_fall_back_to_the_webhook(
    sessions, session, clock, tmp_path, slack, sink, make_sender
):
    _page(sessions, clock, tmp_path, sink, "Checkout failing", slack_user=YUTA)
    slack.fail("chat.postMessage", "down")
    sender = make_sender()
    _send(sender, sessions, clock)
    message = _slack_message(session)
    assert message.status == PENDING and "HTTP 503" in (message.last_error or "")
    clock.set(message.next_attempt_at)
    _send(sender, sessions, clock)
    assert _slack_message(session).status == DELIVERED and sink.received == []


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            "user_not_found",
            f"Slack chat.postMessage: user_not_found — Slack has no member {YUTA}: check "
            "contact.slack_user of @yuta",
        ),
        ("channel_not_found", f"Slack has no member {YUTA} to DM: check contact.slack_user of @yuta"),
        ("account_inactive", "the bot's app or workspace is deactivated: reinstall the Slack app"),
        ("invalid_auth", "Slack refused the bot token: set COMMANDPOST_SLACK_BOT_TOKEN"),
        ("not_authed", "Slack refused the bot token: set COMMANDPOST_SLACK_BOT_TOKEN"),
    ],
)
def test_slack_saying_no_is_a_dead_letter_with_a_readable_reason(
    sessions, session, clock, tmp_path, slack, sink, make_sender, error, reason
):
    _page(sessions, clock, tmp_path, sink, "Checkout failing", slack_user=YUTA)
    slack.fail("chat.postMessage", error)
    _send(make_sender(), sessions, clock)
    message = _slack_message(session)
    assert message.status == DEAD and reason in (message.last_error or "")
    assert f"Slack chat.postMessage: {error}" in (message.last_error or "")
    assert slack.token not in (message.last_error or "") and "xoxb" not in (message.last_error or "")
    assert len(slack.calls("chat.postMessage")) == 1 and sink.received == []  # dead at once, told once


def test_without_the_bot_token_the_webhook_gets_the_page_as_before(
    sessions, session, clock, tmp_path, slack, sink, make_sender
):
    _page(sessions, clock, tmp_path, sink, "Checkout failing", slack_user=YUTA)
    _send(make_sender(token=False), sessions, clock)
    [request] = sink.to(WEBHOOK_PATH)
    doc = json.loads(request.body)
    buttons = next(b for b in doc["blocks"] if b["type"] == "actions")["elements"]
    assert [b["text"]["text"] for b in buttons][:2] == ["Acknowledge", "Open incident"]
    assert all("action_id" not in b and b["url"].startswith("https://") for b in buttons)
    assert _slack_message(session).status == DELIVERED and slack.received == []


def test_a_member_without_webhook_or_bot_is_a_dead_letter_saying_what_to_set(
    sessions, session, clock, slack, make_sender
):
    with transaction(sessions) as s:
        notify_service.enqueue(
            s,
            key="page/incident=INC-9/to=mei/channel=slack",
            channel="slack",
            destination="slack:U0MEI00001",
            subject="[SEV1] INC-9 Checkout failing",
            body="Runbook: none",
            severity="SEV1",
            incident_id=None,
            person="mei",
            payload={"kind": "page", "incident": "INC-9"},
            now=clock.now(),
        )
    _send(make_sender(token=False), sessions, clock)
    message = _slack_message(session)
    assert message.status == DEAD
    assert message.last_error == (
        "a Slack DM to U0MEI00001 needs the app's bot token (COMMANDPOST_SLACK_BOT_TOKEN); "
        "without it, contact.slack_webhook is used"
    )
    assert slack.received == []


def test_hostile_titles_are_escaped_and_secrets_never_reach_slack(
    sessions, session, clock, tmp_path, slack, sink, make_sender
):
    title = f"<!channel> <https://evil.example/login|Sign in again> & key {AWS_KEY}"
    _page(sessions, clock, tmp_path, sink, title, slack_user=YUTA)
    _send(make_sender(), sessions, clock)
    [call] = slack.calls("chat.postMessage")
    texts = _mrkdwn(call)
    assert "&lt;!channel&gt; &lt;https://evil.example/login|Sign in again&gt; &amp; key" in texts[0]
    assert all("<!channel>" not in t and "<https://evil" not in t for t in texts)
    everything = json.dumps(slack.received)
    assert AWS_KEY not in everything  # redacted before it was stored
    assert slack.token not in everything and WEBHOOK_PATH not in everything and sink.url not in everything


def test_nul_and_control_characters_are_dropped_and_a_forged_incident_gets_no_buttons(slack, settings):
    channels = Channels(_settings(settings, slack), console_stream=io.StringIO())
    page = Outbound(
        id=1,
        key="page/incident=INC-3/to=yuta/channel=slack",
        channel="slack",
        destination=f"slack:{YUTA}",
        subject="INC-3 \x00disk\u202efull\x1b[31m <!here>",
        body="line\x00one\r\n<@U0BOSS0001> & <#C0GENERAL>",
        severity="SEV2",
        person="yuta",
        payload={"kind": "page", "incident": "INC-3", "url": "javascript:alert(1)"},
    )
    try:
        delivery = channels.send(page, FrozenClock().now())
        forged = channels.send(
            replace(page, payload={"kind": "page", "incident": "INC-3 OR 1=1"}), FrozenClock().now()
        )
    finally:
        channels.close()
    assert delivery.outcome == "delivered" and forged.outcome == "delivered"
    first, second = slack.calls("chat.postMessage")
    raw = json.dumps(first)
    assert "\\u0000" not in raw and "\\u202e" not in raw and "\\u001b" not in raw
    assert (
        first["blocks"][0]["text"]["text"] == "[SEV2] INC-3 diskfull[31m <!here>"
    )  # plain_text: shown as is
    assert first["blocks"][1]["text"]["text"] == "lineone\n&lt;@U0BOSS0001&gt; &amp; &lt;#C0GENERAL&gt;"
    assert "&lt;!here&gt;" in first["text"] and "<!here>" not in first["text"]
    # no http(s) incident link: no Open button, yet Acknowledge and Escalate are there
    [actions] = [b for b in first["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == ["ack", "escalate"]
    # an "incident" that is not INC-n gets no buttons the app would act on
    assert not any(b["type"] == "actions" for b in second["blocks"])


@pytest.mark.parametrize(
    ("contact", "destination"),
    [
        ({"slack_user": YUTA}, f"slack:{YUTA}"),
        (
            {"slack_user": YUTA, "email": "y@example.com", "slack_webhook": "https://h.example/x"},
            f"slack:{YUTA} https://h.example/x",
        ),
        (
            {"email": "y@example.com", "slack_webhook": "https://h.example/x"},
            "slack:y@example.com https://h.example/x",
        ),
        ({"slack_webhook": "https://h.example/x"}, "https://h.example/x"),
        (
            {"email": "y@example.com"},
            None,
        ),  # an email alone: no Slack step (no bot, every page a dead letter)
    ],
)
def test_where_the_slack_method_goes(contact: dict[str, str], destination: str | None) -> None:
    address = ContactMethods(**contact).address("slack")
    assert address == destination
    if address is not None:
        member, webhook = slack_parts(address)
        assert (member, webhook) == (
            contact.get("slack_user") or (contact.get("email") if "slack_webhook" in contact else None),
            contact.get("slack_webhook"),
        )
