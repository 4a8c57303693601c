"""The push (ntfy) channel: the JSON it publishes for a page and for other messages, its text limits,
and what each of ntfy's documented answers becomes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import orjson
import pytest

from commandpost.notify.channels.base import Outbound
from commandpost.notify.channels.http import GuardedHttp
from commandpost.notify.channels.ntfy import JSON_BYTES, MESSAGE_BYTES, NtfyChannel, explain, publication
from commandpost.notify.rules import Delivery
from commandpost.notify.ssrf import OutboundGuard

NOW = datetime(2026, 6, 24, 3, 0, tzinfo=UTC)
PAGE = Outbound(
    id=11,
    key="page/incident=7/level=1/person=mei/channel=push/repeat=0",
    channel="push",
    destination="cp-mei-7f3k9q",
    subject="[SEV1] INC-7 payments: webhook backlog",
    body="First move: scale the workers\nRunbook: https://runbooks.example/payments",
    severity="SEV1",
    incident_id=7,
    person="mei",
    payload={
        "kind": "page",
        "urgency": "high",
        "incident": "INC-7",
        "url": "https://cp.example/incidents/INC-7",
        "ack_url": "https://cp.example/a/ack-token",
        "escalate_url": "https://cp.example/a/esc-token",
        "runbook_url": "https://runbooks.example/payments",
    },
)
NOTICE = replace(
    PAGE,
    key="comms-overdue/incident=INC-7/to=mei/channel=push",
    subject="[SEV1] INC-7 comms update overdue by 30m",
    severity="SEV1",
    payload={"kind": "comms-overdue", "url": "https://cp.example/incidents/INC-7"},
)
SERVER = "https://ntfy.example/"


def test_a_high_urgency_page_is_priority_5_with_ack_escalate_and_runbook_buttons():
    assert publication(PAGE) == {
        "topic": "cp-mei-7f3k9q",
        "title": "[SEV1] INC-7 payments: webhook backlog",
        "message": "First move: scale the workers\nRunbook: https://runbooks.example/payments",
        "priority": 5,
        "tags": ["rotating_light", "sev1"],
        "click": "https://cp.example/incidents/INC-7",
        "actions": [
            {
                "action": "http",
                "label": "Acknowledge",
                "url": "https://cp.example/a/ack-token",
                "method": "POST",
                "clear": True,
            },
            {
                "action": "http",
                "label": "Escalate",
                "url": "https://cp.example/a/esc-token",
                "method": "POST",
            },
            {"action": "view", "label": "Runbook", "url": "https://runbooks.example/payments"},
        ],
    }


def test_low_urgency_pages_are_priority_3_and_page_tests_follow_the_urgency():
    low = replace(PAGE, payload={**PAGE.payload, "urgency": "low"})
    assert publication(low)["priority"] == 3
    assert publication(low)["tags"] == ["rotating_light", "sev1"]
    test = replace(PAGE, payload={**PAGE.payload, "kind": "test"})
    assert publication(test)["priority"] == 5
    assert [a["label"] for a in publication(test)["actions"]] == ["Acknowledge", "Escalate", "Runbook"]


def test_a_page_without_runbook_has_two_buttons():
    payload = {k: v for k, v in PAGE.payload.items() if k != "runbook_url"}
    assert [a["label"] for a in publication(replace(PAGE, payload=payload))["actions"]] == [
        "Acknowledge",
        "Escalate",
    ]


def test_other_messages_are_priority_3_with_a_click_url_and_no_buttons():
    doc = publication(NOTICE)
    assert doc["priority"] == 3
    assert doc["click"] == "https://cp.example/incidents/INC-7"
    assert doc["tags"] == ["sev1"]
    assert "actions" not in doc
    # even when a notice's payload happened to carry links, only pages get buttons
    assert "actions" not in publication(replace(NOTICE, payload={**NOTICE.payload, "ack_url": "https://x/a"}))
    bare = publication(replace(NOTICE, severity=None, payload={}))
    assert "click" not in bare and "tags" not in bare


def test_only_plain_http_links_become_click_and_actions():
    payload = {
        **PAGE.payload,
        "url": "javascript:alert(1)",
        "ack_url": "https://cp.example/a/x\r\nX-Evil: 1",
        "escalate_url": "https://cp.example/" + "e" * 2000,
        "runbook_url": 42,
    }
    doc = publication(replace(PAGE, payload=payload))
    assert "click" not in doc and "actions" not in doc


def test_hostile_text_is_cleaned_and_cut_to_ntfy_limits():
    body = "a\x00b\x07c\u202ed\ud800e\r\nnext line\tend " + "é" * 6000
    doc = publication(replace(PAGE, subject="[SEV1]\x00 line\r\nBcc: x " + "t" * 400, body=body))
    message = doc["message"]
    assert message.startswith("abcde\nnext line\tend ")
    assert message.endswith("…") and len(message.encode()) <= MESSAGE_BYTES
    assert "\n" not in doc["title"] and "\x00" not in doc["title"] and len(doc["title"]) == 250
    assert len(orjson.dumps(doc)) <= JSON_BYTES


def test_text_that_doubles_when_escaped_still_fits_ntfys_json_limit():
    doc = publication(replace(PAGE, body='"\\\n' * 3000))
    assert len(orjson.dumps(doc)) <= JSON_BYTES
    assert len(doc["message"].encode()) <= MESSAGE_BYTES and doc["message"].endswith("…")


def test_an_empty_body_sends_the_title_rather_than_ntfys_triggered():
    assert publication(replace(PAGE, body=" \x00 "))["message"] == PAGE.subject


@pytest.mark.parametrize(
    ("status", "body", "outcome", "error"),
    [
        (
            401,
            b'{"code":40101,"http":401,"error":"unauthorized","link":"https://ntfy.sh/docs/publish/#authentication"}',
            "dead",
            "ntfy 40101: unauthorized — check COMMANDPOST_NTFY_TOKEN",
        ),
        (
            403,
            b'{"code":40301,"http":403,"error":"forbidden"}',
            "dead",
            "ntfy 40301: forbidden — the token's user",
        ),
        (
            400,
            b'{"code":40009,"http":400,"error":"invalid request: topic invalid"}',
            "dead",
            "ntfy 40009: invalid",
        ),
        (400, b'{"code":40018,"http":400,"error":"invalid request: actions invalid"}', "dead", "ntfy 40018"),
        (413, b'{"code":41303,"http":413,"error":"JSON body too large"}', "dead", "ntfy 41303: JSON body"),
        (429, b'{"code":42901,"http":429,"error":"limit reached: too many requests"}', "retry", "ntfy 42901"),
        (500, b'{"code":50001,"http":500,"error":"internal server error"}', "retry", "ntfy 50001"),
        (502, b"<html>Bad Gateway</html>", "retry", "ntfy: HTTP 502 from https://ntfy.example/…: <html>"),
    ],
)
def test_ntfys_answers_map_to_retry_or_dead_with_its_code_and_text(status, body, outcome, error):
    snippet = " ".join(body.decode().split())
    given = Delivery(
        outcome, status_code=status, error=f"HTTP {status} from https://ntfy.example/…: {snippet}"
    )
    result = explain(given, body, server=SERVER)
    assert result.outcome == outcome and result.status_code == status
    assert result.error is not None and result.error.startswith(error)
    assert result.retry_after is None  # ntfy's 429 has no Retry-After: the sender's backoff applies
    if body.startswith(b"{"):
        assert result.error.endswith(f"(HTTP {status} from https://ntfy.example/…)")


def test_ntfys_error_text_is_made_one_safe_line():
    body = b'{"code":40009,"http":400,"error":"bad\\r\\nX-Injected: 1\\u0000"}'
    result = explain(Delivery("dead", status_code=400, error="HTTP 400"), body, server=SERVER)
    assert result.error is not None and "\n" not in result.error and "\x00" not in result.error


def test_success_keeps_ntfys_message_id_for_the_outbox():
    body = b'{"id":"sPs71M8A2T9x","time":1,"event":"message","topic":"t"}\n'
    assert explain(Delivery("delivered", status_code=200), body, server=SERVER).provider_ref == "sPs71M8A2T9x"
    assert explain(Delivery("delivered", status_code=200), b"ok", server=SERVER).provider_ref is None


def test_a_guard_refusal_or_no_answer_keeps_the_reason():
    given = Delivery("dead", error="http://10.0.0.5:80/… refused: …")
    assert explain(given, b"", server=SERVER).error == "ntfy: http://10.0.0.5:80/… refused: …"


def _never_resolve(host: str, port: int) -> list[str]:
    raise AssertionError(f"no lookup was expected, got {host}:{port}")


@pytest.fixture
def offline() -> GuardedHttp:
    return GuardedHttp(OutboundGuard([], resolver=_never_resolve), timeout=1.0)


@pytest.mark.parametrize("topic", ["", "a/b", "../admin", "a.b", "t" * 65, "topic\r\nHost: evil", "日本"])
def test_an_invalid_topic_is_dead_before_any_request(offline, topic):
    result = NtfyChannel(offline, server_url=SERVER).send(replace(PAGE, destination=topic), NOW)
    assert result.outcome == "dead" and result.error is not None and "1 to 64 letters" in result.error


def test_configuration_problems_are_clear_dead_letters_not_exceptions(offline):
    no_server = NtfyChannel(offline, server_url=" ").send(PAGE, NOW)
    assert no_server.outcome == "dead" and "COMMANDPOST_NTFY_URL" in (no_server.error or "")
    bad_token = NtfyChannel(offline, server_url=SERVER, token="tk_a\r\nX-Evil: 1").send(PAGE, NOW)
    assert bad_token.outcome == "dead" and "COMMANDPOST_NTFY_TOKEN" in (bad_token.error or "")
