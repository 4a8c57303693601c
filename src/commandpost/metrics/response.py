"""MTTD / MTTA / MTTM / MTTR per severity over a period: count, mean, median and p90, in SQL.

Reads ``incident_response`` (one narrow row per non-drill incident, durations in whole seconds,
kept by triggers) and ``incident_response_day`` (counts and sums per severity, day, service).

- Counts and sums: whole UTC days of the period from the day table, the partial days at its
  edges from the fact table — a few thousand rows whatever the number of incidents.
- Median and p90 by nearest rank (rank ⌈p·n⌉ of the ascending values, docs/metrics.md), the same
  integer formula on both databases: ``ORDER BY … LIMIT 1 OFFSET k`` walking the covering index
  (severity, metric, detected, service) from the nearer end, so nothing is sorted at query time —
  or, when the selection is a small part of what the index holds, ``ROW_NUMBER()`` over it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from commandpost.incidents import rules as incident_rules
from commandpost.metrics import rules
from commandpost.metrics.dialect import Dialect
from commandpost.metrics.models import RESPONSE_METRICS
from commandpost.policy.schema import SEVERITIES

NAMES = {"ttd": "mttd", "tta": "mtta", "ttm": "mttm", "ttr": "mttr"}
PERCENTILES = (50, 90)
WALK_ADVANTAGE = 64
"""Ranking costs about this many index steps per selected value: rank when the selection is smaller
than the indexed values / WALK_ADVANTAGE, else walk (which may step over every indexed value)."""
Strategy = Literal["auto", "rank", "walk"]


@dataclass(frozen=True)
class Stat:
    """One metric of one severity: how many incidents had both timestamps, mean, median, p90 (seconds)."""

    metric: str
    count: int
    mean: float | None
    median: int | None
    p90: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "mean": self.mean, "median": self.median, "p90": self.p90}


@dataclass(frozen=True)
class SeverityStats:
    severity: str
    incidents: int
    stats: dict[str, Stat]

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "incidents": self.incidents,
            **{name: self.stats[name].to_dict() for name in NAMES.values()},
        }


@dataclass(frozen=True)
class ResponseReport:
    start: datetime
    end: datetime
    service: str | None
    severity: str | None
    rows: list[SeverityStats] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "service": self.service,
            "severity": self.severity,
            "unit": "seconds",
            "percentile_method": "nearest rank: the value at rank ceil(p/100 * count) of the sorted values",
            "severities": [row.to_dict() for row in self.rows],
        }


def response_times(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    service: str | None = None,
    severity: str | None = None,
    strategy: Strategy = "auto",
) -> ResponseReport:
    """Per severity (drills excluded), over incidents detected in [start, end)."""
    sev = incident_rules.normalize_severity(severity) if severity else None
    severities = (sev,) if sev else SEVERITIES
    lo, hi = rules.epoch(start), rules.epoch(end)
    sums = _sums(session, lo, hi, service, severities)
    indexed = _indexed(session, severities) if strategy == "auto" else {}
    ranked = {
        metric: _percentiles(session, metric, lo, hi, service, sums, strategy, indexed.get(metric, 0))
        for metric in RESPONSE_METRICS
    }
    rows = []
    for name in severities:
        got = sums.get(name)
        if not got or not got["incidents"]:
            continue
        stats = {}
        for metric in RESPONSE_METRICS:
            n, total = got[f"n_{metric}"], got[f"s_{metric}"]
            picks = ranked[metric].get(name, {})
            stats[NAMES[metric]] = Stat(
                NAMES[metric], n, total / n if n else None, picks.get(50), picks.get(90)
            )
        rows.append(SeverityStats(name, got["incidents"], stats))
    return ResponseReport(start, end, service, sev, rows)


# ---------------------------------------------------------------- counts and sums

_SUM_COLUMNS = ["incidents"] + [f"{p}_{m}" for m in RESPONSE_METRICS for p in ("n", "s")]


def _sums(
    session: Session, lo: int, hi: int, service: str | None, severities: Sequence[str]
) -> dict[str, dict[str, int]]:
    first_day = -(-lo // rules.DAY) * rules.DAY
    last_day = hi // rules.DAY * rules.DAY
    edges = [(lo, min(first_day, hi)), (max(last_day, lo), hi)] if first_day < last_day else [(lo, hi)]
    where_service = " AND service = :service" if service is not None else ""
    fact_values = ", ".join(
        ["1 AS incidents"]
        + [
            part
            for m in RESPONSE_METRICS
            for part in (f"CASE WHEN {m} IS NULL THEN 0 ELSE 1 END AS n_{m}", f"COALESCE({m}, 0) AS s_{m}")
        ]
    )
    parts = []
    params: dict[str, Any] = {"severities": list(severities)}
    if first_day < last_day:
        parts.append(
            f"SELECT severity, {', '.join(_SUM_COLUMNS)} FROM incident_response_day "
            f"WHERE severity IN :severities AND day >= :d1 AND day < :d2{where_service}"
        )
        params.update(d1=first_day, d2=last_day)
    for i, (a, b) in enumerate(edges):
        if a < b:
            parts.append(
                f"SELECT severity, {fact_values} FROM incident_response "
                f"WHERE severity IN :severities AND detected >= :a{i} AND detected < :b{i}{where_service}"
            )
            params.update({f"a{i}": a, f"b{i}": b})
    if not parts:
        return {}
    totals = ", ".join(f"SUM({c})" for c in _SUM_COLUMNS)
    sql = text(
        f"SELECT severity, {totals} FROM ({' UNION ALL '.join(parts)}) AS parts GROUP BY severity"
    ).bindparams(bindparam("severities", expanding=True))
    if service is not None:
        params["service"] = service
    out = {}
    for row in session.execute(sql, params):
        out[row[0]] = {c: int(v or 0) for c, v in zip(_SUM_COLUMNS, row[1:], strict=True)}
    return out


def _indexed(session: Session, severities: Sequence[str]) -> dict[str, int]:
    """How many values each metric's index holds for these severities (what a walk may step over)."""
    sql = text(
        f"SELECT {', '.join(f'SUM(n_{m})' for m in RESPONSE_METRICS)} FROM incident_response_day "
        "WHERE severity IN :severities"
    ).bindparams(bindparam("severities", expanding=True))
    row = session.execute(sql, {"severities": list(severities)}).one()
    return {m: int(v or 0) for m, v in zip(RESPONSE_METRICS, row, strict=True)}


# ---------------------------------------------------------------- percentiles


def _filters(service: str | None, plus: str = "") -> str:
    """The period (and service) condition; ``plus`` = "+" keeps SQLite from using it as an index
    constraint (a skip-scan on ``detected`` and a sort), so it filters while the walk follows the order."""
    where = f"{plus}detected >= :lo AND {plus}detected < :hi"
    return where + (f" AND {plus}service = :service" if service is not None else "")


def _percentiles(
    session: Session,
    metric: str,
    lo: int,
    hi: int,
    service: str | None,
    sums: dict[str, dict[str, int]],
    strategy: Strategy,
    indexed: int,
) -> dict[str, dict[int, int]]:
    counts = {sev: got[f"n_{metric}"] for sev, got in sums.items() if got[f"n_{metric}"]}
    if not counts:
        return {}
    params: dict[str, Any] = {"lo": lo, "hi": hi, "service": service}
    if strategy == "rank" or (strategy == "auto" and sum(counts.values()) * WALK_ADVANTAGE < indexed):
        return _by_rank(session, metric, params, service, list(counts))
    return _by_walk(session, metric, params, service, counts)


def _by_rank(
    session: Session, metric: str, params: dict[str, Any], service: str | None, severities: list[str]
) -> dict[str, dict[int, int]]:
    ranks = " OR ".join(f"rn = ({p} * n + 99) / 100" for p in PERCENTILES)
    sql = text(
        f"SELECT severity, rn, n, v FROM ("
        f"SELECT severity, {metric} AS v, "
        f"ROW_NUMBER() OVER (PARTITION BY severity ORDER BY {metric}) AS rn, "
        f"COUNT(*) OVER (PARTITION BY severity) AS n "
        f"FROM incident_response WHERE severity IN :severities AND {metric} IS NOT NULL "
        f"AND {_filters(service)}) AS ranked WHERE {ranks}"
    ).bindparams(bindparam("severities", expanding=True))
    out: dict[str, dict[int, int]] = {}
    for sev, rn, n, value in session.execute(sql, {**params, "severities": severities}):
        for p in PERCENTILES:
            if rn == rules.nearest_rank(p, int(n)):
                out.setdefault(sev, {})[p] = int(value)
    return out


def _by_walk(
    session: Session, metric: str, params: dict[str, Any], service: str | None, counts: dict[str, int]
) -> dict[str, dict[int, int]]:
    d = Dialect.of(session)
    base = (
        f"SELECT {metric} FROM incident_response{d.index_hint(f'ix_incident_response_{metric}')} "
        f"WHERE severity = :severity AND {metric} IS NOT NULL "
        f"AND {_filters(service, '+' if d.sqlite else '')} ORDER BY {metric}"
    )
    ascending, descending = text(f"{base} LIMIT 1 OFFSET :k"), text(f"{base} DESC LIMIT 1 OFFSET :k")
    out: dict[str, dict[int, int]] = {}
    for sev, n in counts.items():
        for p in PERCENTILES:
            rank = rules.nearest_rank(p, n)
            up = rank - 1 <= n - rank
            value = session.execute(
                ascending if up else descending,
                {**params, "severity": sev, "k": rank - 1 if up else n - rank},
            ).scalar()
            if value is not None:
                out.setdefault(sev, {})[p] = int(value)
    return out
