"""MTTD / MTTA / MTTM / MTTR per severity over a period: count, mean, median and p90, in SQL.

Reads ``incident_response`` (one narrow row per non-drill incident, durations in whole seconds,
kept by triggers) and its day tables. Counts and sums: whole UTC days of the period from
``incident_response_day``, the partial days at its edges from the fact table — a few thousand rows
whatever the number of incidents. Median and p90: :mod:`commandpost.metrics.percentiles`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from commandpost.incidents import rules as incident_rules
from commandpost.metrics import percentiles, rules
from commandpost.metrics.models import RESPONSE_METRICS
from commandpost.policy.opsfiles import SEVERITIES

NAMES = {"ttd": "mttd", "tta": "mtta", "ttm": "mttm", "ttr": "mttr"}


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
    strategy: percentiles.Strategy = "auto",
) -> ResponseReport:
    """Per severity (drills excluded), over incidents detected in [start, end)."""
    sev = incident_rules.normalize_severity(severity) if severity else None
    severities = (sev,) if sev else SEVERITIES
    lo, hi = rules.epoch(start), rules.epoch(end)
    sums = _sums(session, lo, hi, service, severities)
    counts = {m: {sev: got[f"n_{m}"] for sev, got in sums.items() if got[f"n_{m}"]} for m in RESPONSE_METRICS}
    selection = percentiles.Selection(lo, hi, service, tuple(severities))
    ranked = percentiles.pick(session, selection, counts, strategy)
    rows = []
    for name in severities:
        got = sums.get(name)
        if not got or not got["incidents"]:
            continue
        stats = {}
        for metric in RESPONSE_METRICS:
            n, total = got[f"n_{metric}"], got[f"s_{metric}"]
            picks = ranked.get(metric, {}).get(name, {})
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
    days, edges = rules.day_split(lo, hi)
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
    if days:
        parts.append(
            f"SELECT severity, {', '.join(_SUM_COLUMNS)} FROM incident_response_day "
            f"WHERE severity IN :severities AND day >= :d1 AND day < :d2{where_service}"
        )
        params.update(d1=days[0], d2=days[1])
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
