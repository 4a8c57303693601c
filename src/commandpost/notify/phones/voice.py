"""The ``voice`` channel: a call that reads the page and takes a keypress (1 ack, 2 escalate, 3 repeat).

The keypress comes back to our hook with the page's ack token in the URL (``?t=<token>``): the
token says which page and whose, and the provider's signature on the callback says it came from
the call we placed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from commandpost.notify.channels.base import Outbound, one_line
from commandpost.notify.phones.base import Failover, VoiceScript, delivery
from commandpost.notify.rules import Delivery

PROMPT = "Press 1 to acknowledge, 2 to escalate, 3 to repeat."
SPOKEN_LIMIT = 600
"""Characters read aloud from the page (Vonage's talk action takes 1500; nobody listens to more)."""


def ack_token(payload: Mapping[str, Any]) -> str | None:
    """The token of the page's ack link (its last path segment), None for a message with no link."""
    url = payload.get("ack_url")
    if not isinstance(url, str):
        return None
    token = urlsplit(url).path.rsplit("/", 1)[-1]
    return token or None


def spoken(severity: str | None, subject: str, payload: Mapping[str, Any]) -> str:
    """The page as read aloud: severity, incident, service, title, first move."""
    incident = payload.get("incident")
    parts = [
        "This is commandpost.",
        f"{severity or ''} incident {incident}." if incident else f"{severity or ''} notice.",
        f"Service {payload['service']}." if payload.get("service") else "",
        one_line(str(payload.get("title") or subject), 300) + ".",
        f"First move: {one_line(str(payload['first_move']), 300)}." if payload.get("first_move") else "",
    ]
    return one_line(" ".join(p for p in parts if p), SPOKEN_LIMIT)


def script(severity: str | None, subject: str, payload: Mapping[str, Any]) -> VoiceScript:
    token = ack_token(payload)
    return VoiceScript(spoken(severity, subject, payload), PROMPT if token else "", token)


class VoiceChannel:
    """Calls through the providers' failover; the person's phone number is the destination."""

    def __init__(self, providers: Failover) -> None:
        self.providers = providers

    def send(self, message: Outbound, now: datetime) -> Delivery:
        call = script(message.severity, message.subject, message.payload)
        return delivery(self.providers.call(message.destination, call))
