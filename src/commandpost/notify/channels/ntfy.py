"""Push through ntfy (ntfy.sh or self-hosted): one JSON publish (``POST {server}/``) per message.

A page (``kind`` "page", or "test" for a page-test) is priority 5 when its urgency is high, else 3;
tagged ``rotating_light`` and its severity; opens the incident when tapped; and has up to three
buttons. Acknowledge and Escalate are ``http`` actions: the phone itself POSTs to the page's
one-tap links, which carry their own credential (ntfy adds none, and the links need no login).
Runbook is a ``view`` action. Other messages are priority 3 with a click URL and no buttons.
Priority 5 is the app's "Max priority" notification channel: the one the on-call engineer allows
to override Do Not Disturb (docs/notifications.md) — so it is kept for pages.

The server URL is an org setting, reached through the outbound guard like any webhook: a
self-hosted ntfy on a private address must be in ``COMMANDPOST_OUTBOUND_ALLOWLIST``.

ntfy's limits shape the text: a message over 4096 bytes becomes a file attachment (the phone
would show "You received a file"), and the JSON body may be at most 8192 bytes; so control
characters are dropped and the message is cut, with "…", to fit both.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from typing import Any

import orjson

from commandpost.notify.channels.base import Outbound, clean, one_line
from commandpost.notify.channels.http import GuardedHttp
from commandpost.notify.rules import Delivery
from commandpost.notify.ssrf import display

PAGE_KINDS = ("page", "test")
TOPIC = re.compile(r"[-_A-Za-z0-9]{1,64}")  # ntfy's topicRegex
MESSAGE_BYTES = 4096  # ntfy's message-size-limit: longer becomes an attachment
JSON_BYTES = 8000  # ntfy reads at most 2 × 4096 bytes of JSON; keep a margin under it
TITLE_LIMIT = 250
URL_LIMIT = 1024  # with the title limit, the document without its message stays well under JSON_BYTES
ELLIPSIS = "…"
HINTS = {
    401: "check COMMANDPOST_NTFY_TOKEN (an access token, tk_…, of a user who may publish)",
    403: "the token's user may not publish to this topic, or the server requires a token",
}
_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f<>\"']+")
_HEADER_VALUE = re.compile(r"[\x21-\x7e]+")


def _link(value: object) -> str | None:
    if isinstance(value, str) and len(value) <= URL_LIMIT and _URL.fullmatch(value):
        return value
    return None


def _escaped_size(char: str) -> int:
    """Bytes a character of cleaned text takes inside a JSON string."""
    return 2 if char in '"\\\n\t' else len(char.encode())


def fit(text: str, json_room: int) -> str:
    """``text`` cut (ending in "…") to at most MESSAGE_BYTES of UTF-8 and ``json_room`` bytes of JSON."""
    raw, escaped = len(text.encode()), len(orjson.dumps(text)) - 2
    if raw <= MESSAGE_BYTES and escaped <= json_room:
        return text
    raw_room = MESSAGE_BYTES - len(ELLIPSIS.encode())
    json_room -= len(ELLIPSIS.encode())
    used_raw = used_json = 0
    for index, char in enumerate(text):
        used_raw += len(char.encode())
        used_json += _escaped_size(char)
        if used_raw > raw_room or used_json > json_room:
            return text[:index].rstrip() + ELLIPSIS
    return text


def _actions(payload: dict[str, Any]) -> list[dict[str, Any]]:
    actions: list[dict[str, Any]] = []
    if ack := _link(payload.get("ack_url")):
        actions.append(
            {"action": "http", "label": "Acknowledge", "url": ack, "method": "POST", "clear": True}
        )
    if escalate := _link(payload.get("escalate_url")):
        actions.append({"action": "http", "label": "Escalate", "url": escalate, "method": "POST"})
    if runbook := _link(payload.get("runbook_url")):
        actions.append({"action": "view", "label": "Runbook", "url": runbook})
    return actions


def publication(message: Outbound) -> dict[str, Any]:
    """The JSON ntfy publishes: see the module docstring for what a page and other messages carry."""
    payload = message.payload
    page = payload.get("kind") in PAGE_KINDS
    title = one_line(clean(message.subject), TITLE_LIMIT)
    doc: dict[str, Any] = {
        "topic": message.destination,
        "title": title,
        "message": "",
        "priority": 5 if page and payload.get("urgency") == "high" else 3,
    }
    severity = re.sub(r"[^a-z0-9_-]", "", (message.severity or "").lower())[:32]
    tags = (["rotating_light"] if page else []) + ([severity] if severity else [])
    if tags:
        doc["tags"] = tags
    if click := _link(payload.get("url")):
        doc["click"] = click
    if page and (actions := _actions(payload)):
        doc["actions"] = actions
    room = JSON_BYTES - len(orjson.dumps(doc))
    doc["message"] = fit(clean(message.body).strip() or title, room)
    return doc


def _ntfy_error(body: bytes) -> tuple[int, str] | None:
    """ntfy's error answer ``{"code": 40101, "http": 401, "error": "unauthorized", ...}``, if it is one."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict):
        return None
    code, text = doc.get("code"), doc.get("error")
    if isinstance(code, int) and isinstance(text, str):
        return code, one_line(clean(text), 200)
    return None


def _message_id(body: bytes) -> str | None:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    ref = doc.get("id") if isinstance(doc, dict) else None
    return ref if isinstance(ref, str) and ref.isalnum() else None


class NtfyChannel:
    """``push``: the destination is the person's topic; the server and its token are org settings."""

    def __init__(self, http: GuardedHttp, *, server_url: str, token: str = "") -> None:
        self.http = http
        self.url = server_url.rstrip("/") + "/"
        self.token = token
        self.problem: str | None = None
        if not server_url.strip():
            self.problem = "push is not configured: set COMMANDPOST_NTFY_URL (e.g. https://ntfy.sh)"
        elif token and not _HEADER_VALUE.fullmatch(token):
            self.problem = "COMMANDPOST_NTFY_TOKEN has characters an HTTP header cannot carry"

    def send(self, message: Outbound, now: datetime) -> Delivery:
        if self.problem:
            return Delivery("dead", error=self.problem)
        if not TOPIC.fullmatch(message.destination):
            return Delivery(
                "dead",
                error=f"ntfy topic {one_line(message.destination, 80)!r} is invalid: "
                "1 to 64 letters, digits, '-' or '_'",
            )
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        delivery, body = self.http.exchange(self.url, orjson.dumps(publication(message)), headers, now)
        return explain(delivery, body, server=self.url)


def explain(delivery: Delivery, body: bytes, *, server: str) -> Delivery:
    """GuardedHttp's outcome (429 and 5xx retry, other refusals are dead) with ntfy's own words: its
    error code and text, or on success its message id. ntfy's 429 carries no Retry-After, so a
    throttled message waits the sender's usual backoff."""
    if delivery.outcome == "delivered":
        return replace(delivery, provider_ref=_message_id(body))
    found = _ntfy_error(body) if delivery.status_code is not None else None
    if found is None:  # refused by the guard, no answer, or not ntfy's error shape: GuardedHttp said why
        return replace(delivery, error=f"ntfy: {delivery.error}")
    code, text = found
    hint = HINTS.get(delivery.status_code or 0)
    where = f"HTTP {delivery.status_code} from {display(server)}"
    return replace(delivery, error=f"ntfy {code}: {text}" + (f" — {hint}" if hint else "") + f" ({where})")
