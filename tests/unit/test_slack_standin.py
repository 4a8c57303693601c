"""The Slack stand-in, driven by the real ``slack_sdk.WebClient``: each method's documented ok answer,
each documented refusal as the ``SlackApiError`` the SDK raises, 429 with Retry-After (and the SDK's own
retry handler honouring it), Slack's request signature, and hostile bodies answered Slack-shaped."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.web.slack_response import SlackResponse

from tests.standins.slack import BOT_USER_ID, SlackStandIn, start_slack

SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "*INC-7* declared"}}
MODAL = {
    "type": "modal",
    "callback_id": "declare",
    "title": {"type": "plain_text", "text": "Declare an incident"},
    "submit": {"type": "plain_text", "text": "Declare"},
    "blocks": [SECTION],
}


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    standin = start_slack()
    standin.add_user("U0MEI", "mei@example.com", real_name="Mei Tanaka", tz="Asia/Tokyo")
    standin.add_user("U0OLA", "ola@example.com")
    yield standin
    standin.close()


@pytest.fixture
def client(slack: SlackStandIn) -> WebClient:
    return WebClient(token=slack.token, base_url=slack.api_url)


def refusal(call: Callable[..., Any], **arguments: Any) -> SlackResponse:
    with pytest.raises(SlackApiError) as caught:
        call(**arguments)
    response: SlackResponse = caught.value.response
    return response


def channel(client: WebClient, name: str = "inc-7-payments") -> str:
    created: str = client.conversations_create(name=name)["channel"]["id"]
    return created


def raw(slack: SlackStandIn, method: str, body: bytes, content_type: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {slack.token}", "Content-Type": content_type}
    return httpx.post(slack.api_url + method, content=body, headers=headers, timeout=10)


# -- the ok answers ------------------------------------------------------------------------------


def test_auth_test_names_the_bot_and_its_workspace(client: WebClient):
    answer = client.auth_test()
    assert answer.status_code == 200
    assert answer["ok"] is True
    assert answer["user_id"] == BOT_USER_ID
    assert answer["team_id"].startswith("T")
    assert answer["bot_id"].startswith("B")


def test_conversations_create_answers_the_documented_channel_with_the_bot_in_it(
    slack: SlackStandIn, client: WebClient
):
    answer = client.conversations_create(name="inc-7-payments")
    created = answer["channel"]
    assert created["id"].startswith("C")
    assert created["name"] == "inc-7-payments"
    assert created["is_channel"] is True
    assert created["is_private"] is False
    assert created["is_member"] is True
    assert created["creator"] == BOT_USER_ID
    assert isinstance(created["created"], int)
    assert created["topic"] == {"value": "", "creator": "", "last_set": 0}
    stored = slack.channels[created["id"]]
    assert stored["name"] == "inc-7-payments"
    assert stored["members"] == [BOT_USER_ID]
    assert stored["archived"] is False
    assert slack.calls("conversations.create") == [{"name": "inc-7-payments"}]
    assert client.conversations_create(name="inc-8", is_private=True)["channel"]["is_private"] is True


def test_set_topic_invite_archive_and_info_change_the_channel(slack: SlackStandIn, client: WebClient):
    channel_id = channel(client)
    topic = client.conversations_setTopic(channel=channel_id, topic="SEV2 · investigating · IC @mei")
    assert topic["channel"]["topic"]["value"] == "SEV2 · investigating · IC @mei"
    assert topic["channel"]["topic"]["creator"] == BOT_USER_ID
    invited = client.conversations_invite(channel=channel_id, users=["U0MEI", "U0OLA"])
    assert invited["channel"]["id"] == channel_id
    assert slack.channels[channel_id]["members"] == [BOT_USER_ID, "U0MEI", "U0OLA"]
    assert slack.calls("conversations.invite")[0]["users"] == "U0MEI,U0OLA"
    info = client.conversations_info(channel=channel_id, include_num_members=True)["channel"]
    assert (info["topic"]["value"], info["num_members"], info["is_archived"]) == (
        "SEV2 · investigating · IC @mei",
        3,
        False,
    )
    assert client.conversations_archive(channel=channel_id).data == {"ok": True}
    assert slack.channels[channel_id]["archived"] is True
    assert client.conversations_info(channel=channel_id)["channel"]["is_archived"] is True


def test_bookmarks_add_answers_the_bookmark_and_keeps_it_on_the_channel(
    slack: SlackStandIn, client: WebClient
):
    channel_id = channel(client)
    answer = client.bookmarks_add(
        channel_id=channel_id,
        title="Runbook",
        type="link",
        link="https://runbooks.example/payments",
        emoji=":book:",
    )
    bookmark = answer["bookmark"]
    assert bookmark["id"].startswith("Bk")
    assert (bookmark["channel_id"], bookmark["title"], bookmark["type"]) == (channel_id, "Runbook", "link")
    assert bookmark["link"] == "https://runbooks.example/payments"
    assert bookmark["emoji"] == ":book:"
    assert slack.channels[channel_id]["bookmarks"] == [bookmark]


def test_post_message_answers_channel_ts_and_message_and_update_edits_it_in_place(
    slack: SlackStandIn, client: WebClient
):
    channel_id = channel(client)
    posted = client.chat_postMessage(channel=channel_id, text="INC-7 declared", blocks=[SECTION])
    assert posted["channel"] == channel_id
    ts = posted["ts"]
    assert len(ts.split(".")) == 2 and all(part.isdigit() for part in ts.split("."))
    assert posted["message"]["text"] == "INC-7 declared"
    assert posted["message"]["blocks"] == [SECTION]
    assert posted["message"]["ts"] == ts
    assert posted["message"]["bot_id"].startswith("B")
    second = client.chat_postMessage(channel=channel_id, text="and again")
    assert second["ts"] != ts
    acked = {"type": "section", "text": {"type": "mrkdwn", "text": "Acknowledged by <@U0MEI>"}}
    updated = client.chat_update(channel=channel_id, ts=ts, text="Acknowledged", blocks=[acked])
    assert (updated["channel"], updated["ts"], updated["text"]) == (channel_id, ts, "Acknowledged")
    assert updated["message"]["blocks"] == [acked]
    stored = slack.channels[channel_id]["messages"]
    assert [m["text"] for m in stored] == ["Acknowledged", "and again"]
    assert stored[0]["edited"]["user"] == BOT_USER_ID
    assert slack.calls("chat.update")[0]["blocks"] == [acked]


def test_post_message_to_a_user_opens_the_bots_dm_and_a_name_finds_the_channel(
    slack: SlackStandIn, client: WebClient
):
    dm = client.chat_postMessage(channel="U0MEI", text="You are paged for INC-7")
    assert dm["channel"].startswith("D")
    assert slack.dms["U0MEI"] == dm["channel"]
    assert slack.channels[dm["channel"]]["messages"][0]["text"] == "You are paged for INC-7"
    assert client.chat_postMessage(channel="U0MEI", text="again")["channel"] == dm["channel"]
    announce = slack.add_channel("ops-announce")
    assert client.chat_postMessage(channel="#ops-announce", text="INC-7 declared")["channel"] == announce


def test_post_ephemeral_answers_message_ts_for_a_member(slack: SlackStandIn, client: WebClient):
    channel_id = channel(client)
    client.conversations_invite(channel=channel_id, users="U0MEI")
    answer = client.chat_postEphemeral(channel=channel_id, user="U0MEI", text="That looks like an AWS key")
    assert answer["message_ts"]
    assert slack.channels[channel_id]["ephemeral"][0]["to"] == "U0MEI"
    assert slack.channels[channel_id]["messages"] == []


def test_conversations_history_answers_members_messages_newest_first_within_the_window(
    slack: SlackStandIn, client: WebClient
):
    made = channel(client)
    slack.join(made, "U0MEI")
    first = slack.say(made, "U0MEI", "db01 failover done")
    second = slack.say(made, "U0OLA", "p99 back under 300ms")
    found = client.conversations_history(channel=made)
    assert [(m["user"], m["text"]) for m in found["messages"]] == [
        ("U0OLA", "p99 back under 300ms"),
        ("U0MEI", "db01 failover done"),
    ]
    assert found["has_more"] is False
    (one,) = client.conversations_history(channel=made, latest=first, inclusive=True, limit=1)["messages"]
    assert (one["ts"], one["text"]) == (first, "db01 failover done")
    assert client.conversations_history(channel=made, latest=first)["messages"] == []  # exclusive
    newest = client.conversations_history(channel=made, oldest=first, limit=1)
    assert [m["ts"] for m in newest["messages"]] == [second] and newest["has_more"] is False
    assert refusal(client.conversations_history, channel=made, latest="yesterday")["error"] == (
        "invalid_ts_latest"
    )
    outside = slack.add_channel("general", member=False)
    assert refusal(client.conversations_history, channel=outside)["error"] == "not_in_channel"


def test_users_lookup_by_email_answers_the_user_or_users_not_found(client: WebClient):
    user = client.users_lookupByEmail(email="Mei@Example.com")["user"]
    assert (user["id"], user["real_name"], user["tz"]) == ("U0MEI", "Mei Tanaka", "Asia/Tokyo")
    assert user["profile"]["email"] == "mei@example.com"
    assert refusal(client.users_lookupByEmail, email="nobody@example.com")["error"] == "users_not_found"


def test_views_open_answers_the_view_and_a_trigger_works_once(slack: SlackStandIn, client: WebClient):
    trigger = slack.trigger_id()
    view = client.views_open(trigger_id=trigger, view=MODAL)["view"]
    assert view["id"].startswith("V")
    assert (view["type"], view["callback_id"], view["title"]) == ("modal", "declare", MODAL["title"])
    assert view["blocks"] == [SECTION]
    assert slack.views[view["id"]] == view
    assert refusal(client.views_open, trigger_id=trigger, view=MODAL)["error"] == "exchanged_trigger_id"
    bad = refusal(client.views_open, trigger_id=slack.trigger_id(), view={"type": "modal", "blocks": []})
    assert bad["error"] == "invalid_arguments"
    assert "title" in bad["response_metadata"]["messages"][0]
    assert refusal(client.views_open, trigger_id="nonsense", view=MODAL)["error"] == "invalid_trigger_id"


# -- the documented refusals ---------------------------------------------------------------------


def test_a_wrong_token_is_invalid_auth_and_none_is_not_authed(slack: SlackStandIn, client: WebClient):
    wrong = WebClient(token="xoxb-someone-else", base_url=slack.api_url)
    assert refusal(wrong.auth_test)["error"] == "invalid_auth"
    assert refusal(wrong.conversations_create, name="inc-9")["error"] == "invalid_auth"
    assert refusal(WebClient(base_url=slack.api_url).auth_test)["error"] == "not_authed"
    assert slack.channels == {}
    form_token = httpx.post(slack.api_url + "auth.test", data={"token": slack.token}, timeout=10)
    assert form_token.json()["ok"] is True


def test_channel_names_follow_slacks_rules(slack: SlackStandIn, client: WebClient):
    channel(client, "inc-7")
    assert refusal(client.conversations_create, name="inc-7")["error"] == "name_taken"
    for name in ("INC-7", "inc 7", "inc.7", "inc-7\x00", "inc-7-café"):
        assert refusal(client.conversations_create, name=name)["error"] == "invalid_name_specials", name
    assert refusal(client.conversations_create, name="a" * 81)["error"] == "invalid_name_maxlength"
    assert refusal(client.conversations_create, name="---")["error"] == "invalid_name_punctuation"
    assert client.conversations_create(name="a" * 80)["channel"]["name"] == "a" * 80
    assert sorted(c["name"] for c in slack.channels.values()) == ["a" * 80, "inc-7"]


def test_unknown_channels_are_channel_not_found_everywhere(client: WebClient):
    for call, arguments in (
        (client.conversations_info, {"channel": "C0NOPE"}),
        (client.conversations_setTopic, {"channel": "C0NOPE", "topic": "x"}),
        (client.conversations_invite, {"channel": "C0NOPE", "users": "U0MEI"}),
        (client.conversations_archive, {"channel": "C0NOPE"}),
        (
            client.bookmarks_add,
            {"channel_id": "C0NOPE", "title": "t", "type": "link", "link": "https://x.example"},
        ),
        (client.chat_postMessage, {"channel": "C0NOPE", "text": "x"}),
        (client.chat_postMessage, {"channel": "U0STRANGER", "text": "x"}),
        (client.chat_update, {"channel": "C0NOPE", "ts": "1.000100", "text": "x"}),
        (client.chat_postEphemeral, {"channel": "C0NOPE", "user": "U0MEI", "text": "x"}),
    ):
        assert refusal(call, **arguments)["error"] == "channel_not_found", call


def test_a_channel_the_bot_is_not_in_is_not_in_channel(slack: SlackStandIn, client: WebClient):
    outside = slack.add_channel("general-chatter", member=False, members=("U0MEI",))
    assert refusal(client.chat_postMessage, channel=outside, text="hello")["error"] == "not_in_channel"
    assert refusal(client.conversations_setTopic, channel=outside, topic="x")["error"] == "not_in_channel"
    assert refusal(client.conversations_invite, channel=outside, users="U0OLA")["error"] == "not_in_channel"
    assert refusal(client.conversations_archive, channel=outside)["error"] == "not_in_channel"
    assert client.conversations_info(channel=outside)["channel"]["is_member"] is False
    assert slack.channels[outside]["messages"] == []
    assert slack.channels[outside]["members"] == ["U0MEI"]


def test_an_archived_channel_refuses_posts_topics_and_invites(slack: SlackStandIn, client: WebClient):
    channel_id = channel(client)
    client.conversations_archive(channel=channel_id)
    assert refusal(client.conversations_archive, channel=channel_id)["error"] == "already_archived"
    assert refusal(client.chat_postMessage, channel=channel_id, text="x")["error"] == "is_archived"
    assert refusal(client.conversations_setTopic, channel=channel_id, topic="x")["error"] == "is_archived"
    assert refusal(client.conversations_invite, channel=channel_id, users="U0MEI")["error"] == "is_archived"
    assert refusal(client.conversations_create, name="inc-7-payments")["error"] == "name_taken"


def test_invites_refuse_unknown_users_members_and_the_bot_unless_forced(
    slack: SlackStandIn, client: WebClient
):
    channel_id = channel(client)
    client.conversations_invite(channel=channel_id, users="U0MEI")
    refused = refusal(client.conversations_invite, channel=channel_id, users="U0OLA,U0GHOST")
    assert refused["error"] == "user_not_found"
    assert refused["errors"] == [{"user": "U0GHOST", "ok": False, "error": "user_not_found"}]
    assert slack.channels[channel_id]["members"] == [BOT_USER_ID, "U0MEI"]
    assert (
        refusal(client.conversations_invite, channel=channel_id, users="U0MEI")["error"]
        == "already_in_channel"
    )
    assert (
        refusal(client.conversations_invite, channel=channel_id, users=BOT_USER_ID)["error"]
        == "cant_invite_self"
    )
    assert refusal(client.conversations_invite, channel=channel_id, users="")["error"] == "no_user"
    forced = client.conversations_invite(channel=channel_id, users="U0OLA,U0GHOST", force=True)
    assert [e["user"] for e in forced["errors"]] == ["U0GHOST"]
    assert slack.channels[channel_id]["members"] == [BOT_USER_ID, "U0MEI", "U0OLA"]


def test_messages_need_text_or_blocks_and_updates_a_known_ts(slack: SlackStandIn, client: WebClient):
    channel_id = channel(client)
    with pytest.warns(UserWarning, match="text"):  # the SDK warns too, then sends it
        assert refusal(client.chat_postMessage, channel=channel_id)["error"] == "no_text"
    assert refusal(client.chat_postMessage, channel=channel_id, text="x" * 40_001)["error"] == "msg_too_long"
    bad_blocks = refusal(client.chat_postMessage, channel=channel_id, text="x", blocks=[{"text": "no type"}])
    assert bad_blocks["error"] == "invalid_blocks"
    posted = client.chat_postMessage(channel=channel_id, text="INC-7")
    assert (
        refusal(client.chat_update, channel=channel_id, ts="1.000001", text="x")["error"]
        == "message_not_found"
    )
    with pytest.warns(UserWarning, match="text"):
        assert refusal(client.chat_update, channel=channel_id, ts=posted["ts"])["error"] == "no_text"
    assert refusal(client.chat_postEphemeral, channel=channel_id, user="U0OLA", text="x")["error"] == (
        "user_not_in_channel"
    )
    assert [m["text"] for m in slack.channels[channel_id]["messages"]] == ["INC-7"]


def test_bookmarks_refuse_other_types_bad_links_and_no_title(client: WebClient):
    channel_id = channel(client)
    link = {"channel_id": channel_id, "title": "Runbook", "type": "link"}
    assert refusal(client.bookmarks_add, **{**link, "type": "file"}, link="https://x.example")["error"] == (
        "invalid_bookmark_type"
    )
    assert refusal(client.bookmarks_add, **link, link="javascript:alert(1)")["error"] == "invalid_link"
    untitled = refusal(client.bookmarks_add, **{**link, "title": ""}, link="https://x.example")
    assert untitled["error"] == "invalid_arguments"


# -- scripted answers: errors, 429 and outages --------------------------------------------------


def test_scripted_errors_come_in_order_change_nothing_and_then_the_method_works_again(
    slack: SlackStandIn, client: WebClient
):
    slack.fail("conversations.create", "name_taken", "restricted_action")
    assert refusal(client.conversations_create, name="inc-7")["error"] == "name_taken"
    assert refusal(client.conversations_create, name="inc-7")["error"] == "restricted_action"
    assert slack.channels == {}
    assert client.conversations_create(name="inc-7")["ok"] is True
    channel_id = next(iter(slack.channels))
    slack.fail("chat.postMessage", "channel_not_found", "not_in_channel")
    assert refusal(client.chat_postMessage, channel=channel_id, text="x")["error"] == "channel_not_found"
    assert refusal(client.chat_postMessage, channel=channel_id, text="x")["error"] == "not_in_channel"
    assert slack.channels[channel_id]["messages"] == []
    assert len(slack.calls("chat.postMessage")) == 2


def test_a_scripted_rate_limit_is_429_with_retry_after(slack: SlackStandIn, client: WebClient):
    slack.fail("chat.postMessage", ("ratelimited", 30))
    channel_id = channel(client)
    limited = refusal(client.chat_postMessage, channel=channel_id, text="x")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "30"
    assert limited.data == {"ok": False, "error": "ratelimited"}
    assert slack.channels[channel_id]["messages"] == []


def test_the_sdks_rate_limit_handler_waits_retry_after_and_retries(
    slack: SlackStandIn, client: WebClient, monkeypatch: pytest.MonkeyPatch
):
    waits: list[float] = []
    monkeypatch.setattr(builtin_handlers, "time", types.SimpleNamespace(sleep=waits.append))
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))
    channel_id = channel(client)
    slack.fail("chat.postMessage", ("ratelimited", 7), ("ratelimited", 3))
    posted = client.chat_postMessage(channel=channel_id, text="INC-7 declared")
    assert posted["ok"] is True
    assert [int(w) for w in waits] == [7, 3]
    assert len(slack.calls("chat.postMessage")) == 3
    assert len(slack.channels[channel_id]["messages"]) == 1


def test_down_answers_503_service_unavailable_until_slack_is_back(slack: SlackStandIn, client: WebClient):
    slack.fail("conversations.create", "down")
    outage = refusal(client.conversations_create, name="inc-7")
    assert (outage.status_code, outage["error"]) == (503, "service_unavailable")
    slack.down = True
    assert refusal(client.auth_test).status_code == 503
    assert refusal(client.conversations_create, name="inc-7").status_code == 503
    assert slack.channels == {}
    slack.down = False
    assert client.conversations_create(name="inc-7")["ok"] is True


# -- Slack's request signature ------------------------------------------------------------------


class FrozenClock(Clock):
    def __init__(self, now: float) -> None:
        self.frozen = now

    def now(self) -> float:
        return self.frozen


def test_signed_headers_are_what_slacks_signature_verifier_accepts(slack: SlackStandIn):
    body = b"command=%2Finc&text=declare+SEV2+payments&user_id=U0MEI"
    headers = slack.signed(body, 1_800_000_000)
    assert headers["X-Slack-Request-Timestamp"] == "1800000000"
    verifier = SignatureVerifier(slack.signing_secret, clock=FrozenClock(1_800_000_000))
    assert verifier.is_valid(body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"])
    assert verifier.is_valid_request(body, headers)
    assert not verifier.is_valid(
        body + b"x", headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )
    assert not verifier.is_valid(body, "1800000001", headers["X-Slack-Signature"])
    assert headers["X-Slack-Signature"] == verifier.generate_signature(timestamp="1800000000", body=body)


def test_signed_matches_slacks_documented_example():
    slack = start_slack(signing_secret="8f742231b10e8888abcd99yyyzzz85a5")
    try:
        body = (
            b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
            b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
            b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
            b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
        )
        assert slack.signed(body, 1531420618)["X-Slack-Signature"] == (
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        )
    finally:
        slack.close()


# -- bodies and hostile input --------------------------------------------------------------------


def test_a_form_body_with_blocks_as_a_json_string_is_decoded(slack: SlackStandIn, client: WebClient):
    channel_id = channel(client)
    form = {"channel": channel_id, "text": "INC-7", "blocks": json.dumps([SECTION])}
    answer = httpx.post(
        slack.api_url + "chat.postMessage",
        data=form,
        headers={"Authorization": f"Bearer {slack.token}"},
        timeout=10,
    )
    assert answer.json()["message"]["blocks"] == [SECTION]
    assert slack.calls("chat.postMessage")[0]["blocks"] == [SECTION]
    form["blocks"] = "[not json"
    refused = httpx.post(
        slack.api_url + "chat.postMessage",
        data=form,
        headers={"Authorization": f"Bearer {slack.token}"},
        timeout=10,
    )
    assert (refused.status_code, refused.json()) == (200, {"ok": False, "error": "invalid_blocks_format"})


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        (b'{"channel": "C1", "text": ', "application/json", "invalid_json"),
        (b'["C1", "text"]', "application/json; charset=utf-8", "json_not_object"),
        (b"\xff\xfe\x00name=inc", "application/x-www-form-urlencoded", "invalid_form_data"),
        (b"name=inc&&=&broken", "application/x-www-form-urlencoded", "invalid_form_data"),
        (b'{"name": 7}', "application/json", "invalid_arguments"),
        (b"name=inc%00-7", "application/x-www-form-urlencoded", "invalid_name_specials"),
        (b'{"name": "inc\\u0000"}', "application/json", "invalid_name_specials"),
    ],
)
def test_bad_bodies_get_slack_shaped_errors_and_change_nothing(
    slack: SlackStandIn, body: bytes, content_type: str, error: str
):
    answer = raw(slack, "conversations.create", body, content_type)
    assert answer.status_code == 200
    assert answer.json()["ok"] is False
    assert answer.json()["error"] == error
    assert slack.channels == {}


def test_a_5_mb_message_is_msg_too_long_and_the_stand_in_keeps_answering(
    slack: SlackStandIn, client: WebClient
):
    channel_id = channel(client)
    huge = json.dumps({"channel": channel_id, "text": "\x00" + "A" * 5_000_000}).encode()
    answer = raw(slack, "chat.postMessage", huge, "application/json")
    assert (answer.status_code, answer.json()) == (200, {"ok": False, "error": "msg_too_long"})
    assert slack.channels[channel_id]["messages"] == []
    assert client.chat_postMessage(channel=channel_id, text="nul \x00 kept as sent")["message"]["text"] == (
        "nul \x00 kept as sent"
    )


def test_an_oversized_or_unknown_request_is_refused_without_a_crash(slack: SlackStandIn, client: WebClient):
    too_big = raw(slack, "chat.postMessage", b"x" * (8 * 1024 * 1024 + 1), "application/json")
    assert (too_big.status_code, too_big.json()) == (413, {"ok": False, "error": "request_too_large"})
    unknown = refusal(client.api_call, api_method="chat.nonsense")
    assert unknown["error"] == "unknown_method"
    assert httpx.get(slack.api_url.removesuffix("api/") + "elsewhere", timeout=10).status_code == 404
    assert client.auth_test()["ok"] is True


def test_get_with_a_query_string_works_as_slack_allows(slack: SlackStandIn):
    answer = httpx.get(
        slack.api_url + "users.lookupByEmail",
        params={"email": "ola@example.com"},
        headers={"Authorization": f"Bearer {slack.token}"},
        timeout=10,
    )
    assert answer.json()["user"]["id"] == "U0OLA"


def test_concurrent_posts_are_all_kept_with_distinct_ts(slack: SlackStandIn, client: WebClient):
    channel_id = channel(client)

    def post(worker: int) -> None:
        for n in range(5):
            client.chat_postMessage(channel=channel_id, text=f"{worker}-{n}")

    threads = [threading.Thread(target=post, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    messages = slack.channels[channel_id]["messages"]
    assert len(messages) == 40
    assert len({m["ts"] for m in messages}) == 40
    assert sorted(m["text"] for m in messages) == sorted(f"{w}-{n}" for w in range(8) for n in range(5))


def test_it_runs_on_its_own_and_prints_its_token_and_signing_secret():
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.standins.slack", "--port", "0", "--channel", "ops-announce"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        announce = process.stdout.readline()
        banner = process.stdout.readline()
        assert announce.startswith("#ops-announce = C")
        assert "xoxb-standin-" in banner and "signing secret" in banner
        api_url = banner.split(" on ")[1].split(" ")[0]
        token = banner.split("bot token ")[1].split(",")[0]
        posted = WebClient(token=token, base_url=api_url).chat_postMessage(channel="#ops-announce", text="hi")
        assert posted["channel"] == announce.split(" = ")[1].strip()
    finally:
        process.terminate()
        process.wait(timeout=10)
