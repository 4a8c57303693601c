"""Is this request from Slack? ``X-Slack-Signature`` over the raw body, within 5 minutes of our clock.

slack_sdk's :class:`SignatureVerifier` does the HMAC; the checks before it exist to say *what* was
wrong (absent, not a number, too old) instead of one bare "invalid". The timestamp is compared with
the app's injected clock, so tests move time instead of sleeping, and a replay is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from slack_sdk.signature import Clock, SignatureVerifier

from commandpost.errors import BadRequest, NotFound, PayloadTooLarge, Unauthorized

MAX_BODY = 64 * 1024
"""Slack's own payloads stay far below this; anything larger is not Slack."""
MAX_SKEW_SECONDS = 300


class _At(Clock):
    def __init__(self, now: datetime) -> None:
        self._now = now.timestamp()

    def now(self) -> float:
        return self._now


def check(*, body: bytes, headers: Mapping[str, str], secret: str, now: datetime) -> None:
    """Return when the request is Slack's; else raise (404 Slack off, 413 too large, 401 not signed,
    400 a body that is not UTF-8, which Slack never sends and the verifier cannot read)."""
    if not secret:
        raise NotFound(
            "Slack is not set up here: set COMMANDPOST_SLACK_SIGNING_SECRET and COMMANDPOST_SLACK_BOT_TOKEN"
        )
    if len(body) > MAX_BODY:
        raise PayloadTooLarge(f"the request body is {len(body)} bytes; Slack sends at most {MAX_BODY}")
    stamp = headers.get("x-slack-request-timestamp")
    signature = headers.get("x-slack-signature")
    if not stamp or not signature:
        raise Unauthorized(
            "not signed by Slack: X-Slack-Signature and X-Slack-Request-Timestamp are required"
        )
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise Unauthorized("X-Slack-Request-Timestamp must be Unix seconds")
    skew = now.timestamp() - int(stamp)
    if abs(skew) > MAX_SKEW_SECONDS:
        raise Unauthorized(
            f"X-Slack-Request-Timestamp is {abs(int(skew))} s {'old' if skew > 0 else 'ahead'}; "
            f"requests more than {MAX_SKEW_SECONDS // 60} minutes off are refused (a replay?)"
        )
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the request body is not UTF-8; Slack sends UTF-8") from None
    if not SignatureVerifier(secret, clock=_At(now)).is_valid(body, stamp, signature):
        raise Unauthorized("X-Slack-Signature does not match the body: not signed with this app's secret")
