"""Settings, clock, durations and the error tree's single mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from commandpost import errors
from commandpost.clock import FrozenClock, SystemClock
from commandpost.policy.durations import format_duration, parse_duration
from commandpost.settings import Settings


def test_settings_read_commandpost_env(monkeypatch):
    monkeypatch.setenv("COMMANDPOST_DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("COMMANDPOST_PORT", "9999")
    s = Settings()
    assert s.database_url == "postgresql://u@h/db" and s.port == 9999


def test_system_clock_is_aware_utc():
    now = SystemClock().now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)


def test_frozen_clock_moves_only_when_told():
    clock = FrozenClock(datetime(2026, 6, 24, 3, 0, tzinfo=UTC))
    first = clock.now()
    assert clock.now() == first
    assert clock.advance(minutes=5) == first + timedelta(minutes=5)
    with pytest.raises(ValueError):
        FrozenClock(datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2s", timedelta(seconds=2)),
        ("5m", timedelta(minutes=5)),
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("7d", timedelta(days=7)),
        ("1h30m", timedelta(minutes=90)),
        ("2w", timedelta(weeks=2)),
    ],
)
def test_durations_parse(text, expected):
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


@pytest.mark.parametrize("bad", ["5x", "", "m5", "5", "0m", "-5m", "five minutes"])
def test_bad_durations_say_what_is_accepted(bad):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_error_tree_maps_to_http_and_exit_codes():
    table = {
        errors.BadRequest: (400, 2),
        errors.Unauthorized: (401, 3),
        errors.Forbidden: (403, 3),
        errors.NotFound: (404, 4),
        errors.Conflict: (409, 5),
        errors.InvalidTransition: (409, 5),
        errors.PayloadTooLarge: (413, 2),
        errors.ValidationFailed: (422, 2),
        errors.PolicyInvalid: (422, 1),
        errors.RateLimited: (429, 6),
        errors.Unavailable: (503, 6),
    }
    for cls, (status, code) in table.items():
        assert issubclass(cls, errors.CommandpostError)
        assert (cls.http_status, cls.exit_code) == (status, code)
    assert errors.RateLimited("slow down", retry_after=3).retry_after == 3
    body = errors.NotFound("no INC-9").to_dict()
    assert body == {"error": {"code": "not_found", "message": "no INC-9", "details": None}}
