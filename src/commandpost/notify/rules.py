"""Pure delivery rules: what an HTTP/SMTP answer means, backoff with jitter, Retry-After, pacing, keys.

No I/O and no clock: callers pass ``now`` and a random number, so every rule is tested exactly.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal

from commandpost.notify.ssrf import display
from commandpost.policy.opsfiles import SLACK_MEMBER, slack_parts

Outcome = Literal["delivered", "retry", "dead"]

MAX_KEY_LENGTH = 255
MAX_RETRY_AFTER = timedelta(hours=1)
BUSY_DEFER = timedelta(seconds=1)
"""A destination with slow sends still in flight: its other messages wait this long, then look again."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one attempt came to. ``retry_after`` (seconds) is the far end's Retry-After, if it said one;
    ``provider_ref`` the far end's id for the message, which its delivery callbacks will name."""

    outcome: Outcome
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None
    provider_ref: str | None = None


def classify_http(status: int) -> Outcome:
    """2xx delivered; 408/425/429 and 5xx are worth retrying; any other answer will not change by itself."""
    if 200 <= status < 300:
        return "delivered"
    if status in (408, 425, 429) or status >= 500:
        return "retry"
    return "dead"


def backoff(attempt: int, *, base: float, cap: float, rand: float) -> float:
    """Seconds before attempt ``attempt + 1``: exponential, capped, with "equal jitter".

    Half the step is fixed and half random (``rand`` in [0, 1)), so retries of many messages
    that failed together spread out, yet never come back sooner than half the step.
    """
    step = min(cap, base * 2 ** max(0, attempt - 1))
    return step / 2 + step / 2 * rand


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds from ``now``: delta-seconds or an HTTP-date; None if absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        seconds = float(text)
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - now).total_seconds()
    return max(0.0, min(seconds, MAX_RETRY_AFTER.total_seconds()))


def retry_delay(delivery: Delivery, attempt: int, *, base: float, cap: float, rand: float) -> float:
    """The far end's Retry-After when it gave one (never sooner), else backoff with jitter."""
    if delivery.retry_after is not None:
        return delivery.retry_after
    return backoff(attempt, base=base, cap=cap, rand=rand)


def after_attempt(delivery: Delivery, attempt: int, limit: int) -> Outcome:
    """A retryable failure on the last allowed attempt is a dead letter."""
    if delivery.outcome == "retry" and attempt >= limit:
        return "dead"
    return delivery.outcome


def take_slot(next_free: datetime | None, now: datetime, interval: timedelta) -> tuple[bool, datetime]:
    """Pacing: may a message to this destination go at ``now``, and when is the destination next free."""
    if next_free is not None and next_free > now:
        return False, next_free
    return True, now + interval


def is_late(due_at: datetime, sent_at: datetime, threshold: timedelta) -> bool:
    return sent_at - due_at > threshold


def destination_hash(destination: str) -> str:
    return hashlib.sha256(destination.encode()).hexdigest()


def message_key(kind: str, **parts: object) -> str:
    """A readable idempotency key: ``message_key("page", incident=7, level=1, person="yuta", channel="slack",
    repeat=0)`` → ``page/incident=7/level=1/person=yuta/channel=slack/repeat=0``. Long keys end in a hash."""
    key = "/".join([kind, *(f"{name}={value}" for name, value in parts.items())])
    if len(key) <= MAX_KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{key[: MAX_KEY_LENGTH - 33]}#{digest}"


def mask_destination(channel: str, destination: str) -> str:
    """Webhook URLs are credentials (whoever holds a Slack webhook URL can post): show scheme and host.
    An ntfy topic is one too on an open server (whoever knows it reads the pages); a phone number is
    personal: its last four digits say which one it is. A Slack member (id or email) is no secret."""
    if channel == "slack":
        member, webhook = slack_parts(destination)
        shown = [f"{SLACK_MEMBER}{member}"] if member else []
        return " or ".join(shown + ([display(webhook)] if webhook else []))
    if channel == "webhook":
        return display(destination)
    if channel == "push":
        return destination[:3] + "…"
    if channel in ("sms", "voice"):
        return destination[:3] + "•" * max(0, len(destination) - 7) + destination[-4:]
    return destination
