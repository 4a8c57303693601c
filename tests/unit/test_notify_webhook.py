"""The webhook signature: what a receiver checks (signature, clock skew, replay of an old request)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from commandpost.notify.signing import sign, verify_signature

SECRET = "whsec_test"
BODY = b'{"type":"commandpost.notification","id":1}'
NOW = datetime(2026, 6, 24, 3, 0, tzinfo=UTC)
T = int(NOW.timestamp())


def test_the_header_is_stripe_style_and_recomputable_by_hand():
    header = sign(SECRET, BODY, T)
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={T},v1={expected}"
    assert verify_signature(SECRET, header, BODY, NOW)
    assert verify_signature(SECRET, header, BODY.decode(), NOW.timestamp())


def test_tampering_and_wrong_secrets_fail():
    header = sign(SECRET, BODY, T)
    assert not verify_signature(SECRET, header, BODY + b" ", NOW)
    assert not verify_signature("other", header, BODY, NOW)
    assert not verify_signature(SECRET, header.replace(f"t={T}", f"t={T + 1}"), BODY, NOW)
    assert not verify_signature("", header, BODY, NOW)


def test_skew_beyond_the_tolerance_fails_both_ways():
    header = sign(SECRET, BODY, T)
    assert verify_signature(SECRET, header, BODY, NOW + timedelta(seconds=300))
    assert not verify_signature(SECRET, header, BODY, NOW + timedelta(seconds=301))  # a replay, later
    assert not verify_signature(SECRET, header, BODY, NOW - timedelta(seconds=301))  # from the future
    assert verify_signature(SECRET, header, BODY, NOW + timedelta(seconds=600), tolerance=900)


def test_malformed_headers_fail_and_any_v1_may_match():
    good = sign(SECRET, BODY, T).split(",")[1]
    for header in (None, "", "v1=abc", f"t={T}", f"t=soon,{good}", "garbage"):
        assert not verify_signature(SECRET, header, BODY, NOW)
    assert verify_signature(SECRET, f"t={T},v1=deadbeef,{good}", BODY, NOW)  # secret rotation
