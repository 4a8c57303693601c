"""The ``slack`` method: a DM by the app's bot when it can (slack_dm.py), else the incoming webhook —
a Block Kit message (header, the body, context, link buttons) either way.

The destination says where (``policy.opsfiles.slack_parts``): a person in Slack (``slack:`` a member id
or email, then their webhook if any), or a webhook URL alone (a team's channel). With the bot token
set, a person is sent a DM; without it, or when no member has their email, their webhook gets the
message as before. A person with neither a webhook nor a bot to DM them gets a dead letter saying why.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from commandpost.notify.channels.base import Outbound, clean, one_line
from commandpost.notify.channels.http import GuardedHttp
from commandpost.notify.rules import Delivery
from commandpost.policy.opsfiles import slack_parts

if TYPE_CHECKING:
    from commandpost.notify.channels.slack_dm import SlackDm

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


def link(url: str, label: str) -> str:
    """A mrkdwn link, or the escaped label alone when the URL could break out of ``<…|…>``."""
    if any(c in url for c in "<>| \n"):
        return escape(label)
    return f"<{url.replace('&', '&amp;')}|{escape(label)}>"


def blocks(message: Outbound) -> dict[str, Any]:
    """The Block Kit body. ``text`` is the fallback Slack shows in notifications."""
    header = one_line(clean(message.subject), HEADER_LIMIT)
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
    text = escape(clean(message.body))[:SECTION_LIMIT] or " "
    body: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
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
    return {"text": escape(header), "blocks": body}


class SlackChannel:
    def __init__(self, http: GuardedHttp, dm: SlackDm | None = None) -> None:
        self.http = http
        self.dm = dm
        """None: no bot token, so people get their webhook."""

    def send(self, message: Outbound, now: datetime) -> Delivery:
        member, webhook = slack_parts(message.destination)
        if member is not None and self.dm is not None:
            sent = self.dm.send(message, member, now)
            if sent is not None:
                return sent
        if webhook is None:
            return Delivery("dead", error=self._nowhere(member))
        content = orjson.dumps(blocks(message))
        return self.http.post(webhook, content, {"Content-Type": "application/json"}, now)

    def _nowhere(self, member: str | None) -> str:
        if member is None:
            return "no Slack destination"
        if self.dm is None:
            return (
                f"a Slack DM to {member} needs the app's bot token (COMMANDPOST_SLACK_BOT_TOKEN); "
                "without it, contact.slack_webhook is used"
            )
        return f"no Slack member has the email {member}: set contact.slack_user (U…)"
