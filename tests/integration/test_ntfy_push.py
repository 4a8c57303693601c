"""The push channel against a local server following ntfy's documented publish API (tests/standins/ntfy.py).

What a phone would get is read back the way ntfy's clients read it: ``GET /<topic>/json?poll=1``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from commandpost.notify.channels.base import Outbound
from commandpost.notify.channels.http import GuardedHttp
from commandpost.notify.channels.ntfy import MESSAGE_BYTES, NtfyChannel
from commandpost.notify.ssrf import OutboundGuard
from tests.standins.ntfy import NtfyStandIn, start_ntfy

pytestmark = pytest.mark.integration
NOW = datetime(2026, 6, 24, 3, 0, tzinfo=UTC)
TOKEN = "tk_5wq3v9y2m8k4j6h1g7f0d2s4a6p8"
PAGE = Outbound(
    id=11,
    key="page/incident=7/level=1/person=mei/channel=push/repeat=0",
    channel="push",
    destination="cp-mei-7f3k9q",
    subject="[SEV1] INC-7 payments: webhook backlog",
    body="First move: scale the workers",
    severity="SEV1",
    incident_id=7,
    person="mei",
    payload={
        "kind": "page",
        "urgency": "high",
        "url": "https://cp.example/incidents/INC-7",
        "ack_url": "https://cp.example/a/ack-token",
        "escalate_url": "https://cp.example/a/esc-token",
    },
)


@pytest.fixture
def ntfy() -> Iterator[NtfyStandIn]:
    server = start_ntfy()
    yield server
    server.close()


@pytest.fixture
def http() -> Iterator[GuardedHttp]:
    guarded = GuardedHttp(OutboundGuard(["127.0.0.1"]), timeout=5.0)
    yield guarded
    guarded.close()


def delivered(ntfy: NtfyStandIn, topic: str, token: str | None = None) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = httpx.get(f"{ntfy.url}/{topic}/json", params={"poll": "1"}, headers=headers)
    answer.raise_for_status()
    return [json.loads(line) for line in answer.text.splitlines()]


def test_a_page_arrives_at_priority_5_with_ack_and_escalate_actions(ntfy, http):
    result = NtfyChannel(http, server_url=ntfy.url).send(PAGE, NOW)
    assert result.outcome == "delivered" and result.status_code == 200
    [message] = delivered(ntfy, "cp-mei-7f3k9q")
    assert result.provider_ref == message["id"] and len(message["id"]) == 12
    assert message["event"] == "message" and message["expires"] > message["time"]
    assert (message["title"], message["message"]) == (PAGE.subject, PAGE.body)
    assert message["priority"] == 5
    assert message["tags"] == ["rotating_light", "sev1"]
    assert message["click"] == "https://cp.example/incidents/INC-7"
    ack, escalate = message["actions"]
    assert (ack["action"], ack["label"], ack["method"], ack["url"], ack["clear"]) == (
        "http",
        "Acknowledge",
        "POST",
        "https://cp.example/a/ack-token",
        True,
    )
    assert (escalate["action"], escalate["method"], escalate["url"]) == (
        "http",
        "POST",
        "https://cp.example/a/esc-token",
    )
    assert len(ack["id"]) == 10 and ack["id"] != escalate["id"]
    [request] = ntfy.received[:1]
    assert (request.method, request.path) == ("POST", "/")
    assert "Authorization" not in request.headers  # no token configured: none sent


def test_a_notice_arrives_at_default_priority_without_buttons(ntfy, http):
    notice = replace(
        PAGE, key="notice", payload={"kind": "role-offer", "url": "https://cp.example/incidents/INC-7"}
    )
    assert NtfyChannel(http, server_url=ntfy.url).send(notice, NOW).outcome == "delivered"
    [message] = delivered(ntfy, "cp-mei-7f3k9q")
    assert message["priority"] == 3 and "actions" not in message
    assert message["click"] == "https://cp.example/incidents/INC-7"


def test_a_protected_topic_needs_the_token(ntfy, http):
    ntfy.protect("cp-mei-7f3k9q", token=TOKEN)
    anonymous = NtfyChannel(http, server_url=ntfy.url).send(PAGE, NOW)
    assert (anonymous.outcome, anonymous.status_code) == ("dead", 403)
    assert anonymous.error is not None and anonymous.error.startswith("ntfy 40301: forbidden")
    wrong = NtfyChannel(http, server_url=ntfy.url, token="tk_notarealtokennotarealtoken00").send(PAGE, NOW)
    assert (wrong.outcome, wrong.status_code) == ("dead", 401)
    assert wrong.error is not None and "ntfy 40101: unauthorized" in wrong.error
    assert "COMMANDPOST_NTFY_TOKEN" in wrong.error and TOKEN not in wrong.error
    assert ntfy.cache == []  # neither refused publish reached the topic

    allowed = NtfyChannel(http, server_url=ntfy.url, token=TOKEN).send(PAGE, NOW)
    assert allowed.outcome == "delivered"
    assert ntfy.received[-1].headers["Authorization"] == f"Bearer {TOKEN}"
    with pytest.raises(httpx.HTTPStatusError):
        delivered(ntfy, "cp-mei-7f3k9q")  # reading it needs the token too
    assert [m["id"] for m in delivered(ntfy, "cp-mei-7f3k9q", TOKEN)] == [allowed.provider_ref]


def test_a_429_is_retried_and_the_next_attempt_delivers(ntfy, http):
    ntfy.throttle = 1
    channel = NtfyChannel(http, server_url=ntfy.url)
    throttled = channel.send(PAGE, NOW)
    assert (throttled.outcome, throttled.status_code, throttled.retry_after) == ("retry", 429, None)
    assert throttled.error is not None and throttled.error.startswith("ntfy 42901: limit reached")
    assert delivered(ntfy, "cp-mei-7f3k9q") == []
    assert channel.send(PAGE, NOW).outcome == "delivered"
    assert len(delivered(ntfy, "cp-mei-7f3k9q")) == 1


def test_hostile_text_is_delivered_clean_and_within_ntfys_message_limit(ntfy, http):
    body = "line one\x00\x1b[31m red\x7f\u202e\nline two " + "x" * 10_000
    hostile = replace(PAGE, subject="[SEV1]\x00 INC-7\r\nBcc: all@corp", body=body)
    result = NtfyChannel(http, server_url=ntfy.url).send(hostile, NOW)
    assert result.outcome == "delivered"
    [message] = delivered(ntfy, "cp-mei-7f3k9q")
    assert "attachment" not in message  # over 4096 bytes ntfy would have made it a file
    assert message["message"].startswith("line one[31m red\nline two xxx")
    assert message["message"].endswith("…") and len(message["message"].encode()) <= MESSAGE_BYTES
    assert message["title"] == "[SEV1] INC-7 Bcc: all@corp"


def test_text_that_doubles_in_json_is_not_refused_as_too_large(ntfy, http):
    result = NtfyChannel(http, server_url=ntfy.url).send(replace(PAGE, body='"\\' * 5000), NOW)
    assert result.outcome == "delivered", result.error
    [message] = delivered(ntfy, "cp-mei-7f3k9q")
    assert message["message"].startswith('"\\"\\') and message["message"].endswith("…")


def test_a_hostile_topic_or_link_never_reaches_the_server_as_such(ntfy, http):
    channel = NtfyChannel(http, server_url=ntfy.url)
    refused = channel.send(replace(PAGE, destination="../v1/account"), NOW)
    assert refused.outcome == "dead" and ntfy.received == []
    sneaky = replace(PAGE, payload={**PAGE.payload, "ack_url": "javascript:fetch('//evil')"})
    assert channel.send(sneaky, NOW).outcome == "delivered"
    [message] = delivered(ntfy, "cp-mei-7f3k9q")
    assert [a["label"] for a in message["actions"]] == ["Escalate"]


def test_a_private_ntfy_server_needs_the_allowlist(ntfy):
    guarded = GuardedHttp(OutboundGuard([]), timeout=5.0)
    try:
        result = NtfyChannel(guarded, server_url=ntfy.url).send(PAGE, NOW)
    finally:
        guarded.close()
    assert result.outcome == "dead" and result.error is not None
    assert result.error.startswith("ntfy: ") and "COMMANDPOST_OUTBOUND_ALLOWLIST" in result.error
    assert ntfy.received == []  # refused before any connection


def test_the_stand_in_answers_like_ntfy(ntfy):
    """The stand-in is the oracle of the tests above, so its documented refusals are checked too."""

    def publish(doc: Any, **kw: Any) -> httpx.Response:
        content = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        return httpx.post(ntfy.url + "/", content=content, **kw)

    def code(answer: httpx.Response) -> tuple[int, int]:
        doc = answer.json()
        assert doc["http"] == answer.status_code and isinstance(doc["error"], str)
        return answer.status_code, doc["code"]

    view = {"action": "view", "label": "Open", "url": "https://x.example"}
    assert code(publish(b"not json")) == (400, 40024)
    assert code(publish({"topic": "t", "priority": "5"})) == (400, 40024)
    assert code(publish({"topic": "a/b"})) == (400, 40009)
    assert code(publish({"topic": "t", "priority": 6})) == (400, 40007)
    assert code(publish({"topic": "t", "actions": [view] * 4})) == (400, 40018)
    assert code(publish({"topic": "t", "actions": [{"action": "http", "label": "Go"}]})) == (400, 40018)
    assert code(publish({"topic": "t", "message": "x" * 9000})) == (413, 41303)
    assert code(publish({"topic": "t"}, headers={"Authorization": "Bearer tk_unknown"})) == (401, 40101)
    ntfy.throttle = 1
    throttled = publish({"topic": "t"})
    assert code(throttled) == (429, 42901) and "Retry-After" not in throttled.headers
    ok = publish({"topic": "t", "message": "y" * 5000})
    assert ok.status_code == 200 and ok.json()["attachment"]["name"] == "attachment.txt"
    assert publish({"topic": "t"}).json()["message"] == "triggered"
