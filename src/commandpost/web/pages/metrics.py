"""Metrics (guide §6-1, §7) as charts: MTTx per severity over time, error-budget burn-down per SLO, on-call
load (people × weeks), noisy alerts — plus runbook toil and action-item counts, which exist already.

The four metrics charts read the metrics service (issue 8). Until it lands the page says so and draws
what the other domains already measure; the chart helpers (``web/charts.py``) are in place.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from commandpost.postmortems import actions
from commandpost.runbooks import toil
from commandpost.web import charts
from commandpost.web.auth import PageReader, PageRoute
from commandpost.web.render import page

router = APIRouter(route_class=PageRoute, include_in_schema=False)
TOIL_MIN_INCIDENTS = 2


@router.get("/insights")
def metrics_page(request: Request, ctx: PageReader) -> Response:
    candidates = toil.candidates(ctx.session, min_incidents=TOIL_MIN_INCIDENTS, limit=12)
    toil_chart = charts.bars(
        "Steps with a command done by hand",
        [f"{c.slug} {c.step_id.split('-')[0]}" for c in candidates],
        [float(c.incidents) for c in candidates],
        xlabel="incidents where it was done by hand",
    )
    return page(
        request,
        "metrics.html",
        nav="insights",
        metrics_available=False,
        toil=candidates,
        toil_chart=toil_chart,
        action_counts=actions.counts(ctx.session, now=ctx.now),
    )
