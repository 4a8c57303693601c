"""Trusting and reading the providers' callbacks: Twilio's ``X-Twilio-Signature``, Vonage's ``sig``
(SMS) and signed JWT (voice), and each provider's delivery states in ``record_receipt``'s words.

Every check is over what the provider itself signed: for Twilio the public URL it was given (never
the Host header, which a proxy rewrites and an attacker chooses), for Vonage the parameters.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import jwt
from twilio.request_validator import RequestValidator

VONAGE_WINDOW = timedelta(minutes=5)
"""How far a signed Vonage callback's timestamp may be from now (Vonage states no window; this stops
replays of an old callback)."""

TWILIO_RECEIPTS = {
    # messages
    "queued": "sent",
    "accepted": "sent",
    "scheduled": "sent",
    "sending": "sent",
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
    # calls: answered is delivered; a call nobody took failed, so the person's next method follows
    "initiated": "sent",
    "ringing": "sent",
    "in-progress": "delivered",
    "completed": "delivered",
    "busy": "failed",
    "no-answer": "failed",
}
VONAGE_RECEIPTS = {
    # SMS delivery receipts
    "accepted": "sent",
    "buffered": "sent",
    "delivered": "delivered",
    "expired": "undelivered",
    "failed": "failed",
    "rejected": "failed",
    # call events
    "started": "sent",
    "ringing": "sent",
    "answered": "delivered",
    "completed": "delivered",
    "busy": "failed",
    "cancelled": "failed",
    "unanswered": "failed",
    "timeout": "failed",
}


def twilio_signed(auth_token: str, url: str, params: Any, signature: str) -> bool:
    """Twilio's own check (the library's RequestValidator) of ``url`` and the form parameters."""
    return bool(auth_token and signature) and RequestValidator(auth_token).validate(url, params, signature)


def vonage_signature(secret: str, method: str, params: Mapping[str, str]) -> str:
    """Vonage's ``sig``: HMAC over ``&name=value`` of every parameter but ``sig``, sorted by name, with
    ``&`` and ``=`` inside values replaced by ``_``; lower-case hex."""
    text = "".join(
        f"&{name}={value.replace('&', '_').replace('=', '_')}"
        for name, value in sorted(params.items())
        if name != "sig"
    )
    return hmac.new(secret.encode(), text.encode(), getattr(hashlib, method)).hexdigest()


def vonage_signed(secret: str, method: str, params: Mapping[str, str], now: datetime) -> bool:
    """A signed SMS callback: ``sig`` matches and ``timestamp`` (Unix seconds) is within the window."""
    sig, stamp = params.get("sig", ""), params.get("timestamp", "")
    if not (secret and sig and stamp.isdigit()):
        return False
    if abs(int(stamp) - now.timestamp()) > VONAGE_WINDOW.total_seconds():
        return False
    return hmac.compare_digest(vonage_signature(secret, method, params), sig.lower())


def vonage_jwt_signed(secret: str, authorization: str, body: bytes, now: datetime) -> bool:
    """A signed voice callback: ``Authorization: Bearer <JWT>`` HS256 with the signature secret, issued
    within the window of ``now``; when it carries ``payload_hash``, that is the body's SHA-256."""
    scheme, _, token = authorization.partition(" ")
    if not secret or scheme.lower() != "bearer" or not token.strip():
        return False
    try:
        claims = jwt.decode(
            token.strip(),
            secret,
            algorithms=["HS256"],
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "require": ["iat"]},
        )
        issued = float(claims["iat"])
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        return False
    if abs(issued - now.timestamp()) > VONAGE_WINDOW.total_seconds():
        return False
    expected = claims.get("payload_hash")
    return expected is None or hmac.compare_digest(str(expected), hashlib.sha256(body).hexdigest())
