"""Metrics (guide §6-1, §7) as charts: MTTA / MTTR per severity by week, error-budget burn-down per SLO,
on-call load (people × weeks), noisy alerts, runbook toil and postmortem action items.

Every number comes from the metrics service (``metrics.response``, ``metrics.slo``,
``metrics.oncall_health``, ``metrics.alert_quality``) and the runbooks and postmortems services; this
module only asks them for consecutive periods and hands the series to ``web/charts.py``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from commandpost.metrics import alert_quality, oncall_health, response, slo
from commandpost.policy import service as policy_service
from commandpost.policy.opsfiles import SEVERITIES
from commandpost.postmortems import actions
from commandpost.runbooks import toil
from commandpost.web import charts
from commandpost.web.auth import PageReader, PageRoute
from commandpost.web.render import page

router = APIRouter(route_class=PageRoute, include_in_schema=False)
WEEKS = 12
LOAD_WEEKS = 8
BURN_DAYS = 30
TOIL_MIN_INCIDENTS = 2


def _weeks(now: datetime, count: int) -> list[tuple[datetime, datetime]]:
    return [(now - timedelta(weeks=k + 1), now - timedelta(weeks=k)) for k in reversed(range(count))]


def response_charts(session: Session, now: datetime) -> list[tuple[str, Markup]]:
    """Median time to acknowledge and to resolve, per severity, week by week (minutes)."""
    series: dict[str, dict[str, list[tuple[date, float | None]]]] = {"mtta": {}, "mttr": {}}
    for start, end in _weeks(now, WEEKS):
        report = response.response_times(session, start=start, end=end)
        found = {row.severity: row for row in report.rows}
        for metric, by_sev in series.items():
            for sev in SEVERITIES:
                stat = found[sev].stats[metric] if sev in found else None
                value = stat.median / 60 if stat is not None and stat.median is not None else None
                by_sev.setdefault(sev, []).append((end.date(), value))
    return [
        (
            "MTTA — median per severity, by week",
            charts.lines("MTTA (median)", series["mtta"], ylabel="minutes"),
        ),
        (
            "MTTR — median per severity, by week",
            charts.lines("MTTR (median)", series["mttr"], ylabel="minutes"),
        ),
    ]


def burn_down(session: Session, now: datetime) -> tuple[Markup, list[Any]]:
    """Each SLO's remaining error budget (%) day by day over the last 30 days, and today's statuses."""
    config = policy_service.current_config(session)
    series: dict[str, list[tuple[date, float | None]]] = {}
    for k in reversed(range(BURN_DAYS + 1)):
        at = now - timedelta(days=k)
        for status in slo.statuses(session, config=config, now=at):
            ratio = status.budget.remaining_ratio if status.budget else None
            name = f"{status.service}/{status.slo.name}"
            series.setdefault(name, []).append((at.date(), float(ratio * 100) if ratio is not None else None))
    chart = charts.lines("Error budget remaining", series, ylabel="% of budget", reference=(0.0, "exhausted"))
    return chart, slo.statuses(session, config=config, now=now)


def load_heatmap(session: Session, now: datetime) -> Markup:
    """Pages per person per week (cells over 2 × 7 × 2 = 28 would break the 2-per-12-h limit every shift)."""
    config = policy_service.current_config(session)
    weeks = _weeks(now, LOAD_WEEKS)
    people = [p.handle for p in config.people]
    values = [[0.0] * len(weeks) for _ in people]
    for column, (start, end) in enumerate(weeks):
        report = oncall_health.health(session, config=config, start=start, end=end)
        for person in report["people"]:
            if person["person"] in people:
                values[people.index(person["person"])][column] = float(person["pages"])
    labels = [end.strftime("%m-%d") for _start, end in weeks]
    return charts.heatmap(
        "Pages per person per week", [f"@{p}" for p in people], labels, values, unit="pages", limit=28
    )


@router.get("/insights")
def metrics_page(request: Request, ctx: PageReader) -> Response:
    now = ctx.now
    quality = alert_quality.alert_quality(ctx.session, start=now - timedelta(days=30), end=now)
    noisy = quality["noisy"]
    budget_chart, statuses = burn_down(ctx.session, now)
    candidates = toil.candidates(ctx.session, min_incidents=TOIL_MIN_INCIDENTS, limit=12)
    metric_charts = [
        *response_charts(ctx.session, now),
        ("Error budget burn-down (30 days)", budget_chart),
        ("On-call load — pages per person and week", load_heatmap(ctx.session, now)),
        (
            "Noisy alerts (30 days)",
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
