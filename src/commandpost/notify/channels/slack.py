"""Slack incoming webhooks: a Block Kit message (header, the body, context, links)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from commandpost.notify.channels.base import Outbound, one_line
from commandpost.notify.channels.http import GuardedHttp
from commandpost.notify.rules import Delivery

HEADER_LIMIT = 150  # Slack's limit for a header block's text
SECTION_LIMIT = 3000  # and for a section's text
LINKS = (
    ("ack_url", "Acknowledge"),
    ("url", "Open incident"),
    ("runbook_url", "Runbook"),
    ("escalate_url", "Escalate"),
)
"""Buttons, first things first. Acknowledge and Escalate are the page's one-tap links (a page opens
the confirmation page in the browser; the ack happens when its button is pressed)."""


def escape(text: str) -> str:
    """Slack mrkdwn treats &, < and > as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def blocks(message: Outbound) -> dict[str, Any]:
    """The Block Kit body. ``text`` is the fallback Slack shows in notifications."""
    header = one_line(message.subject, HEADER_LIMIT)
    if message.severity and message.severity not in header:
        header = one_line(f"[{message.severity}] {header}", HEADER_LIMIT)
    context = [f"*{message.severity}*" if message.severity else "commandpost"]
    incident = message.payload.get("incident") or (
        f"incident {message.incident_id}" if message.incident_id is not None else None
    )
    if incident:
        context.append(escape(str(incident)))
    if message.person:
        context.append(f"for @{escape(message.person)}")
    body: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": escape(message.body)[:SECTION_LIMIT] or " "}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]},
    ]
    buttons = [
        {"type": "button", "text": {"type": "plain_text", "text": label}, "url": str(message.payload[name])}
        for name, label in LINKS
        if isinstance(message.payload.get(name), str)
        and message.payload[name].startswith(("https://", "http://"))
    ]
    if buttons:
        body.append({"type": "actions", "elements": buttons})
    return {"text": header, "blocks": body}


class SlackChannel:
    def __init__(self, http: GuardedHttp) -> None:
        self.http = http

    def send(self, message: Outbound, now: datetime) -> Delivery:
        content = orjson.dumps(blocks(message))
        return self.http.post(message.destination, content, {"Content-Type": "application/json"}, now)
