"""Slack's Events API on the real app: ``url_verification``, a 📌 puts a message on the timeline, a pasted
secret is caught.

Signed as Slack signs, against the Slack stand-in (the far end) holding the incident's channel as the
engine's command post opened it. A 📌 stores the message once (Slack retries, two people pin it) with
its author, redacted; a secret gets its author an ephemeral warning and the IC a word, and nothing of
it is stored but its kind. Refusals — unsigned, forged, replayed, too large, hostile or malformed
bodies, a stranger's 📌 — change nothing and are never a 5xx. Both databases.
"""

# ruff: noqa: F811 (the fixtures imported from slack_support are arguments here)
from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

import pytest

from commandpost.db.engine import transaction
from commandpost.incidents import service as incidents_service
from commandpost.incidents import timeline
from commandpost.incidents.models import TimelineEntry
from tests.api.slack_support import (  # noqa: F401 (fixtures)
    HANA,
    KEN,
    MEI,
    STRANGER,
    YUTA,
    CommandPostOpened,
    audits,
    entries,
    event,
    open_command_post,
    settings,
    slack,
    slack_ops,
    snapshot,
)
from tests.service.test_redaction_everywhere import database_leaks
from tests.standins.slack import APP_ID, BOT_ID, TEAM_ID, SlackStandIn
from tests.unit.test_redact import CORPUS

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
PIN = "pushpin"


@pytest.fixture
def post(client, slack, clock, sessions, settings, slack_ops) -> CommandPostOpened:
    """INC-1's command post, with hana and a stranger in it too (they joined by themselves)."""
    opened = open_command_post(client, slack, clock, sessions, settings)
    slack.join(opened.channel, HANA, STRANGER)
    return opened


def envelope(found: dict[str, Any], event_id: str = "Ev0000000001") -> dict[str, Any]:
    """An ``event_callback`` as Slack delivers it."""
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": found,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1782270000,
        "authorizations": [{"team_id": TEAM_ID, "user_id": "U0STANDBOT", "is_bot": True}],
        "is_ext_shared_channel": False,
    }


def reaction(user: str, channel: str, ts: str, *, author: str | None, name: str = PIN) -> dict[str, Any]:
    """``reaction_added`` as Slack sends it: the message only by channel and ts, never its text."""
    found: dict[str, Any] = {
        "type": "reaction_added",
        "user": user,
        "reaction": name,
        "item": {"type": "message", "channel": channel, "ts": ts},
        "event_ts": "1782270000.000900",
    }
    if author:
        found["item_user"] = author
    return found


def message(user: str, channel: str, text: str, ts: str, **extra: Any) -> dict[str, Any]:
    """A ``message`` event of the ``message.channels`` subscription."""
    return {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "channel_type": "channel",
        "team": TEAM_ID,
        "client_msg_id": "5a1b0c2d-0000-4000-8000-000000000017",
        **extra,
    }


def ok(response: Any) -> None:
    assert response.status_code == 200, response.text


def ephemeral(slack: SlackStandIn, channel: str, to: str) -> list[str]:
    return [m["text"] for m in slack.channels[channel]["ephemeral"] if m["to"] == to]


def pins(sessions: Any) -> list[TimelineEntry]:
    return [e for e in entries(sessions) if (e.data or {}).get("slack") == "pin"]


# ---------------------------------------------------------------- url_verification


def test_url_verification_answers_the_challenge(client, slack, clock, settings, sessions) -> None:
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    answer = event(client, slack, clock, {"token": "t", "challenge": challenge, "type": "url_verification"})
    ok(answer)
    assert answer.json() == {"challenge": challenge}


@pytest.mark.parametrize("challenge", [None, "", 17, ["a"], "x" * 201])
def test_a_bad_challenge_is_400(client, slack, clock, settings, sessions, challenge) -> None:
    body: dict[str, Any] = {"token": "t", "type": "url_verification"}
    if challenge is not None:
        body["challenge"] = challenge
    answer = event(client, slack, clock, body)
    assert answer.status_code == 400 and "challenge" in answer.text


# ---------------------------------------------------------------- 📌 to the timeline


def test_a_pin_puts_the_message_on_the_timeline_once(client, slack, clock, sessions, post) -> None:
    ts = slack.say(post.channel, YUTA, f"rolled back the deploy; the old key was {AWS_KEY}")
    pinned = envelope(reaction(HANA, post.channel, ts, author=YUTA), "Ev0000000001")
    ok(event(client, slack, clock, pinned))
    (entry,) = pins(sessions)
    assert (entry.kind, entry.author) == ("note", "yuta")  # the author, mapped by email
    assert entry.text == "rolled back the deploy; the old key was [REDACTED:aws-access-key] (pinned by @hana)"
    assert (entry.data["slack_ts"], entry.data["pinned_by"], entry.data["via"]) == (ts, "hana", "Slack")
    (row,) = [a for a in audits(sessions) if a.action == "slack pin"]
    assert (row.actor, row.target, row.details["via"]) == ("hana", "incident:INC-1", "Slack")

    before = snapshot(sessions)
    again = event(
        client, slack, clock, pinned, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    ok(again)
    ok(event(client, slack, clock, envelope(reaction(MEI, post.channel, ts, author=YUTA), "Ev0000000002")))
    assert snapshot(sessions) == before and len(pins(sessions)) == 1
    assert AWS_KEY not in json.dumps([e.text for e in entries(sessions)])


def test_two_messages_are_two_entries_and_an_author_pinning_their_own_is_not_named_twice(
    client, slack, clock, sessions, post
) -> None:
    first = slack.say(post.channel, MEI, "db01 failover done")
    second = slack.say(post.channel, STRANGER, "p99 is back under 300ms")
    ok(event(client, slack, clock, envelope(reaction(MEI, post.channel, first, author=MEI), "Ev01")))
    ok(event(client, slack, clock, envelope(reaction(MEI, post.channel, second, author=STRANGER), "Ev02")))
    assert [(e.author, e.text) for e in pins(sessions)] == [
        ("mei", "db01 failover done"),
        ("mei", "p99 is back under 300ms"),  # nobody here wrote it: the person who pinned it
    ]


@pytest.mark.parametrize("who", [STRANGER, KEN])
def test_a_pin_by_an_unknown_member_is_refused_and_stores_nothing(
    client, slack, clock, sessions, post, who
) -> None:
    slack.join(post.channel, who)
    ts = slack.say(post.channel, MEI, "db01 failover done")
    before = snapshot(sessions)
    ok(event(client, slack, clock, envelope(reaction(who, post.channel, ts, author=MEI))))
    (told,) = ephemeral(slack, post.channel, who)
    assert f"contact.slack_user: {who}" in told and "people.yaml" in told
    assert snapshot(sessions) == before


def test_a_pin_by_a_read_only_person_is_refused(client, slack, clock, sessions, post, make_token) -> None:
    make_token("read", person="hana")
    ts = slack.say(post.channel, MEI, "db01 failover done")
    before = snapshot(sessions)
    ok(event(client, slack, clock, envelope(reaction(HANA, post.channel, ts, author=MEI))))
    (told,) = ephemeral(slack, post.channel, HANA)
    assert "read-only" in told
    assert snapshot(sessions) == before


def test_other_reactions_and_other_items_do_nothing(client, slack, clock, sessions, post) -> None:
    ts = slack.say(post.channel, MEI, "db01 failover done")
    before, calls = snapshot(sessions), len(slack.received)
    ok(event(client, slack, clock, envelope(reaction(HANA, post.channel, ts, author=MEI, name="eyes"))))
    found = reaction(HANA, post.channel, ts, author=MEI)
    found["item"] = {"type": "file", "file": "F0FILE0001"}
    ok(event(client, slack, clock, envelope(found, "Ev02")))
    ok(
        event(
            client,
            slack,
            clock,
            envelope({**reaction(HANA, post.channel, ts, author=MEI), "type": "reaction_removed"}, "Ev03"),
        )
    )
    assert snapshot(sessions) == before and len(slack.received) == calls


def test_a_pin_outside_an_incident_channel_does_nothing(client, slack, clock, sessions, post) -> None:
    general = slack.add_channel("general", members=(MEI, HANA))
    ts = slack.say(general, MEI, "lunch?")
    before = snapshot(sessions)
    ok(event(client, slack, clock, envelope(reaction(HANA, general, ts, author=MEI))))
    assert snapshot(sessions) == before and not slack.channels[general]["ephemeral"]


def test_a_message_slack_cannot_give_is_answered_and_stores_nothing(
    client, slack, clock, sessions, post
) -> None:
    before = snapshot(sessions)
    ok(event(client, slack, clock, envelope(reaction(HANA, post.channel, "1782270000.000001", author=MEI))))
    (told,) = ephemeral(slack, post.channel, HANA)
    assert "/inc note" in told
    assert snapshot(sessions) == before


def test_a_pin_on_a_closed_incident_says_so(client, slack, clock, sessions, post) -> None:
    with transaction(sessions) as s:
        for status in ("resolved", "closed"):
            incidents_service.change_status(
                s, incident=timeline.incident(s, number=1, for_update=True), status=status, actor="mei",
                now=clock.now(),
            )  # fmt: skip
    ts = slack.say(post.channel, MEI, "db01 failover done")
    before = snapshot(sessions)
    ok(event(client, slack, clock, envelope(reaction(HANA, post.channel, ts, author=MEI))))
    (told,) = ephemeral(slack, post.channel, HANA)
    assert "closed" in told
    assert snapshot(sessions) == before


def test_nul_and_control_characters_in_a_pinned_message_are_stored_as_replacements(
    client, slack, clock, sessions, post
) -> None:
    ts = slack.say(post.channel, MEI, "db\x00pool \x1b[31mred\x1b[0m\tdone\nnext")
    ok(event(client, slack, clock, envelope(reaction(HANA, post.channel, ts, author=MEI))))
    (entry,) = pins(sessions)
    assert entry.text.startswith("db\ufffdpool \ufffd[31mred\ufffd[0m\tdone\nnext")


# ---------------------------------------------------------------- secrets pasted in the channel

SAMPLES = {kind: text for kind, text, _secrets in reversed(CORPUS)}
"""One sample per detector (the first of each kind)."""
PASTED = ["aws-access-key", "github-token", "private-key", "keyword", "slack-token"]


@pytest.mark.parametrize("kind", PASTED)
def test_a_pasted_secret_warns_its_author_and_tells_the_ic_and_stores_only_its_kind(
    client, slack, clock, sessions, engine, post, kind
) -> None:
    text = SAMPLES[kind]
    raw = next(secrets for k, t, secrets in CORPUS if k == kind and t == text)
    ts = slack.say(post.channel, YUTA, text)
    posted = envelope(message(YUTA, post.channel, text, ts))
    ok(event(client, slack, clock, posted))

    assert sorted(c["user"] for c in slack.calls("chat.postEphemeral")) == sorted([YUTA, MEI])
    (warning,) = ephemeral(slack, post.channel, YUTA)
    assert kind in warning and "Delete the message" in warning and "rotate" in warning
    assert "The IC (@mei) has been told." in warning
    (ic,) = ephemeral(slack, post.channel, MEI)  # mei declared: she is IC
    assert "INC-1" in ic and kind in ic and "@yuta" in ic
    for said in (warning, ic):
        assert not any(secret in said for secret in raw)

    (entry,) = [e for e in entries(sessions) if (e.data or {}).get("slack") == "secret"]
    assert entry.kind == "system" and kind in entry.data["kinds"] and entry.data["ic"] == "mei"
    assert database_leaks(engine, raw) == []  # every row of every table: timeline, audit, …

    before, told = snapshot(sessions), len(slack.calls("chat.postEphemeral"))
    ok(
        event(
            client, slack, clock, posted, **{"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_error"}
        )
    )
    assert snapshot(sessions) == before and len(slack.calls("chat.postEphemeral")) == told


def test_the_ic_pasting_a_secret_is_warned_once(client, slack, clock, sessions, post) -> None:
    ts = slack.say(post.channel, MEI, f"try with {AWS_KEY}")
    ok(event(client, slack, clock, envelope(message(MEI, post.channel, f"try with {AWS_KEY}", ts))))
    (warning,) = ephemeral(slack, post.channel, MEI)
    assert "aws-access-key" in warning and "You are the IC" in warning


def test_an_ic_who_left_the_channel_is_told_in_a_direct_message(client, slack, clock, sessions, post) -> None:
    with slack.lock:
        slack.channels[post.channel]["members"].remove(MEI)
    ts = slack.say(post.channel, YUTA, f"key {AWS_KEY}")
    ok(event(client, slack, clock, envelope(message(YUTA, post.channel, f"key {AWS_KEY}", ts))))
    assert ephemeral(slack, post.channel, YUTA)
    (dm,) = [m["text"] for m in slack.channels[slack.dms[MEI]]["messages"]]
    assert "INC-1: @yuta posted a secret (aws-access-key)" in dm and AWS_KEY not in dm


def test_a_message_without_a_secret_is_left_alone(client, slack, clock, sessions, post) -> None:
    before, calls = snapshot(sessions), len(slack.received)
    text = "db password rotation is scheduled for tomorrow"
    ts = slack.say(post.channel, YUTA, text)
    ok(event(client, slack, clock, envelope(message(YUTA, post.channel, text, ts))))
    assert snapshot(sessions) == before and len(slack.received) == calls


def test_a_secret_outside_an_incident_channel_is_not_ours(client, slack, clock, sessions, post) -> None:
    general = slack.add_channel("general", members=(YUTA,))
    ts = slack.say(general, YUTA, f"key {AWS_KEY}")
    before = snapshot(sessions)
    ok(event(client, slack, clock, envelope(message(YUTA, general, f"key {AWS_KEY}", ts))))
    assert snapshot(sessions) == before and not slack.calls("chat.postEphemeral")


@pytest.mark.parametrize(
    "extra",
    [
        {"subtype": "bot_message", "bot_id": BOT_ID},
        {"bot_id": BOT_ID},  # an app's message without a subtype
        {"subtype": "channel_join"},
        {"subtype": "message_deleted", "hidden": True},
    ],
)
def test_bot_messages_and_subtypes_are_ignored(client, slack, clock, sessions, post, extra) -> None:
    before = snapshot(sessions)
    found = message(YUTA, post.channel, f"key {AWS_KEY}", "1782270000.000100", **extra)
    ok(event(client, slack, clock, envelope(found)))
    assert snapshot(sessions) == before and not slack.calls("chat.postEphemeral")


def test_a_secret_with_nul_and_control_characters_is_still_caught(
    client, slack, clock, sessions, post, engine
) -> None:
    text = f"\x00\x1b[2Jkey\x07 {AWS_KEY}\x00"
    ts = slack.say(post.channel, YUTA, text)
    ok(event(client, slack, clock, envelope(message(YUTA, post.channel, text, ts))))
    (warning,) = ephemeral(slack, post.channel, YUTA)
    assert "aws-access-key" in warning
    assert database_leaks(engine, [AWS_KEY]) == []


def test_a_secret_in_a_closed_incident_channel_still_warns(client, slack, clock, sessions, post) -> None:
    with transaction(sessions) as s:
        for status in ("resolved", "closed"):
            incidents_service.change_status(
                s, incident=timeline.incident(s, number=1, for_update=True), status=status, actor="mei",
                now=clock.now(),
            )  # fmt: skip
    before = snapshot(sessions)
    ts = slack.say(post.channel, YUTA, f"key {AWS_KEY}")
    ok(event(client, slack, clock, envelope(message(YUTA, post.channel, f"key {AWS_KEY}", ts))))
    (warning,) = ephemeral(slack, post.channel, YUTA)
    assert "aws-access-key" in warning
    assert snapshot(sessions) == before


def test_slack_failing_to_deliver_the_warning_is_logged_not_a_5xx(
    client, slack, clock, sessions, post, caplog
) -> None:
    slack.fail("chat.postEphemeral", "down", "down")
    ts = slack.say(post.channel, YUTA, f"key {AWS_KEY}")
    with caplog.at_level(logging.WARNING, logger="commandpost.slack"):
        ok(event(client, slack, clock, envelope(message(YUTA, post.channel, f"key {AWS_KEY}", ts))))
    assert any("could not tell" in r.getMessage() for r in caplog.records)
    assert [e for e in entries(sessions) if (e.data or {}).get("slack") == "secret"]


# ---------------------------------------------------------------- refused: nothing changes


def _signed_post(client: Any, slack: SlackStandIn, body: bytes, at: int, **headers: str) -> Any:
    return client.post(
        "/api/v1/slack/events",
        content=body,
        headers={**slack.signed(body, at), "Content-Type": "application/json", **headers},
    )


def test_unsigned_forged_and_replayed_events_are_401_and_change_nothing(
    client, slack, clock, sessions, post
) -> None:
    ts = slack.say(post.channel, YUTA, f"key {AWS_KEY}")
    body = json.dumps(envelope(message(YUTA, post.channel, f"key {AWS_KEY}", ts))).encode()
    now = int(clock.now().timestamp())
    before, calls = snapshot(sessions), len(slack.received)
    unsigned = client.post("/api/v1/slack/events", content=body, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401 and "X-Slack-Signature" in unsigned.text
    forged = {**slack.signed(body, now), "Content-Type": "application/json"}
    assert (
        client.post("/api/v1/slack/events", content=body.replace(b"key", b"kez"), headers=forged).status_code
        == 401
    )
    digest = hmac.new(b"another app's signing secret", f"v0:{now}:".encode() + body, hashlib.sha256)
    other = {"X-Slack-Signature": f"v0={digest.hexdigest()}", "X-Slack-Request-Timestamp": str(now)}
    assert client.post("/api/v1/slack/events", content=body, headers=other).status_code == 401
    replayed = _signed_post(client, slack, body, now - 301)
    assert replayed.status_code == 401 and "a replay?" in replayed.text
    assert _signed_post(client, slack, body, now + 400).status_code == 401
    assert snapshot(sessions) == before and len(slack.received) == calls
    ok(_signed_post(client, slack, body, now - 299))  # the same request inside the window is heard
    assert ephemeral(slack, post.channel, YUTA)


def test_a_body_over_64_kib_is_413_and_changes_nothing(client, slack, clock, sessions, post) -> None:
    ts = slack.say(post.channel, YUTA, "x")
    before = snapshot(sessions)
    body = json.dumps(envelope(message(YUTA, post.channel, f"{AWS_KEY} " + "x" * 70_000, ts))).encode()
    answer = _signed_post(client, slack, body, int(clock.now().timestamp()))
    assert answer.status_code == 413 and "65536" in answer.text
    assert snapshot(sessions) == before and not slack.calls("chat.postEphemeral")


NESTED = 30_000
MALFORMED: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("not JSON", b"type=event_callback"),
    ("not UTF-8", b'{"type": "\xff\xfe"}'),
    ("an array", b"[]"),
    ("a string", b'"event_callback"'),
    ("nested arrays", b"[" * NESTED + b"]" * NESTED),
    (
        "a nested event",
        b'{"type": "event_callback", "event": ' + b'{"a": ' * 8000 + b"1" + b"}" * 8000 + b"}",
    ),
    ("NaN", b'{"type": "event_callback", "event": {"type": "message", "ts": NaN}}'),
    ("no event", b'{"type": "event_callback", "event_id": "Ev1"}'),
    ("an event that is a list", b'{"type": "event_callback", "event": []}'),
]


@pytest.mark.parametrize(("what", "body"), MALFORMED, ids=[w for w, _b in MALFORMED])
def test_malformed_envelopes_are_400_and_change_nothing(
    client, slack, clock, sessions, post, what, body
) -> None:
    before = snapshot(sessions)
    answer = _signed_post(client, slack, body, int(clock.now().timestamp()))
    assert answer.status_code == 400, (what, answer.status_code, answer.text[:200])
    assert answer.json()["error"]["code"] == "bad_request"
    assert snapshot(sessions) == before


@pytest.mark.parametrize(
    "found",
    [
        {"type": "reaction_added", "reaction": PIN, "user": ["U0MEI0001"], "item": {"type": "message"}},
        {
            "type": "reaction_added",
            "reaction": PIN,
            "user": "U0MEI0001",
            "item": {"type": "message", "channel": "C\x00X", "ts": "1.2"},
        },
        {
            "type": "reaction_added",
            "reaction": PIN,
            "user": "U0MEI0001",
            "item": {"type": "message", "channel": "C0X", "ts": "1.2'; DROP"},
        },
        {"type": "reaction_added", "reaction": PIN, "user": "U0MEI0001", "item": "C0X"},
        {"type": "message", "channel": "C0X", "user": 7, "text": AWS_KEY, "ts": "1.2"},
        {"type": "message", "channel": "C0X", "user": "U0YUTA001", "text": {"t": AWS_KEY}, "ts": "1.2"},
        {"type": "message", "channel": "../C0X", "user": "U0YUTA001", "text": AWS_KEY, "ts": "1.2"},
    ],
)
def test_events_with_fields_slack_never_sends_are_400(client, slack, clock, sessions, post, found) -> None:
    before, calls = snapshot(sessions), len(slack.received)
    answer = event(client, slack, clock, envelope(found))
    assert answer.status_code == 400, answer.text
    assert snapshot(sessions) == before and len(slack.received) == calls


def test_envelopes_and_events_we_do_not_use_are_200(client, slack, clock, sessions, post) -> None:
    before = snapshot(sessions)
    ok(event(client, slack, clock, {"token": "t", "team_id": TEAM_ID, "minute_rate_limited": 1782270000,
                                    "api_app_id": APP_ID, "type": "app_rate_limited"}))  # fmt: skip
    ok(event(client, slack, clock, envelope({"type": "app_mention", "user": MEI, "text": "hi", "ts": "1.2",
                                             "channel": post.channel})))  # fmt: skip
    assert snapshot(sessions) == before
