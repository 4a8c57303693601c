"""The webhook signature, Stripe-style: ``Commandpost-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>``.

The HMAC key is ``webhook_signing_secret``; the signed bytes are ``f"{t}."`` followed by the exact
request body. A receiver recomputes it, compares in constant time, and refuses a timestamp more
than ``tolerance`` seconds from its own clock, so a captured request cannot be replayed later.
Several ``v1=`` entries may appear (while a secret is being rotated); any one matching is enough.
Pure functions: receivers can copy this module, and tests use it to check what the sender sent.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

HEADER = "Commandpost-Signature"
SCHEME = "v1"


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The header value for ``body`` sent at ``timestamp`` (unix seconds)."""
    return f"t={timestamp},{SCHEME}={_digest(secret, timestamp, body)}"


def verify_signature(
    secret: str, header: str | None, body: bytes | str, now: datetime | float, tolerance: float = 300
) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and its timestamp is within ``tolerance`` of now.

    ``now`` is a datetime or unix seconds. False for a missing or malformed header, a wrong
    signature, or a timestamp too old or too far in the future (skew or replay).
    """
    if not header or not secret:
        return False
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == SCHEME and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    current = now.timestamp() if isinstance(now, datetime) else float(now)
    if abs(current - timestamp) > tolerance:
        return False
    raw = body.encode() if isinstance(body, str) else body
    expected = _digest(secret, timestamp, raw)
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)
