"""Delivery rules: answer classification, backoff with jitter, Retry-After, pacing, keys, masking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from commandpost.notify import rules
from commandpost.notify.rules import Delivery

NOW = datetime(2026, 6, 24, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, "delivered"),
        (204, "delivered"),
        (301, "dead"),
        (400, "dead"),
        (403, "dead"),
        (404, "dead"),
        (410, "dead"),
        (408, "retry"),
        (425, "retry"),
        (429, "retry"),
        (500, "retry"),
        (502, "retry"),
        (503, "retry"),
    ],
)
def test_http_answers_are_classified(status, outcome):
    assert rules.classify_http(status) == outcome


def test_backoff_doubles_up_to_the_cap_with_equal_jitter():
    lows = [rules.backoff(n, base=5, cap=300, rand=0.0) for n in range(1, 9)]
    highs = [rules.backoff(n, base=5, cap=300, rand=0.999999) for n in range(1, 9)]
    assert lows == [2.5, 5, 10, 20, 40, 80, 150, 150]
    assert [round(h) for h in highs] == [5, 10, 20, 40, 80, 160, 300, 300]
    assert rules.backoff(3, base=5, cap=300, rand=0.5) == 15.0


def test_retry_after_seconds_and_http_date():
    assert rules.parse_retry_after("30", NOW) == 30.0
    assert rules.parse_retry_after(" 0 ", NOW) == 0.0
    assert rules.parse_retry_after("Wed, 24 Jun 2026 03:02:00 GMT", NOW) == 120.0
    assert rules.parse_retry_after("Wed, 24 Jun 2026 02:00:00 GMT", NOW) == 0.0  # in the past: now
    assert rules.parse_retry_after("999999", NOW) == 3600.0  # capped at an hour
    assert rules.parse_retry_after("soon", NOW) is None
    assert rules.parse_retry_after(None, NOW) is None


def test_retry_delay_honours_retry_after_over_backoff():
    told = Delivery("retry", 429, "slow down", retry_after=42.0)
    assert rules.retry_delay(told, 1, base=5, cap=300, rand=0.9) == 42.0
    untold = Delivery("retry", 500, "oops")
    assert rules.retry_delay(untold, 2, base=5, cap=300, rand=0.0) == 5.0


def test_the_last_allowed_retry_becomes_a_dead_letter():
    failing = Delivery("retry", 500)
    assert rules.after_attempt(failing, 9, 10) == "retry"
    assert rules.after_attempt(failing, 10, 10) == "dead"
    assert rules.after_attempt(Delivery("delivered", 200), 10, 10) == "delivered"
    assert rules.after_attempt(Delivery("dead", 404), 1, 10) == "dead"


def test_pacing_slots():
    second = timedelta(seconds=1)
    assert rules.take_slot(None, NOW, second) == (True, NOW + second)
    assert rules.take_slot(NOW - second, NOW, second) == (True, NOW + second)
    assert rules.take_slot(NOW + second / 2, NOW, second) == (False, NOW + second / 2)


def test_late_is_strictly_more_than_the_threshold():
    threshold = timedelta(seconds=30)
    assert not rules.is_late(NOW, NOW + threshold, threshold)
    assert rules.is_late(NOW, NOW + threshold + timedelta(milliseconds=1), threshold)


def test_message_keys_are_readable_and_bounded():
    key = rules.message_key("page", incident=7, level=1, person="yuta", channel="slack", repeat=0)
    assert key == "page/incident=7/level=1/person=yuta/channel=slack/repeat=0"
    long_a = rules.message_key("page", note="a" * 400)
    long_b = rules.message_key("page", note="a" * 399 + "b")
    assert len(long_a) == rules.MAX_KEY_LENGTH and long_a != long_b


def test_webhook_urls_are_masked_for_display():
    url = "https://hooks.slack.com/services/T000/B001/SECRETTOKEN"
    assert rules.mask_destination("slack", url) == "https://hooks.slack.com/…"
    assert rules.mask_destination("webhook", "http://10.0.0.1:8080/x?token=1") == "http://10.0.0.1:8080/…"
    assert rules.mask_destination("email", "yuta@example.com") == "yuta@example.com"
