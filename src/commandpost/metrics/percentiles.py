"""Median and p90 of response durations by nearest rank, in SQL — one definition, three ways to get it.

The p-th percentile of n values is the value at rank ⌈p·n/100⌉ of the ascending values (the integer
``(p·n + 99) div 100`` on both databases). Which query finds it depends on the selection:

- ``rank``: ``ROW_NUMBER()`` over the selected values — best when they are a small part of what the
  index holds (a short period among many incidents);
- ``bucket``: the histogram (``incident_response_hist``: values per duration bucket, UTC day and
  severity, plus the partial days at the period's edges) says which bucket holds rank k and how
  many values lie below it; then ``ORDER BY … LIMIT 1 OFFSET`` walks only that bucket's stretch of
  the covering index (severity, metric, detected, service), from its nearer end;
- ``walk``: the same walk over the whole severity — with a service filter, which the histogram
  does not know.

Nothing is sorted at query time except by ``rank``, and all three give the same values (the
tests check it on hand-computed data).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from commandpost.metrics import rules
from commandpost.metrics.dialect import Dialect
from commandpost.metrics.models import DURATION_BUCKETS, RESPONSE_METRICS

PERCENTILES = (50, 90)
WALK_ADVANTAGE = 64
"""Ranking costs about this many index steps per selected value: rank when the selection is smaller
than the indexed values / WALK_ADVANTAGE."""
NO_BOUND = 2**62
Strategy = Literal["auto", "rank", "bucket", "walk"]
Picks = dict[str, dict[int, int]]
"""severity → percentile → value (seconds)."""


@dataclass(frozen=True)
class Selection:
    """Incidents detected in [lo, hi) (epoch seconds) of these severities, optionally one service."""

    lo: int
    hi: int
    service: str | None
    severities: tuple[str, ...]

    def params(self) -> dict[str, Any]:
        return {"lo": self.lo, "hi": self.hi, "service": self.service}

    def filters(self, plus: str = "") -> str:
        """The period (and service) condition; ``plus`` = "+" keeps SQLite from using it as an index
        constraint (a skip-scan on ``detected`` and a sort), so it filters while the walk keeps order."""
        where = f"{plus}detected >= :lo AND {plus}detected < :hi"
        return where + (f" AND {plus}service = :service" if self.service is not None else "")


def bucket_sql(value: str) -> str:
    """The index into DURATION_BUCKETS of ``value`` (the migration's triggers use the same CASE)."""
    arms = " ".join(f"WHEN {value} < {bound} THEN {i}" for i, bound in enumerate(DURATION_BUCKETS))
    return f"CASE {arms} ELSE {len(DURATION_BUCKETS)} END"


def pick(
    session: Session, sel: Selection, counts: dict[str, dict[str, int]], strategy: Strategy = "auto"
) -> dict[str, Picks]:
    """metric → severity → {50: median, 90: p90}; ``counts`` is metric → severity → values selected."""
    plans = _plans(session, sel, counts, strategy)
    bucketed = [m for m, plan in plans.items() if plan == "bucket"]
    hist = _histogram(session, sel, bucketed) if bucketed else {}
    out: dict[str, Picks] = {}
    for metric, plan in plans.items():
        if plan == "rank":
            out[metric] = _by_rank(session, sel, metric, list(counts[metric]))
        elif plan == "bucket":
            out[metric] = _by_bucket(session, sel, metric, hist.get(metric, {}))
        else:
            out[metric] = _by_walk(session, sel, metric, counts[metric])
    return out


def _plans(
    session: Session, sel: Selection, counts: dict[str, dict[str, int]], strategy: Strategy
) -> dict[str, str]:
    wanted = {m: c for m, c in counts.items() if c}
    if strategy != "auto":
        fallback = "walk" if strategy == "bucket" and sel.service is not None else strategy
        return dict.fromkeys(wanted, fallback)
    indexed = _indexed(session, sel.severities)
    plans = {}
    for metric, by_sev in wanted.items():
        if sum(by_sev.values()) * WALK_ADVANTAGE < indexed[metric]:
            plans[metric] = "rank"
        else:
            plans[metric] = "bucket" if sel.service is None else "walk"
    return plans


def _indexed(session: Session, severities: Sequence[str]) -> dict[str, int]:
    """How many values each metric's index holds for these severities (what a walk may step over)."""
    sql = text(
        f"SELECT {', '.join(f'SUM(n_{m})' for m in RESPONSE_METRICS)} FROM incident_response_day "
        "WHERE severity IN :severities"
    ).bindparams(bindparam("severities", expanding=True))
    row = session.execute(sql, {"severities": list(severities)}).one()
    return {m: int(v or 0) for m, v in zip(RESPONSE_METRICS, row, strict=True)}


def _by_rank(session: Session, sel: Selection, metric: str, severities: list[str]) -> Picks:
    ranks = " OR ".join(f"rn = ({p} * n + 99) / 100" for p in PERCENTILES)
    sql = text(
        f"SELECT severity, rn, n, v FROM ("
        f"SELECT severity, {metric} AS v, "
        f"ROW_NUMBER() OVER (PARTITION BY severity ORDER BY {metric}) AS rn, "
        f"COUNT(*) OVER (PARTITION BY severity) AS n "
        f"FROM incident_response WHERE severity IN :severities AND {metric} IS NOT NULL "
        f"AND {sel.filters()}) AS ranked WHERE {ranks}"
    ).bindparams(bindparam("severities", expanding=True))
    out: Picks = {}
    for sev, rn, n, value in session.execute(sql, {**sel.params(), "severities": severities}):
        for p in PERCENTILES:
            if rn == rules.nearest_rank(p, int(n)):
                out.setdefault(sev, {})[p] = int(value)
    return out


def _walker(session: Session, sel: Selection, metric: str, bounded: bool) -> tuple[Any, Any]:
    """(ascending, descending) ``LIMIT 1 OFFSET :k`` over one severity's stretch of the index."""
    d = Dialect.of(session)
    within = f" AND {metric} >= :from_value AND {metric} < :to_value" if bounded else ""
    base = (
        f"SELECT {metric} FROM incident_response{d.index_hint(f'ix_incident_response_{metric}')} "
        f"WHERE severity = :severity AND {metric} IS NOT NULL{within} "
        f"AND {sel.filters('+' if d.sqlite else '')} ORDER BY {metric}"
    )
    return text(f"{base} LIMIT 1 OFFSET :k"), text(f"{base} DESC LIMIT 1 OFFSET :k")


def _walk(session: Session, statements: tuple[Any, Any], params: dict[str, Any], rank: int, n: int) -> Any:
    """The value at ``rank`` (1-based) of ``n`` ordered values, walking from the nearer end."""
    ascending, descending = statements
    up = rank - 1 <= n - rank
    return session.execute(
        ascending if up else descending, {**params, "k": rank - 1 if up else n - rank}
    ).scalar()


def _by_walk(session: Session, sel: Selection, metric: str, counts: dict[str, int]) -> Picks:
    statements = _walker(session, sel, metric, bounded=False)
    out: Picks = {}
    for sev, n in counts.items():
        for p in PERCENTILES:
            value = _walk(session, statements, {**sel.params(), "severity": sev}, rules.nearest_rank(p, n), n)
            if value is not None:
                out.setdefault(sev, {})[p] = int(value)
    return out


def _by_bucket(session: Session, sel: Selection, metric: str, hist: dict[str, dict[int, int]]) -> Picks:
    statements = _walker(session, sel, metric, bounded=True)
    out: Picks = {}
    for sev, buckets in hist.items():
        n = sum(buckets.values())
        for p in PERCENTILES:
            rank, below = rules.nearest_rank(p, n), 0
            for bucket in sorted(b for b, count in buckets.items() if count):
                if below + buckets[bucket] >= rank:
                    params = {
                        **sel.params(),
                        "severity": sev,
                        "from_value": DURATION_BUCKETS[bucket - 1] if bucket else 0,
                        "to_value": DURATION_BUCKETS[bucket] if bucket < len(DURATION_BUCKETS) else NO_BOUND,
                    }
                    value = _walk(session, statements, params, rank - below, buckets[bucket])
                    if value is not None:
                        out.setdefault(sev, {})[p] = int(value)
                    break
                below += buckets[bucket]
    return out


def _histogram(session: Session, sel: Selection, metrics: list[str]) -> dict[str, dict[str, dict[int, int]]]:
    """metric → severity → bucket → values in the selection: whole days from the histogram table,
    the partial days at the edges bucketed from the fact rows."""
    days, edges = rules.day_split(sel.lo, sel.hi)
    parts: list[str] = []
    params: dict[str, Any] = {"severities": list(sel.severities), "metrics": metrics}
    if days:
        parts.append(
            "SELECT severity, metric, bucket, n FROM incident_response_hist WHERE day >= :d1 AND day < :d2 "
            "AND severity IN :severities AND metric IN :metrics"
        )
        params.update(d1=days[0], d2=days[1])
    for i, (a, b) in enumerate(edges):
        params.update({f"a{i}": a, f"b{i}": b})
        parts += [
            f"SELECT severity, '{m}' AS metric, {bucket_sql(m)} AS bucket, 1 AS n FROM incident_response "
            f"WHERE severity IN :severities AND detected >= :a{i} AND detected < :b{i} AND {m} IS NOT NULL"
            for m in metrics
        ]
    out: dict[str, dict[str, dict[int, int]]] = defaultdict(lambda: defaultdict(dict))
    if not parts:
        return out
    sql = text(
        f"SELECT severity, metric, bucket, SUM(n) FROM ({' UNION ALL '.join(parts)}) AS h "
        "GROUP BY severity, metric, bucket"
    ).bindparams(
        *(bindparam(k, expanding=True) for k in ("severities", "metrics") if days or k == "severities")
    )
    for sev, metric, bucket, n in session.execute(sql, params):
        out[str(metric)][str(sev)][int(bucket)] = int(n or 0)
    return out
