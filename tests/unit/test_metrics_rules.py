"""Pure metric arithmetic: the guide's worked numbers exactly, burn-rate conditions at their edges,
window decomposition, nearest rank, DST-exact local windows, 12-hour blocks, the check warning."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from commandpost.clock import EARLIEST
from commandpost.errors import ValidationFailed
from commandpost.metrics import rules
from commandpost.policy.loader import load_ops
from commandpost.policy.opsfiles import SLO, Service, Severity
from tests.conftest import EXAMPLE_OPS

JUNE = datetime(2026, 6, 24, 3, 0, tzinfo=UTC)


def test_the_two_worked_numbers_are_exact() -> None:
    assert rules.allowed_downtime(99.9, "30d", JUNE) == timedelta(minutes=43.2) == timedelta(seconds=2592)
    q1 = datetime(2026, 2, 10, tzinfo=UTC)  # Jan+Feb+Mar 2026 = 90 days
    assert rules.allowed_downtime(99.99, "quarter", q1) == timedelta(seconds=777.6)  # 12.96 min
    assert rules.minutes(rules.allowed_downtime(99.99, "quarter", q1)) == "12.96 min"
    assert rules.allowed_downtime(99.99, "quarter", JUNE) == timedelta(seconds=786.24)  # Q2: 91 days, 13.104
    assert rules.allowed_downtime(99.99, "quarter", datetime(2026, 8, 1, tzinfo=UTC)) == timedelta(
        seconds=794.88
    )
    assert rules.allowed_downtime(99.99, "quarter", datetime(2028, 1, 5, tzinfo=UTC)) == timedelta(
        seconds=786.24
    )
    assert rules.minutes(timedelta(minutes=43.2)) == "43.2 min"


def test_objectives_are_decimals_not_floats() -> None:
    assert rules.error_fraction(99.9) == Fraction(1, 1000)
    assert rules.error_fraction(99.99) == Fraction(1, 10000)
    assert rules.error_fraction(99.95) == Fraction(1, 2000)
    assert rules.burn_rate(99.9, 144, 10_000) == Fraction(72, 5)  # exactly 14.4
    assert rules.burn_rate(99.9, 0, 0) is None


def test_quarters_and_windows() -> None:
    assert rules.quarter_bounds(JUNE) == (datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))
    assert rules.quarter_bounds(datetime(2026, 12, 31, 23, 59, tzinfo=UTC))[1] == datetime(
        2027, 1, 1, tzinfo=UTC
    )
    window = rules.slo_window("30d", datetime(2026, 6, 24, 3, 0, 30, tzinfo=UTC))
    assert window.end == rules.epoch(datetime(2026, 6, 24, 3, 1, tzinfo=UTC))  # the current minute counts
    assert window.end - window.start == window.length == 30 * 86400
    quarter = rules.slo_window("quarter", JUNE)
    assert quarter.start == rules.epoch(datetime(2026, 4, 1, tzinfo=UTC)) and quarter.length == 91 * 86400
    assert rules.burn_window("5m", JUNE).start == rules.epoch(JUNE) - 240


@pytest.mark.parametrize(
    ("burn", "fired"),
    [
        ({"1h": Fraction(144, 10), "5m": Fraction(100)}, []),  # exactly 14.4 is not "more than"
        ({"1h": Fraction(1441, 100), "5m": Fraction(1441, 100)}, ["page_1h"]),
        ({"1h": Fraction(20), "5m": Fraction(14)}, []),  # the short window says it already stopped
        ({"6h": Fraction(7), "30m": Fraction(7), "3d": Fraction(1, 2)}, ["page_6h"]),
        ({"3d": Fraction(11, 10), "6h": Fraction(11, 10)}, ["ticket_3d"]),
        ({"3d": Fraction(11, 10), "6h": None}, []),
    ],
)
def test_multiwindow_conditions(burn: dict[str, Fraction | None], fired: list[str]) -> None:
    full = {"5m": None, "30m": None, "1h": None, "6h": None, "3d": None} | burn
    assert [c.name for c in rules.firing(full)] == fired


def test_decompose_covers_the_range_with_the_fewest_buckets() -> None:
    day, hour = 86400, 3600
    lo, hi = 5 * day - 3 * hour - 120, 9 * day + 2 * hour + 300
    pieces = rules.decompose(lo, hi)
    assert pieces == [
        (60, lo, 5 * day - 3 * hour),
        (hour, 5 * day - 3 * hour, 5 * day),
        (day, 5 * day, 9 * day),
        (hour, 9 * day, 9 * day + 2 * hour),
        (60, 9 * day + 2 * hour, hi),
    ]
    assert rules.decompose(600, 900) == [(60, 600, 900)]
    assert rules.decompose(0, 0) == []


@pytest.mark.parametrize(
    ("n", "median", "p90"), [(1, 1, 1), (2, 1, 2), (5, 3, 5), (10, 5, 9), (11, 6, 10), (70, 35, 63)]
)
def test_nearest_rank(n: int, median: int, p90: int) -> None:
    assert (rules.nearest_rank(50, n), rules.nearest_rank(90, n)) == (median, p90)


def test_budgets() -> None:
    events = rules.event_budget(99.9, good=99_950, total=100_000)
    assert (events.allowed, events.consumed, events.remaining_ratio) == (100, 50, Fraction(1, 2))
    assert not events.exhausted
    assert rules.event_budget(99.9, good=99_900, total=100_000).exhausted  # exactly the whole allowance
    assert not rules.event_budget(99.9, good=0, total=0).exhausted  # no data is not a freeze
    window = rules.slo_window("30d", JUNE)
    spent = rules.time_budget(99.9, window, 2592)
    assert spent.exhausted and spent.to_dict()["remaining_percent"] == 0.0


def test_period_defaults_and_refusals() -> None:
    assert rules.period(None, None, JUNE, timedelta(days=30)) == (JUNE - timedelta(days=30), JUNE)
    start, end = rules.period(datetime(2026, 6, 1), None, JUNE, timedelta(days=30))
    assert start == datetime(2026, 6, 1, tzinfo=UTC) and end == JUNE
    with pytest.raises(ValidationFailed, match="must be before"):
        rules.period(JUNE, JUNE, JUNE, timedelta(days=1))
    with pytest.raises(ValidationFailed, match="at least a minute"):
        rules.period(JUNE - timedelta(seconds=59), JUNE, JUNE, timedelta(days=1))
    with pytest.raises(ValidationFailed, match="before 1970"):
        rules.period(datetime(1969, 12, 31, tzinfo=UTC), None, JUNE, timedelta(days=1))
    # a default period reaching back past 1970 starts there instead of overflowing
    assert rules.period(None, datetime(1970, 1, 2, tzinfo=UTC), JUNE, timedelta(days=90))[0] == EARLIEST


def test_sleep_windows_follow_each_days_offset_across_dst() -> None:
    # New York springs forward on Sunday 2026-03-08: 22:00 EST is 03:00 UTC, 22:00 EDT is 02:00 UTC.
    start, end = datetime(2026, 3, 6, 12, tzinfo=UTC), datetime(2026, 3, 9, 12, tzinfo=UTC)
    windows = rules.local_windows("America/New_York", start, end, time(22), time(7))
    iso = [
        (datetime.fromtimestamp(a, UTC).isoformat(), datetime.fromtimestamp(b, UTC).isoformat())
        for a, b in windows
    ]
    assert iso == [
        ("2026-03-07T03:00:00+00:00", "2026-03-07T12:00:00+00:00"),
        ("2026-03-08T03:00:00+00:00", "2026-03-08T11:00:00+00:00"),  # the short night
        ("2026-03-09T02:00:00+00:00", "2026-03-09T11:00:00+00:00"),
    ]
    weekdays = rules.local_windows("Asia/Tokyo", start, end, time(9), time(18), days=range(5))
    assert [datetime.fromtimestamp(a, UTC).day for a, _ in weekdays] == [9]  # Friday 09–18 JST ended


def test_blocks_are_twelve_hours_from_each_stretch_start() -> None:
    h = 3600
    assert rules.blocks([(0, 30 * h), (30 * h, 40 * h)], 0, 100 * h) == [
        (0, 12 * h),
        (12 * h, 24 * h),
        (24 * h, 36 * h),
        (36 * h, 40 * h),
    ]
    assert rules.blocks([(0, 30 * h)], 5 * h, 20 * h) == [(5 * h, 12 * h), (12 * h, 20 * h)]


def _severities() -> dict[str, Severity]:
    return {
        name: Severity(name=name, definition="x", response_target=target, paging=paging)
        for name, target, paging in (
            ("SEV1", timedelta(minutes=5), True),
            ("SEV2", timedelta(minutes=15), True),
            ("SEV3", timedelta(hours=4), False),
            ("SEV4", timedelta(days=1), False),
        )
    }


def test_response_fit_warns_only_when_a_paging_sev_cannot_fit() -> None:
    def service(*slos: SLO) -> Service:
        return Service(name="payments", owner="payments", slos=list(slos))

    fits = service(SLO(name="availability", objective=99.9, window="30d"))
    assert rules.response_fit_warnings(fits, _severities()) == []
    tight = service(
        SLO(name="charges", objective=99.99, window="quarter", sli="correctness"),
        SLO(name="availability", objective=99.99, window="quarter"),
    )
    found = rules.response_fit_warnings(tight, _severities())
    assert [keys for keys, _ in found] == [("slos", 1, "objective"), ("slos", 1, "objective")]
    assert found[0][1] == (
        "SLO 'availability' (99.99 % per quarter) allows 12.96 min of downtime, but a SEV1 page's response "
        "target 5m plus a typical mitigation of 15m is 20 min: one SEV1 incident spends the whole budget "
        "(guide §2: derive response targets from the SLO)"
    )
    assert "SEV2 page's response target 15m" in found[1][1]
    assert rules.response_fit_warnings(tight, None) == []


def test_check_warns_on_the_service_file(tmp_path: Path) -> None:
    folder = tmp_path / "ops"
    folder.mkdir()
    for path in EXAMPLE_OPS.rglob("*"):
        if path.is_file():
            target = folder / path.relative_to(EXAMPLE_OPS)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    service_file = folder / "services" / "payment-platform.yaml"
    data = yaml.safe_load(service_file.read_text())
    data["slos"][0]["objective"] = 99.99
    data["slos"][0]["window"] = "quarter"
    service_file.write_text(yaml.safe_dump(data, sort_keys=False))
    assert load_ops(EXAMPLE_OPS).warnings == []
    result = load_ops(folder)
    assert result.errors == []
    assert [(w.path, w.line) for w in result.warnings] == [("services/payment-platform.yaml", 7)] * 2
    assert "one SEV2 incident spends the whole budget" in result.warnings[1].message
