"""SLOs: pushed counts in, error budgets, burn rates and the freeze flag out — aggregated in SQL.

Where an SLO's numbers come from (its ``source``, docs/metrics.md):

- ``events`` once any count was pushed for it (``POST /api/v1/slos/{service}/{slo}/events``):
  request-based, bad = total − good, summed from ``slo_rollup`` (day, hour and minute buckets);
- else ``incidents`` for an availability SLO: time-based, bad seconds = the union of the impact
  windows of the service's SEV1/SEV2 incidents (drills excluded) inside the window;
- else ``none``: no data, nothing consumed.

Services take a session, the applied config and ``now``; they flush, never commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, text
from sqlalchemy.orm import Session

from commandpost.db.upsert import insert_for
from commandpost.errors import NotFound, ValidationFailed
from commandpost.metrics import rules
from commandpost.metrics.dialect import Dialect
from commandpost.metrics.models import SloEvent, SloSeries
from commandpost.policy.opsfiles import SLO, OpsConfig, Service

MAX_BATCH = 5000
MAX_FUTURE = timedelta(minutes=5)
MAX_AGE = timedelta(days=400)
_EVENTS = cast(Table, SloEvent.__table__)
_SERIES = cast(Table, SloSeries.__table__)


@dataclass(frozen=True)
class Count:
    """One pushed count: ``client_id`` names it, so a retry of the same count is ignored."""

    client_id: str
    good: int
    total: int
    at: datetime


@dataclass(frozen=True)
class Ingested:
    accepted: int
    duplicates: int


@dataclass(frozen=True)
class Coverage:
    """How much of an event-based SLO's window its counts cover: from the minute of the first count
    in the window (``since``, epoch seconds; None when none falls in it) to the window's end."""

    since: int | None
    seconds: int
    ratio: Fraction

    @property
    def enough(self) -> bool:
        return self.ratio >= rules.MIN_COVERAGE

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": None if self.since is None else _iso(self.since),
            "seconds": self.seconds,
            "ratio": float(self.ratio),
            "needed": float(rules.MIN_COVERAGE),
            "enough": self.enough,
        }


@dataclass
class SloStatus:
    service: str
    slo: SLO
    source: str
    window: rules.Window
    budget: rules.Budget | None
    burn: dict[str, Fraction | None] = field(default_factory=dict)
    coverage: Coverage | None = None

    @property
    def firing(self) -> list[rules.Condition]:
        return rules.firing(self.burn) if self.source == "events" else []

    @property
    def exhausted(self) -> bool:
        return bool(self.budget and self.budget.exhausted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "slo": self.slo.name,
            "objective": self.slo.objective,
            "window": self.slo.window,
            "sli": self.slo.sli,
            "source": self.source,
            "window_start": _iso(self.window.start),
            "window_end": _iso(self.window.end),
            "budget": self.budget.to_dict() if self.budget else None,
            "burn_rates": {name: None if v is None else float(v) for name, v in self.burn.items()},
            "alerts": [
                {
                    "condition": c.name,
                    "kind": c.kind,
                    "long": c.long,
                    "short": c.short,
                    "factor": float(c.factor),
                }
                for c in self.firing
            ],
            "freeze": self.exhausted,
            "coverage": self.coverage.to_dict() if self.coverage else None,
        }


@dataclass(frozen=True)
class FreezeStatus:
    """Frozen (guide §7: stop features, invest in reliability) while any SLO's budget is spent."""

    service: str
    frozen: bool
    exhausted: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"service": self.service, "freeze": self.frozen, "exhausted": self.exhausted}


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def find(config: OpsConfig, service: str, slo: str) -> tuple[Service, SLO]:
    found = config.service(service)
    if found is None:
        known = ", ".join(s.name for s in config.services) or "none"
        raise NotFound(f"no service '{service}' in the applied ops (services: {known})")
    for candidate in found.slos:
        if candidate.name == slo:
            return found, candidate
    names = ", ".join(s.name for s in found.slos) or "none"
    raise NotFound(f"service '{service}' has no SLO '{slo}' (its SLOs: {names})")


def _slos(config: OpsConfig, service: str | None) -> list[tuple[str, SLO]]:
    if service is not None and config.service(service) is None:
        find(config, service, "")
    return [(s.name, slo) for s in config.services if service in (None, s.name) for slo in s.slos]


# ---------------------------------------------------------------- pushed counts


def _check(counts: Sequence[Count], now: datetime) -> None:
    if not counts:
        raise ValidationFailed("events: send at least one count", details={"field": "events"})
    if len(counts) > MAX_BATCH:
        raise ValidationFailed(f"events: at most {MAX_BATCH} counts per request, got {len(counts)}")
    seen: set[str] = set()
    for i, count in enumerate(counts):
        where = f"events[{i}]"
        if not 0 <= count.good <= count.total:
            raise ValidationFailed(
                f"{where}: good ({count.good}) must be between 0 and total ({count.total})",
                details={"field": f"{where}.good"},
            )
        if count.at.tzinfo is None:
            raise ValidationFailed(f"{where}.at needs a UTC offset", details={"field": f"{where}.at"})
        if count.at > now + MAX_FUTURE:
            raise ValidationFailed(
                f"{where}.at {count.at.isoformat()} is in the future (server time {now.isoformat()})",
                details={"field": f"{where}.at"},
            )
        if count.at < now - MAX_AGE:
            raise ValidationFailed(
                f"{where}.at {count.at.isoformat()} is older than {MAX_AGE.days} days",
                details={"field": f"{where}.at"},
            )
        if not 1 <= len(count.client_id) <= 200:
            raise ValidationFailed(f"{where}.id must be 1–200 characters", details={"field": f"{where}.id"})
        if count.client_id in seen:
            raise ValidationFailed(
                f"{where}.id {count.client_id!r} appears twice in this batch",
                details={"field": f"{where}.id"},
            )
        seen.add(count.client_id)


def series_id(session: Session, *, service: str, slo: str, now: datetime) -> int:
    """The series of (service, SLO), created on its first push (a race inserts one row)."""
    row = (
        insert_for(session, _SERIES).values(service=service, slo=slo, created_at=now).on_conflict_do_nothing()
    )
    session.execute(row)
    found = session.scalar(select(SloSeries.id).where(SloSeries.service == service, SloSeries.slo == slo))
    assert found is not None
    return int(found)


def push(
    session: Session, *, config: OpsConfig, service: str, slo: str, counts: Sequence[Count], now: datetime
) -> Ingested:
    """Store new counts and add exactly those to the rollups, in the caller's transaction."""
    find(config, service, slo)
    _check(counts, now)
    sid = series_id(session, service=service, slo=slo, now=now)
    rows = [
        {"series_id": sid, "client_id": c.client_id, "good": c.good, "total": c.total, "at": c.at}
        for c in counts
    ]
    stmt = insert_for(session, _EVENTS).on_conflict_do_nothing().returning(_EVENTS.c.id)
    ids = [int(r[0]) for r in session.execute(stmt, rows)]
    if ids:
        _roll_up(session, ids)
    session.flush()
    return Ingested(len(ids), len(rows) - len(ids))


def _roll_up(session: Session, ids: list[int]) -> None:
    """Add the events ``ids`` to their minute, hour and day buckets (upsert, in bucket order so two
    concurrent pushes lock rows in the same order)."""
    e = Dialect.of(session).epoch("e.at")
    sizes = " UNION ALL ".join(f"SELECT {s} AS size" for s in rules.ROLLUP_SIZES)
    sql = text(
        "INSERT INTO slo_rollup (size, bucket, series_id, good, total) "
        f"SELECT z.size, ({e} / z.size) * z.size AS bucket, e.series_id, SUM(e.good), SUM(e.total) "
        f"FROM slo_event e CROSS JOIN ({sizes}) z WHERE e.id IN :ids "
        f"GROUP BY z.size, ({e} / z.size) * z.size, e.series_id ORDER BY 1, 2, 3 "
        "ON CONFLICT (size, bucket, series_id) DO UPDATE SET "
        "good = slo_rollup.good + excluded.good, total = slo_rollup.total + excluded.total"
    ).bindparams(bindparam("ids", expanding=True))
    session.execute(sql, {"ids": ids})


def rebuild_rollups(session: Session) -> None:
    """Recompute every rollup from the stored counts: minutes from the events, hours from the
    minutes, days from the hours (a repair, or after a bulk load that did not go through :func:`push`)."""
    e = Dialect.of(session).epoch("at")
    session.execute(text("DELETE FROM slo_rollup"))
    session.execute(
        text(
            "INSERT INTO slo_rollup (size, bucket, series_id, good, total) "
            f"SELECT 60, ({e} / 60) * 60, series_id, SUM(good), SUM(total) FROM slo_event "
            f"GROUP BY ({e} / 60) * 60, series_id"
        )
    )
    for size, finer in ((rules.HOUR, rules.MINUTE), (rules.DAY, rules.HOUR)):
        session.execute(
            text(
                "INSERT INTO slo_rollup (size, bucket, series_id, good, total) "
                f"SELECT {size}, (bucket / {size}) * {size}, series_id, SUM(good), SUM(total) "
                f"FROM slo_rollup WHERE size = {finer} GROUP BY (bucket / {size}) * {size}, series_id"
            )
        )
    session.flush()


# ---------------------------------------------------------------- budgets and burn rates


def statuses(
    session: Session, *, config: OpsConfig, now: datetime, service: str | None = None, slo: str | None = None
) -> list[SloStatus]:
    """Budget and burn rates of every SLO (or one service's, or one SLO)."""
    if service is not None and slo is not None:
        find(config, service, slo)
    wanted = [(svc, s) for svc, s in _slos(config, service) if slo is None or s.name == slo]
    series = _series(session, wanted)
    event_sums = _event_sums(session, wanted, series, now)
    firsts = _first_counts(session, wanted, series, now)
    bad_time = _incident_seconds(session, wanted, series, now)
    out = []
    for svc, s in wanted:
        window = rules.slo_window(s.window, now)
        key = (svc, s.name)
        if key in series:
            sums = event_sums.get(series[key], {})
            good, total = sums.get(s.window, (0, 0))
            burn = {
                w: rules.burn_rate(s.objective, t - g, t)
                for w in rules.BURN_WINDOWS
                for g, t in [sums.get(w, (0, 0))]
            }
            first = firsts.get(series[key])
            covered = Coverage(
                first, 0 if first is None else window.end - first, rules.coverage(window, first)
            )
            budget = rules.event_budget(s.objective, good, total, covered.ratio)
            out.append(SloStatus(svc, s, "events", window, budget, burn, covered))
        elif s.sli == "availability":
            seconds = bad_time.get(svc, {})
            burn = {
                w: rules.burn_rate(s.objective, seconds.get(w, 0), length)
                for w, length in rules.BURN_WINDOWS.items()
            }
            budget = rules.time_budget(s.objective, window, seconds.get(s.window, 0))
            out.append(SloStatus(svc, s, "incidents", window, budget, burn))
        else:
            out.append(SloStatus(svc, s, "none", window, None, {w: None for w in rules.BURN_WINDOWS}))
    return out


def freeze_status(session: Session, *, config: OpsConfig, service: str, now: datetime) -> FreezeStatus:
    """Whether ``service`` is frozen, for the API, the web banner and ``commandpost slo status``."""
    exhausted = [
        st.slo.name for st in statuses(session, config=config, now=now, service=service) if st.exhausted
    ]
    return FreezeStatus(service, bool(exhausted), exhausted)


def freezes(found: Sequence[SloStatus]) -> list[FreezeStatus]:
    by_service: dict[str, list[str]] = defaultdict(list)
    for st in found:
        by_service.setdefault(st.service, [])
        if st.exhausted:
            by_service[st.service].append(st.slo.name)
    return [FreezeStatus(name, bool(names), names) for name, names in by_service.items()]


def _series(session: Session, wanted: list[tuple[str, SLO]]) -> dict[tuple[str, str], int]:
    services = sorted({svc for svc, _ in wanted})
    if not services:
        return {}
    rows = session.execute(
        select(SloSeries.service, SloSeries.slo, SloSeries.id).where(SloSeries.service.in_(services))
    )
    names = {(svc, s.name) for svc, s in wanted}
    return {(r[0], r[1]): int(r[2]) for r in rows if (r[0], r[1]) in names}


def _event_sums(
    session: Session, wanted: list[tuple[str, SLO]], series: dict[tuple[str, str], int], now: datetime
) -> dict[int, dict[str, tuple[int, int]]]:
    """(good, total) per series and window label, from the rollups: one UNION ALL of bucket ranges."""
    if not series:
        return {}
    windows: dict[str, tuple[rules.Window, list[int]]] = {}
    all_ids = sorted(series.values())
    for name in rules.BURN_WINDOWS:
        windows[name] = (rules.burn_window(name, now), all_ids)
    for svc, s in wanted:
        if (svc, s.name) in series:
            window, ids = windows.setdefault(s.window, (rules.slo_window(s.window, now), []))
            if s.window not in rules.BURN_WINDOWS:
                ids.append(series[(svc, s.name)])
    parts, params = [], {}
    for label, (window, ids) in windows.items():
        for i, (size, lo, hi) in enumerate(rules.decompose(window.start, window.end)):
            p = f"{label}_{i}"
            parts.append(
                f"SELECT series_id, '{label}' AS w, good, total FROM slo_rollup "
                f"WHERE size = :z_{p} AND bucket >= :lo_{p} AND bucket < :hi_{p} AND series_id IN :ids_{p}"
            )
            params.update({f"z_{p}": size, f"lo_{p}": lo, f"hi_{p}": hi, f"ids_{p}": sorted(set(ids))})
    sql = text(
        f"SELECT series_id, w, SUM(good), SUM(total) FROM ({' UNION ALL '.join(parts)}) AS pieces "
        "GROUP BY series_id, w"
    ).bindparams(*(bindparam(k, expanding=True) for k in params if k.startswith("ids_")))
    out: dict[int, dict[str, tuple[int, int]]] = defaultdict(dict)
    for sid, label, good, total in session.execute(sql, params):
        out[int(sid)][str(label)] = (int(good or 0), int(total or 0))
    return out


def _first_counts(
    session: Session, wanted: list[tuple[str, SLO]], series: dict[tuple[str, str], int], now: datetime
) -> dict[int, int]:
    """Per series, the minute (epoch seconds) of its first count inside its SLO window.

    From the rollups, like the sums: the earliest bucket of each day/hour/minute piece of the window,
    then, when that is a day or an hour, the earliest minute inside it — two small reads per SLO."""
    by_window: dict[str, list[int]] = defaultdict(list)
    for svc, s in wanted:
        if (svc, s.name) in series:
            by_window[s.window].append(series[(svc, s.name)])
    if not by_window:
        return {}
    parts, params = [], {}
    for label, ids in by_window.items():
        window = rules.slo_window(label, now)
        for i, (size, lo, hi) in enumerate(rules.decompose(window.start, window.end)):
            p = f"{label}_{i}"
            parts.append(
                f"SELECT series_id, size, MIN(bucket) AS first FROM slo_rollup WHERE size = :z_{p} "
                f"AND bucket >= :lo_{p} AND bucket < :hi_{p} AND series_id IN :ids_{p} "
                "GROUP BY series_id, size"
            )
            params.update({f"z_{p}": size, f"lo_{p}": lo, f"hi_{p}": hi, f"ids_{p}": sorted(set(ids))})
    sql = text(" UNION ALL ".join(parts)).bindparams(
        *(bindparam(k, expanding=True) for k in params if k.startswith("ids_"))
    )
    earliest: dict[int, tuple[int, int]] = {}
    for sid, size, first in session.execute(sql, params):
        if first is not None and (int(sid) not in earliest or int(first) < earliest[int(sid)][0]):
            earliest[int(sid)] = (int(first), int(size))
    out = {}
    for sid, (first, size) in earliest.items():
        if size > rules.MINUTE:
            minute = session.scalar(
                text(
                    "SELECT MIN(bucket) FROM slo_rollup WHERE size = :minute AND series_id = :sid "
                    "AND bucket >= :lo AND bucket < :hi"
                ),
                {"minute": rules.MINUTE, "sid": sid, "lo": first, "hi": first + size},
            )
            first = first if minute is None else int(minute)
        out[sid] = first
    return out


def _incident_seconds(
    session: Session, wanted: list[tuple[str, SLO]], series: dict[tuple[str, str], int], now: datetime
) -> dict[str, dict[str, int]]:
    """Bad seconds per service and window: the union of SEV1/SEV2 impact windows, clipped to each
    window (gaps and islands: a running maximum of the previous ends, so overlaps count once)."""
    services = sorted({svc for svc, s in wanted if (svc, s.name) not in series and s.sli == "availability"})
    if not services:
        return {}
    d = Dialect.of(session)
    windows = [rules.burn_window(name, now) for name in rules.BURN_WINDOWS]
    windows += [rules.slo_window(k, now) for k in sorted({s.window for _svc, s in wanted})]
    rows = " UNION ALL ".join(
        f"SELECT '{w.kind}' AS label, CAST(:lo{i} AS BIGINT) AS lo, CAST(:hi{i} AS BIGINT) AS hi"
        for i, w in enumerate(windows)
    )
    params: dict[str, Any] = {f"lo{i}": w.start for i, w in enumerate(windows)}
    params.update({f"hi{i}": w.end for i, w in enumerate(windows)})
    params.update(services=services, severities=list(rules.BURN_SEVERITIES), now=rules.epoch(now))
    end = "COALESCE(r.impact_end, :now)"
    start_kept = d.greatest("s", "COALESCE(prev, s)")
    sql = text(
        f"WITH w AS ({rows}), "
        f"iv AS (SELECT r.service, w.label, {d.greatest('r.impact_start', 'w.lo')} AS s, "
        f"{d.least(end, 'w.hi')} AS e FROM incident_response r JOIN w "
        f"ON r.impact_start < w.hi AND {end} > w.lo "
        "WHERE r.service IN :services AND r.severity IN :severities), "
        "ordered AS (SELECT service, label, s, e, MAX(e) OVER (PARTITION BY service, label ORDER BY s, e "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev FROM iv WHERE e > s) "
        f"SELECT service, label, SUM(CASE WHEN e > {start_kept} THEN e - {start_kept} ELSE 0 END) "
        "FROM ordered GROUP BY service, label"
    ).bindparams(bindparam("services", expanding=True), bindparam("severities", expanding=True))
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for svc, label, seconds in session.execute(sql, params):
        out[str(svc)][str(label)] = int(seconds or 0)
    return out


# ---------------------------------------------------------------- response targets from the SLO (guide §2)


def targets(config: OpsConfig, now: datetime) -> dict[str, Any]:
    """Allowed downtime per SLO window (the current quarter for ``quarter``, and the range over
    quarters), and the ``commandpost check`` warnings for paging severities that cannot fit."""
    out = []
    for service in config.services:
        for s in service.slos:
            allowed = rules.allowed_downtime(s.objective, s.window, now)
            item: dict[str, Any] = {
                "service": service.name,
                "slo": s.name,
                "objective": s.objective,
                "window": s.window,
                "sli": s.sli,
                "window_days": rules.window_length(s.window, now).days,
                "allowed_downtime_seconds": allowed.total_seconds(),
                "allowed_downtime": rules.minutes(allowed),
            }
            if s.window == "quarter":
                low = rules.error_fraction(s.objective) * 90 * rules.DAY
                high = rules.error_fraction(s.objective) * 92 * rules.DAY
                item["quarter_range"] = (
                    f"{rules.minutes(timedelta(seconds=float(low)))} (90 d) – "
                    f"{rules.minutes(timedelta(seconds=float(high)))} (92 d)"
                )
            out.append(item)
    warnings = [
        {"service": service.name, "message": message}
        for service in config.services
        for _keys, message in rules.response_fit_warnings(service, config.severities)
    ]
    severities = [
        {
            "severity": name,
            "paging": level.paging,
            "response_target_seconds": level.response_target.total_seconds(),
        }
        for name, level in sorted(config.severities.items())
    ]
    return {
        "typical_mitigation_seconds": rules.TYPICAL_MITIGATION.total_seconds(),
        "slos": out,
        "severities": severities,
        "warnings": warnings,
    }
