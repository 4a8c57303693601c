"""What the inbound side asks Slack's Web API: a member's email (or an email's member), a channel's
name, one message.

Through the official ``slack_sdk`` WebClient, at ``settings.slack_api_url``, with a 2-second timeout:
a slash command must be answered within 3. Emails and channel names are kept for a while (misses for
a minute), so a busy channel costs Slack one lookup, not one per message. Slack unreachable is
answered as "not known", never an error of ours.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from commandpost.settings import Settings

log = logging.getLogger(__name__)
KEEP_SECONDS = 3600.0
KEEP_MISS_SECONDS = 60.0
TIMEOUT_SECONDS = 2


@dataclass(frozen=True)
class Message:
    text: str
    user: str | None


class Directory:
    def __init__(self, client: WebClient) -> None:
        self.client = client
        self._kept: dict[tuple[str, str], tuple[str | None, float]] = {}
        self._lock = threading.Lock()

    def _ask(self, method: str, **args: Any) -> dict[str, Any] | None:
        try:
            return dict(self.client.api_call(method, http_verb="GET", params=args).data)  # type: ignore[arg-type]
        except SlackApiError as exc:
            log.warning("slack %s: %s", method, exc.response.get("error"))
            return {}
        except SlackClientError as exc:
            log.warning("slack %s: %s", method, exc)
            return None

    def _kept_or(self, key: tuple[str, str], ask: Any) -> str | None:
        now = time.monotonic()
        with self._lock:
            known = self._kept.get(key)
        if known is not None and known[1] > now:
            return known[0]
        answer = ask()
        if answer is None:  # unreachable: ask again next time
            return None
        found = answer or None
        with self._lock:
            self._kept[key] = (found, now + (KEEP_SECONDS if found else KEEP_MISS_SECONDS))
        return found

    def email(self, user: str) -> str | None:
        """``users.info`` (scope ``users:read.email``): the member's email, lowercased."""

        def ask() -> str | None:
            data = self._ask("users.info", user=user)
            if data is None:
                return None
            email = ((data.get("user") or {}).get("profile") or {}).get("email")
            return email.strip().lower() if isinstance(email, str) else ""

        return self._kept_or(("email", user), ask)

    def member(self, email: str) -> str | None:
        """``users.lookupByEmail``: the member id of ``email`` (the issue's own mapping, one call each)."""

        def ask() -> str | None:
            data = self._ask("users.lookupByEmail", email=email)
            if data is None:
                return None
            found = (data.get("user") or {}).get("id")
            return found if isinstance(found, str) else ""

        return self._kept_or(("member", email.lower()), ask)

    def channel_name(self, channel: str) -> str | None:
        """``conversations.info``: the channel's name (the incident's ``channel`` column)."""

        def ask() -> str | None:
            data = self._ask("conversations.info", channel=channel)
            if data is None:
                return None
            name = (data.get("channel") or {}).get("name")
            return name if isinstance(name, str) else ""

        return self._kept_or(("channel", channel), ask)

    def message(self, channel: str, ts: str) -> Message | None:
        """The message ``ts`` of ``channel``: ``conversations.history`` (latest=ts, inclusive, limit 1),
        else ``conversations.replies`` for a reply in a thread."""
        for method, args in (
            ("conversations.history", {"latest": ts, "inclusive": "true", "limit": 1}),
            ("conversations.replies", {"ts": ts, "latest": ts, "inclusive": "true", "limit": 1}),
        ):
            data = self._ask(method, channel=channel, **args) or {}
            for found in data.get("messages") or []:
                if isinstance(found, dict) and found.get("ts") == ts and isinstance(found.get("text"), str):
                    user = found.get("user")
                    return Message(found["text"], user if isinstance(user, str) else None)
        return None


@cache
def directory(api_url: str, token: str) -> Directory:
    """One directory per workspace and Web API URL (tests point it at a stand-in)."""
    return Directory(WebClient(token=token, base_url=api_url, timeout=TIMEOUT_SECONDS))


def directory_for(settings: Settings) -> Directory:
    return directory(settings.slack_api_url, settings.slack_bot_token.get_secret_value())
