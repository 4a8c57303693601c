"""The ``slack`` method as a DM by the app's bot: ``chat.postMessage`` with ``channel`` = the member id.

Why a DM and not the person's incoming webhook: the DM's **Acknowledge** and **Escalate** are Block Kit
buttons (``action_id`` ``ack`` / ``escalate``, value ``INC-n``) that the Slack app answers itself
(``commandpost.slack``: it acts as the member who pressed and updates this message in place), so acting
on a page needs no browser. **Open** links to the incident. The signed one-tap links ride along as the
fallback text and a context line, for a client where the app's buttons do not answer.

The member is ``contact.slack_user``, else the member ``users.lookupByEmail`` finds for the person's
email — kept for an hour (a miss for five minutes) by the send's own ``now``, so a page costs Slack
one call, not two. No member for the email: the caller posts to the webhook instead.

Through the official ``slack_sdk`` WebClient at ``settings.slack_api_url`` with ``retry_handlers=[]``:
its handlers sleep, and a sender thread must not; the outbox waits instead. What Slack answers maps as
for the other channels: 429 → retry no sooner than its ``Retry-After``; 5xx, a timeout, no connection
→ retry; any other ``ok: false`` → dead, with Slack's code and what to fix (never the token).
"""

from __future__ import annotations

import logging
import re
import threading
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from commandpost.notify.channels.base import Outbound, one_line
from commandpost.notify.channels.slack import blocks, escape, link
from commandpost.notify.rules import Delivery, parse_retry_after
from commandpost.settings import Settings

log = logging.getLogger("commandpost.notify")

KEEP = timedelta(hours=1)
KEEP_MISS = timedelta(minutes=5)
INCIDENT = re.compile(r"INC-[1-9][0-9]{0,17}")
URL_LIMIT = 3000  # Slack's limit for a button's url
RETRY_ERRORS = frozenset(
    {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
"""``ok: false`` codes that say "not now" rather than "no" (Slack's common error list)."""
TOKEN_FIX = "Slack refused the bot token: set COMMANDPOST_SLACK_BOT_TOKEN to the app's Bot User OAuth Token"
HINTS = {
    "user_not_found": "Slack has no member {member}: check contact.slack_user of @{person}",
    "channel_not_found": "Slack has no member {member} to DM: check contact.slack_user of @{person}",
    "user_disabled": "{member} is deactivated in Slack: update contact.slack_user of @{person}",
    "cannot_dm_bot": "{member} is a bot: contact.slack_user of @{person} must name a person",
    "not_authed": TOKEN_FIX,
    "invalid_auth": TOKEN_FIX,
    "token_revoked": TOKEN_FIX,
    "token_expired": TOKEN_FIX,
    "account_inactive": "the bot's app or workspace is deactivated: reinstall the Slack app and set "
    "COMMANDPOST_SLACK_BOT_TOKEN",
    "missing_scope": "the Slack app lacks a scope (chat:write; users:read.email to find people by email): "
    "reinstall it from 'commandpost slack manifest'",
}


def web_client(settings: Settings) -> WebClient:
    base = settings.slack_api_url if settings.slack_api_url.endswith("/") else settings.slack_api_url + "/"
    return WebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=base,
        timeout=int(max(1.0, settings.notify_timeout_seconds)),
        retry_handlers=[],
    )


def incident_number(message: Outbound) -> str | None:
    """``INC-n`` when the message is a page of an incident: the value its buttons carry."""
    number = message.payload.get("incident")
    if message.payload.get("kind") == "page" and isinstance(number, str) and INCIDENT.fullmatch(number):
        return number
    return None


def _url(value: object) -> str | None:
    if isinstance(value, str) and value.startswith(("https://", "http://")) and len(value) <= URL_LIMIT:
        return value
    return None


def dm(message: Outbound) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) of the DM. A page of an incident gets the app's buttons and its signed
    links beneath; anything else (a notice, a test page) is the webhook's message, link buttons and all."""
    doc = blocks(message)
    number = incident_number(message)
    if number is None:
        return doc["text"], doc["blocks"]
    buttons: list[dict[str, Any]] = [
        {
            "type": "button",
            "action_id": "ack",
            "text": {"type": "plain_text", "text": "Acknowledge"},
            "value": number,
            "style": "primary",
        },
        {
            "type": "button",
            "action_id": "escalate",
            "text": {"type": "plain_text", "text": "Escalate"},
            "value": number,
            "style": "danger",
        },
    ]
    if url := _url(message.payload.get("url")):
        label = {"type": "plain_text", "text": "Open"}
        buttons.append({"type": "button", "action_id": "open", "text": label, "url": url})
    kept = [block for block in doc["blocks"] if block["type"] != "actions"]
    kept.append({"type": "actions", "block_id": f"page-{number}", "elements": buttons})
    signed = [
        (label, url)
        for name, label in (("ack_url", "Acknowledge"), ("escalate_url", "Escalate"))
        if (url := _url(message.payload.get(name)))
    ]
    text = doc["text"]
    if signed:
        links = " · ".join(link(url, label) for label, url in signed)
        kept.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Buttons not answering? {links}"}]}
        )
        text += "".join(f"\n{label}: {escape(url)}" for label, url in signed)
    return text, kept


def _code(exc: SlackApiError) -> str:
    """Slack's error code, as its word only (the answer's other text can be anything)."""
    data = exc.response.data if isinstance(exc.response.data, dict) else {}
    error = data.get("error")
    code = re.sub(r"[^a-z0-9_.]", "", error)[:60] if isinstance(error, str) else ""
    status = int(exc.response.status_code or 0)
    return code if code and status < 500 else f"HTTP {status}"


def explain(method: str, exc: Exception, now: datetime, *, member: str, person: str) -> Delivery:
    """What a failed call means for the outbox: retry (with Slack's Retry-After) or dead, and why."""
    if isinstance(exc, SlackApiError):
        status = int(exc.response.status_code or 0)
        code = _code(exc)
        if status == 429 or status >= 500 or code in RETRY_ERRORS:
            headers = {k.lower(): v for k, v in dict(exc.response.headers or {}).items()}
            wait = parse_retry_after(str(headers.get("retry-after") or ""), now) if status == 429 else None
            return Delivery("retry", status_code=status, error=f"Slack {method}: {code}", retry_after=wait)
        hint = HINTS.get(code)
        fix = f" — {hint.format(member=member, person=person)}" if hint else ""
        return Delivery("dead", status_code=status, error=f"Slack {method}: {code}{fix}")
    if isinstance(exc, TimeoutError):
        return Delivery("retry", error=f"Slack {method}: no answer in time")
    if isinstance(exc, OSError):  # refused, unreachable, DNS (urllib's URLError is one)
        reason = getattr(exc, "reason", exc)
        return Delivery("retry", error=one_line(f"Slack {method}: unreachable: {reason}", 300))
    return Delivery("dead", error=one_line(f"Slack {method}: {type(exc).__name__}: {exc}", 300))


class SlackDm:
    """Sends a message as the bot's DM to a member; one per process (the client holds no connection)."""

    def __init__(self, client: WebClient) -> None:
        self.client = client
        self._members: dict[str, tuple[str | None, datetime]] = {}
        self._lock = threading.Lock()

    def send(self, message: Outbound, member: str, now: datetime) -> Delivery | None:
        """The DM's outcome, or None when ``member`` is an email no Slack member has."""
        person = message.person or "?"
        found: str | Delivery | None = member if "@" not in member else self._member(member, now, person)
        if not isinstance(found, str):
            return found
        text, body = dm(message)
        try:
            answer = self.client.chat_postMessage(channel=found, text=text, blocks=body, unfurl_links=False)
        except (SlackClientError, OSError) as exc:
            return explain("chat.postMessage", exc, now, member=found, person=person)
        channel, ts = answer.get("channel"), answer.get("ts")
        ref = f"{channel}/{ts}" if isinstance(channel, str) and isinstance(ts, str) else None
        return Delivery("delivered", status_code=answer.status_code, provider_ref=ref)

    def _member(self, email: str, now: datetime, person: str) -> str | Delivery | None:
        key = email.lower()
        with self._lock:
            kept = self._members.get(key)
        if kept is not None and kept[1] > now:
            return kept[0]
        try:
            answer = self.client.users_lookupByEmail(email=email)
            user = answer.get("user")
            found = user.get("id") if isinstance(user, dict) else None
            member = found if isinstance(found, str) and found else None
        except SlackApiError as exc:
            if _code(exc) != "users_not_found":
                return explain("users.lookupByEmail", exc, now, member=email, person=person)
            member = None
        except (SlackClientError, OSError) as exc:
            return explain("users.lookupByEmail", exc, now, member=email, person=person)
        with self._lock:
            self._members[key] = (member, now + (KEEP if member else KEEP_MISS))
        if member is None:
            log.info("notify: no Slack member has the email of @%s; the webhook instead", person)
        return member
