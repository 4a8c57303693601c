"""The Acknowledge and Escalate buttons of the opening message, pressed in Slack, on the real app.

The command post is opened by the engine's own processor against the Slack stand-in (the far end), and
the press is a ``block_actions`` payload as Slack posts it (form field ``payload``, signed). Pressing
acts as the person who pressed, via Slack, with its audit row, and the message changes in place
(``chat.update``: the buttons give way to "acknowledged by @yuta at 12:00"). Refusals — a stranger, a
read-only person, a closed incident — are ephemeral and change nothing; a ``response_url`` off
hooks.slack.com is never followed; Slack failing the update never undoes the acknowledgement. Both
databases.
"""

# ruff: noqa: F811 (the fixtures imported from slack_support are arguments here)
from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from commandpost.db.engine import transaction
from commandpost.incidents import service as incidents_service
from commandpost.incidents import timeline
from commandpost.paging.models import Escalation
from tests.api.slack_support import (  # noqa: F401 (fixtures)
    FORM,
    HANA,
    KEN,
    MEI,
    STRANGER,
    YUTA,
    CommandPostOpened,
    audits,
    entries,
    incident,
    interaction,
    open_command_post,
    post,
    settings,
    slack,
    slack_ops,
    snapshot,
)
from tests.standins.slack import APP_ID, TEAM_ID, SlackStandIn

HOOK = "https://hooks.slack.com/actions/T0STANDIN1/1337/xyzzy"


@pytest.fixture
def opened(client, slack, clock, sessions, settings, slack_ops) -> CommandPostOpened:
    """INC-1's command post with its opening message; hana and a stranger joined it by themselves."""
    found = open_command_post(client, slack, clock, sessions, settings)
    slack.join(found.channel, HANA, STRANGER, KEN)
    return found


def press(
    slack: SlackStandIn,
    opened: CommandPostOpened,
    user: str,
    action: str = "ack",
    *,
    value: str = "INC-1",
    response_url: str = HOOK,
    **container: Any,
) -> dict[str, Any]:
    """A ``block_actions`` payload as Slack sends it for a button on the opening message."""
    message = opened.opening(slack)
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "someone", "name": "someone", "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": opened.opening_ts,
            "channel_id": opened.channel,
            "is_ephemeral": False,
            **container,
        },
        "trigger_id": slack.trigger_id(),
        "team": {"id": TEAM_ID, "domain": "standin"},
        "channel": {"id": opened.channel, "name": opened.name},
        "message": message,
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action,
                "block_id": "incident-INC-1",
                "text": {"type": "plain_text", "text": "Acknowledge", "emoji": True},
                "value": value,
                "style": "primary",
                "type": "button",
                "action_ts": "1782270000.123456",
            }
        ],
    }


def pressed(client: Any, slack: SlackStandIn, clock: Any, payload: dict[str, Any]) -> None:
    answer = interaction(client, slack, clock, payload)
    assert answer.status_code == 200, answer.text


def buttons(message: dict[str, Any]) -> list[str]:
    return [
        e.get("action_id", "")
        for b in message.get("blocks") or []
        if b["type"] == "actions"
        for e in b["elements"]
    ]


def told(slack: SlackStandIn, channel: str, to: str) -> list[str]:
    return [m["text"] for m in slack.channels[channel]["ephemeral"] if m["to"] == to]


def test_acknowledge_acknowledges_via_slack_and_the_message_says_so(
    client, slack, clock, sessions, opened
) -> None:
    assert buttons(opened.opening(slack)) == ["ack", "escalate", "open"]
    pressed(client, slack, clock, press(slack, opened, YUTA))  # yuta was paged: mapped by email

    acked = incident(sessions)
    assert (acked.acknowledged_by, acked.acknowledged_via, acked.acknowledged_at) == (
        "yuta",
        "Slack",
        clock.now(),
    )
    assert entries(sessions)[-1].text == "INC-1 acknowledged by @yuta via Slack"
    (row,) = [a for a in audits(sessions) if a.actor == "yuta"]
    assert (row.action, row.target, row.details["via"]) == ("slack /inc ack", "incident:INC-1", "Slack")

    (update,) = slack.calls("chat.update")
    assert (update["channel"], update["ts"]) == (opened.channel, opened.opening_ts)
    assert update["text"] == "INC-1: acknowledged by @yuta at 12:00"  # 03:00 UTC in the org's Tokyo
    now = opened.opening(slack)  # the stand-in's message as everyone sees it now
    assert buttons(now) == ["open"]  # Acknowledge and Escalate gave way; Open still opens the page
    assert now["blocks"][-1]["elements"][0]["text"] == "INC-1: acknowledged by @yuta at 12:00"
    assert now["blocks"][0]["type"] == "header" and "edited" in now


def test_a_second_press_says_who_acknowledged_and_when_and_changes_nothing(
    client, slack, clock, sessions, opened
) -> None:
    first = press(slack, opened, YUTA)  # hana's client still shows the buttons
    pressed(client, slack, clock, first)
    before = snapshot(sessions)
    clock.advance(minutes=7)
    again = press(slack, opened, HANA)
    again["message"] = first["message"]
    pressed(client, slack, clock, again)
    assert snapshot(sessions) == before
    assert (incident(sessions).acknowledged_by, incident(sessions).acknowledged_via) == ("yuta", "Slack")
    last = slack.calls("chat.update")[-1]
    assert last["text"] == "INC-1: acknowledged by @yuta at 12:00"  # not hana, not 12:07
    assert buttons(opened.opening(slack)) == ["open"]


def test_escalate_pages_the_next_level_and_keeps_acknowledge(client, slack, clock, sessions, opened) -> None:
    with sessions() as s:
        fired = s.scalars(select(Escalation.fired)).one()
    pressed(client, slack, clock, press(slack, opened, MEI, "escalate"))
    with sessions() as s:
        assert s.scalars(select(Escalation.fired)).one() == fired + 1
    page = [e for e in entries(sessions) if e.kind == "page"][-1]
    assert page.text.startswith("INC-1: escalated by @mei")
    assert any(a.action == "slack /inc escalate" and a.actor == "mei" for a in audits(sessions))
    assert incident(sessions).acknowledged_at is None
    (update,) = slack.calls("chat.update")
    assert update["text"] == "INC-1: escalated by @mei at 12:00; the next level is being paged"
    assert buttons(opened.opening(slack)) == ["ack", "escalate", "open"]  # still to be acknowledged

    pressed(client, slack, clock, press(slack, opened, YUTA))  # the line stays, the ack joins it
    lines = [b["elements"][0]["text"] for b in opened.opening(slack)["blocks"] if b["type"] == "context"]
    assert lines[-2:] == [
        "INC-1: escalated by @mei at 12:00; the next level is being paged",
        "INC-1: acknowledged by @yuta at 12:00",
    ]


@pytest.mark.parametrize("who", [STRANGER, KEN])
def test_an_unknown_member_is_refused_ephemerally_and_nothing_changes(
    client, slack, clock, sessions, opened, who
) -> None:
    before = snapshot(sessions)
    for action in ("ack", "escalate"):
        pressed(client, slack, clock, press(slack, opened, who, action))
    refusals = told(slack, opened.channel, who)
    assert len(refusals) == 2 and all(f"contact.slack_user: {who}" in r for r in refusals)
    assert snapshot(sessions) == before and incident(sessions).acknowledged_at is None
    assert not slack.calls("chat.update") and buttons(opened.opening(slack)) == ["ack", "escalate", "open"]


def test_a_read_only_person_is_refused(client, slack, clock, sessions, opened, make_token) -> None:
    make_token("read", person="hana")
    before = snapshot(sessions)
    pressed(client, slack, clock, press(slack, opened, HANA))
    (refusal,) = told(slack, opened.channel, HANA)
    assert "read-only" in refusal
    assert snapshot(sessions) == before and not slack.calls("chat.update")


def test_a_closed_incident_is_not_acknowledged(client, slack, clock, sessions, opened) -> None:
    with transaction(sessions) as s:
        for status in ("resolved", "closed"):
            incidents_service.change_status(
                s, incident=timeline.incident(s, number=1, for_update=True), status=status, actor="mei",
                now=clock.now(),
            )  # fmt: skip
    before = snapshot(sessions)
    pressed(client, slack, clock, press(slack, opened, YUTA))
    assert snapshot(sessions) == before and incident(sessions).acknowledged_at is None
    assert slack.calls("chat.update")[-1]["text"] == "INC-1 is closed; nothing was changed"


@pytest.mark.parametrize(
    ("value", "says"),
    [("INC-99", "no incident INC-99"), ("nonsense", "INC-"), ("", "INC-")],
)
def test_a_button_naming_no_incident_is_answered(client, slack, clock, sessions, opened, value, says) -> None:
    before = snapshot(sessions)
    pressed(client, slack, clock, press(slack, opened, MEI, value=value))
    (answer,) = told(slack, opened.channel, MEI)
    assert says in answer
    assert snapshot(sessions) == before and not slack.calls("chat.update")


def test_a_response_url_off_hooks_slack_com_is_never_followed(client, slack, clock, sessions, opened) -> None:
    """On an ephemeral message (no chat.update there) and for a refusal outside a channel the app
    answers through response_url: only ever at hooks.slack.com."""
    port = slack.server.server_address[1]
    lures = [
        f"http://127.0.0.1:{port}/api/hooks.lure",
        f"http://hooks.slack.com@127.0.0.1:{port}/api/hooks.lure",
        f"http://127.0.0.1:{port}/api/hooks.lure?https://hooks.slack.com/",
        f"HTTP://127.0.0.1:{port}/https://hooks.slack.com/api/hooks.lure",
    ]
    for url in lures:
        payload = press(slack, opened, STRANGER, response_url=url)
        payload["container"] = {"type": "message", "message_ts": opened.opening_ts, "is_ephemeral": True}
        del payload["channel"]
        pressed(client, slack, clock, payload)
        pressed(client, slack, clock, press(slack, opened, YUTA, response_url=url, is_ephemeral=True))
    assert incident(sessions).acknowledged_by == "yuta"
    assert not [name for name, _args in slack.received if "lure" in name]
    assert not slack.calls("chat.update")  # an ephemeral message is not updated by chat.update


@pytest.mark.parametrize("failure", ["down", "message_not_found", ("ratelimited", 30)])
def test_chat_update_failing_still_acknowledges_and_is_logged(
    client, slack, clock, sessions, opened, caplog, failure
) -> None:
    slack.fail("chat.update", failure)
    with caplog.at_level(logging.WARNING, logger="commandpost.slack"):
        pressed(client, slack, clock, press(slack, opened, YUTA))
    assert (incident(sessions).acknowledged_by, incident(sessions).acknowledged_via) == ("yuta", "Slack")
    assert len(slack.calls("chat.update")) == 1
    assert any("could not update the message" in r.getMessage() for r in caplog.records)
    assert buttons(opened.opening(slack)) == ["ack", "escalate", "open"]  # stale, and says so in the log


def test_other_actions_and_payload_types_change_nothing(client, slack, clock, sessions, opened) -> None:
    before = snapshot(sessions)
    pressed(client, slack, clock, press(slack, opened, MEI, "open"))  # a link button: Slack opens it
    pressed(client, slack, clock, press(slack, opened, MEI, "delete_everything"))
    pressed(client, slack, clock, {**press(slack, opened, MEI), "type": "message_action"})
    pressed(client, slack, clock, {**press(slack, opened, MEI), "actions": "ack"})
    assert snapshot(sessions) == before and not slack.calls("chat.update")


NESTED = 20_000
MALFORMED = [
    ("no payload", urlencode({"text": "ack"}).encode()),
    ("not JSON", urlencode({"payload": "{'type': 'block_actions'"}).encode()),
    ("an array", urlencode({"payload": "[]"}).encode()),
    ("nested", b"payload=" + b"[" * NESTED + b"]" * NESTED),
    ("too many fields", "&".join(f"f{i}=x" for i in range(200)).encode()),
]


@pytest.mark.parametrize(("what", "body"), MALFORMED, ids=[w for w, _b in MALFORMED])
def test_malformed_payloads_are_400_and_change_nothing(
    client, slack, clock, sessions, opened, what, body
) -> None:
    before = snapshot(sessions)
    answer = post(client, slack, "interactions", body, at=int(clock.now().timestamp()), kind=FORM)
    assert answer.status_code == 400, (what, answer.status_code, answer.text[:200])
    assert answer.json()["error"]["code"] == "bad_request"
    assert snapshot(sessions) == before


def test_forged_and_replayed_presses_are_401_and_change_nothing(
    client, slack, clock, sessions, opened
) -> None:
    body = urlencode({"payload": json.dumps(press(slack, opened, YUTA))}).encode()
    now = int(clock.now().timestamp())
    before = snapshot(sessions)
    forged = {**slack.signed(body, now), "Content-Type": FORM}
    assert client.post("/api/v1/slack/interactions", content=body + b"x", headers=forged).status_code == 401
    assert post(client, slack, "interactions", body, at=now - 301, kind=FORM).status_code == 401
    unsigned = client.post("/api/v1/slack/interactions", content=body, headers={"Content-Type": FORM})
    assert unsigned.status_code == 401
    assert snapshot(sessions) == before and not slack.calls("chat.update")
