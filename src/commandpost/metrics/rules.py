"""Pure metric arithmetic (no I/O): SLO windows, error budgets, burn rates and the multiwindow alert
conditions, percentile ranks, and the local-time windows on-call health counts pages in.

Money-grade exactness where it is promised: objectives are read as decimals (``99.9`` is 999/1000,
not the nearest binary float), budgets and burn rates are exact fractions, so 99.9 % over 30 days
is exactly 43.2 minutes and a burn rate of exactly 14.4 does not fire a "> 14.4" condition.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal
from zoneinfo import ZoneInfo

from commandpost.clock import EARLIEST
from commandpost.errors import ValidationFailed
from commandpost.policy.durations import format_duration
from commandpost.policy.opsfiles import SLO, Service, Severity

MINUTE, HOUR, DAY = 60, 3600, 86400
ROLLUP_SIZES = (DAY, HOUR, MINUTE)
"""Bucket lengths of ``slo_rollup``: a window sum takes whole days, then hours, then minutes."""

ROLLING = {"30d": timedelta(days=30), "28d": timedelta(days=28), "7d": timedelta(days=7)}
BURN_WINDOWS: dict[str, int] = {"5m": 300, "30m": 1800, "1h": 3600, "6h": 21600, "3d": 259200}
TYPICAL_MITIGATION = timedelta(minutes=15)
"""What ``commandpost check`` assumes a mitigation takes after the response target (docs/metrics.md)."""
SHORTEST_QUARTER = timedelta(days=90)
SLEEP_START, SLEEP_END = time(22, 0), time(7, 0)
SHIFT_BLOCK = timedelta(hours=12)
PAGES_PER_BLOCK = 2
ONCALL_SHARE_LIMIT = Fraction(1, 4)
ROTATION_MINIMUM = 8
HOURS_PER_INCIDENT = 6.0
MIN_COVERAGE = Fraction(1, 10)
"""An event-based budget reports ``exhausted`` (and freezes its service) only once its counts cover
this share of the SLO window's length, from the first count in the window to the window's end: its
allowance is a share of the events counted, so minutes of counts — all bad — would otherwise
"exhaust" a 30-day budget (docs/metrics.md, "Coverage"). 10 % is 3 days of 30."""
BURN_SEVERITIES = ("SEV1", "SEV2")
"""Incidents of these severities count their impact window as bad time of an availability SLO."""

Kind = Literal["page", "ticket"]


ALERTNAME = "SLOErrorBudgetBurn"
"""The alert name of the engine's own burn-rate alerts (they go through alert intake like any other)."""


def dedup_key(service: str, slo_name: str, condition: str) -> str:
    return f"slo/{service}/{slo_name}/{condition}"


def burn_labels(service: str, slo_name: str, condition: Condition) -> dict[str, str]:
    """The labels of a burn-rate alert: what alert rules match it by (``urgency: page``, ``slo``)."""
    return {
        "service": service,
        "slo": slo_name,
        "condition": condition.name,
        "urgency": condition.kind,
        "long_window": condition.long,
        "short_window": condition.short,
    }


@dataclass(frozen=True)
class Condition:
    """One multiwindow burn-rate alert of the SRE workbook: both windows burn faster than ``factor``."""

    name: str
    kind: Kind
    long: str
    short: str
    factor: Fraction

    def fires(self, burn: Mapping[str, Fraction | None]) -> bool:
        long, short = burn.get(self.long), burn.get(self.short)
        return long is not None and short is not None and long > self.factor and short > self.factor


CONDITIONS: tuple[Condition, ...] = (
    Condition("page_1h", "page", "1h", "5m", Fraction("14.4")),
    Condition("page_6h", "page", "6h", "30m", Fraction(6)),
    Condition("ticket_3d", "ticket", "3d", "6h", Fraction(1)),
)


# ---------------------------------------------------------------- windows


@dataclass(frozen=True)
class Window:
    """An SLO window at an instant: sums run over [start, end) (epoch seconds, whole minutes);
    ``length`` is the window's full length (a calendar quarter's whole length, not the elapsed part)."""

    kind: str
    start: int
    end: int
    length: int


def epoch(at: datetime) -> int:
    return int(at.astimezone(UTC).timestamp() // 1)


def window_end(now: datetime) -> int:
    """The end of every window at ``now``: the end of the current UTC minute (it counts already)."""
    return epoch(now) // MINUTE * MINUTE + MINUTE


def quarter_bounds(at: datetime) -> tuple[datetime, datetime]:
    """The UTC calendar quarter containing ``at``: [1 Jan|Apr|Jul|Oct 00:00, next quarter)."""
    at = at.astimezone(UTC)
    first = 3 * ((at.month - 1) // 3) + 1
    start = datetime(at.year, first, 1, tzinfo=UTC)
    end = datetime(at.year + (first == 10), 1 if first == 10 else first + 3, 1, tzinfo=UTC)
    return start, end


def window_length(window: str, at: datetime) -> timedelta:
    if window == "quarter":
        start, end = quarter_bounds(at)
        return end - start
    return ROLLING[window]


def slo_window(window: str, now: datetime) -> Window:
    end = window_end(now)
    if window == "quarter":
        start, stop = quarter_bounds(now)
        return Window(window, epoch(start), min(end, epoch(stop)), int((stop - start).total_seconds()))
    length = int(ROLLING[window].total_seconds())
    return Window(window, end - length, end, length)


def burn_window(name: str, now: datetime) -> Window:
    end = window_end(now)
    return Window(name, end - BURN_WINDOWS[name], end, BURN_WINDOWS[name])


def decompose(lo: int, hi: int, sizes: Sequence[int] = ROLLUP_SIZES) -> list[tuple[int, int, int]]:
    """[lo, hi) (whole minutes) as ``(size, from, to)`` bucket ranges: whole days, whole hours, minutes."""
    pieces: list[tuple[int, int, int]] = []

    def split(a: int, b: int, level: int) -> None:
        if a >= b:
            return
        size = sizes[level]
        if level == len(sizes) - 1:
            pieces.append((size, a, b))
            return
        first, last = -(-a // size) * size, b // size * size
        if first >= last:
            split(a, b, level + 1)
            return
        pieces.append((size, first, last))
        split(a, first, level + 1)
        split(last, b, level + 1)

    split(lo, hi, 0)
    return sorted(pieces, key=lambda p: (p[1], -p[0]))


MIN_PERIOD = timedelta(minutes=1)


def period(
    start: datetime | None, end: datetime | None, now: datetime, default: timedelta
) -> tuple[datetime, datetime]:
    """[start, end) of a report: ``default`` up to now unless given; a time without an offset is UTC.

    A report starts no earlier than 1970 (nothing is older, and the SQL works in epoch seconds) and
    spans at least :data:`MIN_PERIOD`: shares of a shorter one divide by zero."""
    end = _aware(end) if end else now
    start = _aware(start) if start else end - default if end - EARLIEST > default else EARLIEST
    if start < EARLIEST:
        raise ValidationFailed(
            f"from ({start.isoformat()}) is before 1970: nothing to report", details={"field": "from"}
        )
    if start >= end:
        raise ValidationFailed(
            f"from ({start.isoformat()}) must be before to ({end.isoformat()})", details={"field": "from"}
        )
    if end - start < MIN_PERIOD:
        raise ValidationFailed(
            f"from ({start.isoformat()}) must be at least a minute before to ({end.isoformat()})",
            details={"field": "from"},
        )
    return start, end


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


# ---------------------------------------------------------------- budgets


def error_fraction(objective: float | Decimal | str) -> Fraction:
    """The allowed error as a fraction: 99.9 → 1/1000 (read as a decimal, never as a binary float)."""
    return (100 - Fraction(Decimal(str(objective)))) / 100


def allowed_downtime(objective: float, window: str, at: datetime) -> timedelta:
    """The budget as time of total outage: 99.9 % of 30 d → 43.2 min; 99.99 % of a 90-day quarter →
    12.96 min (91 d: 13.104, 92 d: 13.248)."""
    seconds = error_fraction(objective) * int(window_length(window, at).total_seconds())
    return timedelta(microseconds=round(seconds * 1_000_000))


@dataclass(frozen=True)
class Budget:
    """Allowed, consumed and remaining error over an SLO window, in ``unit`` (events or seconds)."""

    unit: Literal["events", "seconds"]
    allowed: Fraction
    consumed: Fraction
    coverage: Fraction | None = None
    """For an event-based budget: the share of the window its counts cover (None: not measured, as
    for a time-based budget, whose allowance is the whole window whatever happened)."""

    @property
    def remaining(self) -> Fraction:
        return self.allowed - self.consumed

    @property
    def remaining_ratio(self) -> Fraction | None:
        return self.remaining / self.allowed if self.allowed else None

    @property
    def overspent(self) -> bool:
        """Some error happened and it is at least the whole allowance."""
        return self.consumed > 0 and self.consumed >= self.allowed

    @property
    def covered(self) -> bool:
        """Enough of the window is counted to judge the budget (:data:`MIN_COVERAGE`)."""
        return self.coverage is None or self.coverage >= MIN_COVERAGE

    @property
    def exhausted(self) -> bool:
        """Freeze: overspent, on counts that cover enough of the window."""
        return self.overspent and self.covered

    def to_dict(self) -> dict[str, Any]:
        ratio = self.remaining_ratio
        return {
            "unit": self.unit,
            "allowed": float(self.allowed),
            "consumed": float(self.consumed),
            "remaining": float(self.remaining),
            "remaining_percent": None if ratio is None else float(ratio * 100),
            "consumed_percent": None if not self.allowed else float(self.consumed / self.allowed * 100),
            "exhausted": self.exhausted,
        }


def event_budget(objective: float, good: int, total: int, coverage: Fraction | None = None) -> Budget:
    """Request-based: the allowance is a share of the events seen in the window; ``coverage`` (see
    :func:`coverage`) decides whether an overspent budget is exhausted yet."""
    return Budget("events", error_fraction(objective) * total, Fraction(total - good), coverage)


def coverage(window: Window, first: int | None) -> Fraction:
    """The share of ``window``'s length covered by counts whose first minute in it is ``first``
    (epoch seconds; None: no count in the window): from that minute to the window's end."""
    if first is None or first >= window.end:
        return Fraction(0)
    return Fraction(window.end - max(first, window.start), window.length)


def time_budget(objective: float, window: Window, bad_seconds: int) -> Budget:
    """Time-based: the allowance is a share of the window's whole length."""
    return Budget("seconds", error_fraction(objective) * window.length, Fraction(bad_seconds))


def burn_rate(objective: float, bad: int, total: int) -> Fraction | None:
    """How many times faster than "exactly the budget over the window" error is being spent."""
    if total <= 0:
        return None
    return Fraction(bad, total) / error_fraction(objective)


def firing(burn: Mapping[str, Fraction | None]) -> list[Condition]:
    return [c for c in CONDITIONS if c.fires(burn)]


# ---------------------------------------------------------------- response times


def day_split(lo: int, hi: int) -> tuple[tuple[int, int] | None, list[tuple[int, int]]]:
    """[lo, hi) as its whole UTC days (None if there is none) and the partial stretches at its edges."""
    first, last = -(-lo // DAY) * DAY, hi // DAY * DAY
    if first >= last:
        return None, [(lo, hi)] if lo < hi else []
    return (first, last), [(a, b) for a, b in ((lo, first), (last, hi)) if a < b]


def nearest_rank(percent: int, n: int) -> int:
    """The 1-based rank of the ``percent``-th percentile by nearest rank: ceil(percent/100 · n)."""
    return (percent * n + 99) // 100


# ---------------------------------------------------------------- severities vs budgets (guide §2)


def response_fit_warnings(
    service: Service, severities: Mapping[str, Severity] | None, mitigation: timedelta = TYPICAL_MITIGATION
) -> list[tuple[tuple[Any, ...], str]]:
    """For ``commandpost check``: each availability SLO whose allowed downtime a single paging
    incident would use up (its response target plus a typical mitigation), as (YAML keys, message).

    Only availability SLOs have a budget in minutes of downtime; a quarter counts as its shortest
    (90 days), so the warning holds in every quarter.
    """
    out: list[tuple[tuple[Any, ...], str]] = []
    for i, slo in enumerate(service.slos):
        if slo.sli != "availability":
            continue
        allowed = _budget_time(slo)
        for name, level in sorted((severities or {}).items()):
            needed = level.response_target + mitigation
            if level.paging and needed > allowed:
                out.append(
                    (
                        ("slos", i, "objective"),
                        f"SLO '{slo.name}' ({slo.objective:g} % per {slo.window}) allows "
                        f"{minutes(allowed)} of downtime, but a {name} page's response target "
                        f"{format_duration(level.response_target)} plus a typical mitigation of "
                        f"{format_duration(mitigation)} is {minutes(needed)}: one {name} incident "
                        "spends the whole budget (guide §2: derive response targets from the SLO)",
                    )
                )
    return out


def _budget_time(slo: SLO) -> timedelta:
    length = SHORTEST_QUARTER if slo.window == "quarter" else ROLLING[slo.window]
    seconds = error_fraction(slo.objective) * int(length.total_seconds())
    return timedelta(microseconds=round(seconds * 1_000_000))


def minutes(value: timedelta) -> str:
    """``43.2 min``, ``12.96 min``: minutes with up to three decimals, trailing zeros dropped."""
    text = f"{value.total_seconds() / 60:.3f}".rstrip("0").rstrip(".")
    return f"{text} min"


# ---------------------------------------------------------------- on-call health


def local_windows(
    timezone: str,
    start: datetime,
    end: datetime,
    begin: time,
    finish: time,
    days: Iterable[int] | None = None,
) -> list[tuple[int, int]]:
    """Daily wall-clock windows [begin, finish) in ``timezone`` (crossing midnight when finish ≤ begin)
    as UTC epoch ranges overlapping [start, end); ``days`` keeps only windows starting on those
    weekdays (0 = Monday). Each day's window is placed by its own UTC offset, so DST is exact."""
    zone = ZoneInfo(timezone)
    allowed = set(range(7) if days is None else days)
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    out = []
    day = first
    while day <= last:
        if day.weekday() in allowed:
            lo = _at(day, begin, zone)
            hi = _at(day + timedelta(days=1) if finish <= begin else day, finish, zone)
            if hi > epoch(start) and lo < epoch(end):
                out.append((lo, hi))
        day += timedelta(days=1)
    return out


def _at(day: date, wall: time, zone: ZoneInfo) -> int:
    """A wall time as an instant (in a DST gap: the offset before it; in an overlap: the first)."""
    return epoch(datetime.combine(day, wall).replace(tzinfo=zone, fold=0))


def merge(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def blocks(on_call: Iterable[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    """12-hour blocks of on-call time, counted from the start of each stretch on call (a weekly
    shift is 14 blocks), kept when they overlap [start, end) and cut to it."""
    size = int(SHIFT_BLOCK.total_seconds())
    out = []
    for lo, hi in merge(on_call):
        at = lo
        while at < hi:
            a, b = max(at, start), min(at + size, hi, end)
            if a < b:
                out.append((a, b))
            at += size
    return out
