"""Slack's Web API through the official ``slack_sdk.WebClient``, and what a failed call means for the
processor's backoff: try again (429 with its ``Retry-After``, 5xx, ``ratelimited``, a timeout or a
refused connection) or give up (every other ``ok: false``: Slack said no and will say it again).

The client retries nothing itself (``retry_handlers=[]``): its built-in handlers sleep, and a sleeping
engine thread would hold up every other incident's channel. The row's ``next_attempt_at`` waits instead.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from commandpost.settings import Settings

TIMEOUT_SECONDS = 10
"""One call's limit: a hanging Slack costs a worker thread this long, never the engine's pass."""
RETRY_ERRORS = frozenset(
    {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
"""``ok: false`` codes that say "not now" rather than "no" (Slack's common error list)."""
MAX_RETRY_AFTER = 3600.0


def enabled(settings: Settings) -> bool:
    """Slack is on when the bot token is set."""
    return bool(settings.slack_bot_token.get_secret_value())


def web_client(settings: Settings) -> WebClient:
    """The one client of a process (it holds no connection between calls)."""
    base = settings.slack_api_url if settings.slack_api_url.endswith("/") else settings.slack_api_url + "/"
    return WebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=base,
        timeout=TIMEOUT_SECONDS,
        retry_handlers=[],
    )


@dataclass
class SlackFailure(Exception):
    """A call that did not succeed: Slack's error code (or the transport's), whether trying again can
    help, and Slack's ``Retry-After`` in seconds when it sent one."""

    method: str
    error: str
    retry: bool
    retry_after: float | None = None

    def __str__(self) -> str:
        wait = f", retry after {self.retry_after:g}s" if self.retry_after is not None else ""
        return f"{self.method}: {self.error}{wait}"


def _retry_after(headers: dict[str, Any]) -> float | None:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return None if seconds is None or seconds < 0 else min(seconds, MAX_RETRY_AFTER)


def classify(method: str, exc: Exception) -> SlackFailure:
    """What ``exc`` raised by ``method`` means for the next try."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        status = int(response.status_code or 0)
        data = response.data if isinstance(response.data, dict) else {}
        error = str(data.get("error") or f"HTTP {status}")[:200]
        wait = _retry_after(dict(response.headers or {})) if status == 429 else None
        retry = status == 429 or status >= 500 or error in RETRY_ERRORS
        return SlackFailure(method, error, retry, wait)
    if isinstance(exc, TimeoutError | socket.timeout):
        return SlackFailure(method, "timed out", True)
    if isinstance(exc, URLError | ConnectionError | OSError):
        reason = getattr(exc, "reason", exc)
        return SlackFailure(method, f"unreachable: {reason}"[:200], True)
    if isinstance(exc, SlackRequestError):
        return SlackFailure(method, f"bad request: {exc}"[:200], False)
    raise exc


def call(method: str, fn: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
    """``fn(**kwargs)`` (a ``WebClient`` method named ``method``), its answer as a dict, or
    :class:`SlackFailure`."""
    try:
        response = fn(**kwargs)
    except Exception as exc:
        raise classify(method, exc) from exc
    data = response.data
    return data if isinstance(data, dict) else {}
