"""Metrics (guide §6-1, §7) as charts: MTTA / MTTR per severity, error-budget burn-down per SLO,
on-call load (people × periods), noisy alerts, runbook toil and postmortem action items — over the
last 7, 30 or 90 days (``?days=``) and for all services or one (``?service=``).

Every number comes from the metrics service (``metrics.response``, ``metrics.slo``,
``metrics.oncall_health``, ``metrics.alert_quality``) and the runbooks and postmortems services; this
module only asks them for consecutive periods and hands the series to ``web/charts.py``. On-call
load and action items are per person and per item, so the service filter leaves them whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from commandpost.errors import ValidationFailed
from commandpost.metrics import alert_quality, oncall_health, response, slo
from commandpost.policy import service as policy_service
from commandpost.policy.opsfiles import SEVERITIES, OpsConfig
from commandpost.postmortems import actions
from commandpost.runbooks import toil
from commandpost.web import charts
from commandpost.web.auth import PageReader, PageRoute
from commandpost.web.render import page

router = APIRouter(route_class=PageRoute, include_in_schema=False)
RANGES = (7, 30, 90)
DEFAULT_DAYS = 30
BUDGET_POINTS = 30  # at most 31 days drawn on the burn-down
BUDGET_AXIS = (-100.0, 100.0)  # % of budget left: overspent beyond -100 % is named, not drawn
PAGES_PER_DAY = 4  # 2 pages per 12-hour block (guide §6-2): the most a person should take in a day
NOISY = 10
TOIL_MIN_INCIDENTS = 2
SHOWN = 40  # a rejected value is quoted up to this many characters


@dataclass(frozen=True)
class Filters:
    days: int
    service: str | None

    @property
    def step(self) -> timedelta:
        """Daily points over a week, weekly over a month or a quarter."""
        return timedelta(days=1 if self.days <= 7 else 7)


def _quoted(value: str) -> str:
    return repr(value if len(value) <= SHOWN else value[:SHOWN] + "…")


def filters(days: str | None, service: str | None, config: OpsConfig) -> Filters:
    """The query's range and service, or a 422 that says what is accepted."""
    chosen = DEFAULT_DAYS
    if days not in (None, ""):
        if days not in {str(d) for d in RANGES}:
            raise ValidationFailed(
                f"days: {_quoted(days)} is not one of {', '.join(map(str, RANGES))}",
                details={"field": "days"},
            )
        chosen = int(days)
    if service in (None, ""):
        return Filters(chosen, None)
    names = sorted(s.name for s in config.services)
    if service not in names:
        raise ValidationFailed(
            f"service: {_quoted(service)} is not a service in the ops folder ({', '.join(names)})",
            details={"field": "service"},
        )
    return Filters(chosen, service)


def _periods(now: datetime, f: Filters) -> list[tuple[datetime, datetime]]:
    """Consecutive periods of ``f.step`` ending now; the earliest is cut at the range's start."""
    start, out, end = now - timedelta(days=f.days), [], now
    while end > start:
        out.append((max(end - f.step, start), end))
        end -= f.step
    return out[::-1]


def response_charts(session: Session, now: datetime, f: Filters) -> list[tuple[str, charts.Chart]]:
    """Median time to acknowledge and to resolve, per severity, period by period (minutes)."""
    series: dict[str, dict[str, list[tuple[date, float | None]]]] = {"mtta": {}, "mttr": {}}
    for start, end in _periods(now, f):
        report = response.response_times(session, start=start, end=end, service=f.service)
        found = {row.severity: row for row in report.rows}
        for metric, by_sev in series.items():
            for sev in SEVERITIES:
                stat = found[sev].stats[metric] if sev in found else None
                value = stat.median / 60 if stat is not None and stat.median is not None else None
                by_sev.setdefault(sev, []).append((end.date(), value))
    per = "day" if f.step.days == 1 else "week"
    return [
        (
            f"MTTA — median per severity, by {per}",
            charts.lines("MTTA (median)", series["mtta"], ylabel="minutes"),
        ),
        (
            f"MTTR — median per severity, by {per}",
            charts.lines("MTTR (median)", series["mttr"], ylabel="minutes"),
        ),
    ]


def burn_down(session: Session, now: datetime, f: Filters) -> tuple[charts.Chart, list[Any]]:
    """Each SLO's remaining error budget (%) over the range — daily, or every 3 days over 90 (each
    point is a query per SLO: 31 points keep a quarter as cheap as a month) — and today's statuses."""
    config = policy_service.current_config(session)
    series: dict[str, list[tuple[date, float | None]]] = {}
    for k in reversed(range(0, f.days + 1, math.ceil(f.days / BUDGET_POINTS))):
        at = now - timedelta(days=k)
        for status in slo.statuses(session, config=config, now=at, service=f.service):
            ratio = status.budget.remaining_ratio if status.budget else None
            name = f"{status.service}/{status.slo.name}"
            series.setdefault(name, []).append((at.date(), float(ratio * 100) if ratio is not None else None))
    chart = charts.lines(
        "Error budget remaining",
        series,
        ylabel="% of budget left",
        unit=" %",
        bounds=BUDGET_AXIS,
        reference=(0.0, "exhausted"),
    )
    return chart, slo.statuses(session, config=config, now=now, service=f.service)


def load_heatmap(session: Session, now: datetime, f: Filters) -> charts.Chart:
    """Pages per person per period; a cell over 4 a day (2 per 12-hour block) is outlined."""
    config = policy_service.current_config(session)
    periods = _periods(now, f)
    people = [p.handle for p in config.people]
    values = [[0.0] * len(periods) for _ in people]
    for column, (start, end) in enumerate(periods):
        report = oncall_health.health(session, config=config, start=start, end=end)
        for person in report["people"]:
            if person["person"] in people:
                values[people.index(person["person"])][column] = float(person["pages"])
    labels = [f"{end:%b} {end.day}" for _start, end in periods]
    per = "day" if f.step.days == 1 else "week"
    return charts.heatmap(
        f"Pages per person per {per}",
        [f"@{p}" for p in people],
        labels,
        values,
        unit="pages",
        limit=PAGES_PER_DAY * f.step.days,
    )


def _runbooks_of(config: OpsConfig, service: str) -> set[str]:
    """The runbooks that name the service, or that it or one of its alert rules points to."""
    svc = config.service(service)
    named = {r.slug for r in config.runbooks if r.front_matter.service == service}
    if svc is None:
        return named
    return named | {svc.default_runbook or ""} | {rule.runbook or "" for rule in svc.alert_rules}


@router.get("/insights")
def metrics_page(
    request: Request, ctx: PageReader, days: str | None = None, service: str | None = None
) -> Response:
    now = ctx.now
    config = policy_service.current_config(ctx.session)
    f = filters(days, service, config)
    quality = alert_quality.alert_quality(
        ctx.session, start=now - timedelta(days=f.days), end=now, limit=NOISY if f.service is None else 1000
    )
    noisy = [row for row in quality["noisy"] if f.service in (None, row["service"])][:NOISY]
    budget_chart, statuses = burn_down(ctx.session, now, f)
    candidates = toil.candidates(
        ctx.session, min_incidents=TOIL_MIN_INCIDENTS, limit=12 if f.service is None else 500
    )
    if f.service is not None:
        owned = _runbooks_of(config, f.service)
        candidates = [c for c in candidates if c.slug in owned][:12]
    metric_charts = [
        *response_charts(ctx.session, now, f),
        (f"Error budget burn-down ({f.days} days)", budget_chart),
        (f"On-call load — pages per person, all services ({f.days} days)", load_heatmap(ctx.session, now, f)),
        (
            f"Noisy alerts ({f.days} days)",
            charts.bars(
                "Noisy firings",
                [f"{row['service']}/{row['alertname']}" for row in noisy],
                [float(row["noisy"]) for row in noisy],
                xlabel="without incident, auto-resolved or acked without action",
            ),
        ),
    ]
    return page(
        request,
        "metrics.html",
        nav="insights",
        filters=f,
        ranges=RANGES,
        services=sorted(s.name for s in config.services),
        metric_charts=metric_charts,
        statuses=statuses,
        quality=quality,
        toil=candidates,
        toil_chart=charts.bars(
            "Steps with a command done by hand",
            [f"{c.slug} {c.step_id.split('-')[0]}" for c in candidates],
            [float(c.incidents) for c in candidates],
            xlabel="incidents where it was done by hand",
        ),
        action_counts=actions.counts(ctx.session, now=now),
    )
