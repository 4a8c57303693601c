"""The metrics API under ``/api/v1``: response times, SLOs (budgets, burn rates, freeze, pushed
counts), on-call health, alert quality and toil. Thin: the metrics modules decide.
``Reader`` for every read; pushing counts needs ``Responder``."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from commandpost.deps import IsoDatetime, Reader, Responder
from commandpost.metrics import alert_quality, oncall_health, response, rules, slo, toil
from commandpost.metrics.schemas import EventsIn
from commandpost.policy import service as policy_service
from commandpost.runbooks import toil as runbook_toil

router = APIRouter(prefix="/api/v1", tags=["metrics"])

From = Annotated[IsoDatetime | None, Query(alias="from", description="ISO 8601; no offset = UTC")]
To = Annotated[IsoDatetime | None, Query(description="ISO 8601, exclusive; default now")]


@router.get("/metrics/response", summary="MTTD / MTTA / MTTM / MTTR per severity: count, mean, median, p90")
def response_times(
    ctx: Reader,
    start: From = None,
    to: To = None,
    service: str | None = None,
    severity: str | None = None,
) -> dict[str, Any]:
    lo, hi = rules.period(start, to, ctx.now, timedelta(days=90))
    return response.response_times(
        ctx.session, start=lo, end=hi, service=service, severity=severity
    ).to_dict()


@router.get("/slos", summary="Every SLO's error budget, burn rates and alerts, and each service's freeze")
def list_slos(ctx: Reader, service: str | None = None) -> dict[str, Any]:
    config = policy_service.current_config(ctx.session)
    found = slo.statuses(ctx.session, config=config, now=ctx.now, service=service)
    return {
        "at": ctx.now.isoformat(),
        "slos": [st.to_dict() for st in found],
        "services": [f.to_dict() for f in slo.freezes(found)],
    }


@router.get("/slos/targets", summary="Allowed downtime per SLO window and severities that cannot fit it")
def slo_targets(ctx: Reader) -> dict[str, Any]:
    return slo.targets(policy_service.current_config(ctx.session), ctx.now)


@router.get("/slos/{service}/{slo_name}", summary="One SLO: budget, burn rates, alerts, freeze")
def get_slo(service: str, slo_name: str, ctx: Reader) -> dict[str, Any]:
    config = policy_service.current_config(ctx.session)
    slo.find(config, service, slo_name)
    every = slo.statuses(ctx.session, config=config, now=ctx.now, service=service)
    (found,) = (st for st in every if st.slo.name == slo_name)
    (freeze,) = slo.freezes(every)
    return found.to_dict() | {"service_freeze": freeze.to_dict()}


@router.post("/slos/{service}/{slo_name}/events", summary="Push SLI counts (batched; idempotent by id)")
def push_events(service: str, slo_name: str, body: EventsIn, ctx: Responder) -> dict[str, Any]:
    config = policy_service.current_config(ctx.session)
    got = slo.push(
        ctx.session,
        config=config,
        service=service,
        slo=slo_name,
        counts=[e.count() for e in body.events],
        now=ctx.now,
    )
    ctx.audit_target(f"slo:{service}/{slo_name}", accepted=got.accepted, duplicates=got.duplicates)
    return {"accepted": got.accepted, "duplicates": got.duplicates}


@router.get("/metrics/oncall-health", summary="Pages per 12-hour block, sleep/off-hours pages, on-call share")
def oncall(
    ctx: Reader,
    start: From = None,
    to: To = None,
    hours_per_incident: Annotated[float, Query(gt=0, le=48)] = rules.HOURS_PER_INCIDENT,
) -> dict[str, Any]:
    lo, hi = rules.period(start, to, ctx.now, timedelta(days=30))
    config = policy_service.current_config(ctx.session)
    return oncall_health.health(
        ctx.session, config=config, start=lo, end=hi, hours_per_incident=hours_per_incident
    )


@router.get("/metrics/alert-quality", summary="Alerts per incident, noisy alerts, pages without a runbook")
def alerts(
    ctx: Reader,
    start: From = None,
    to: To = None,
    auto_resolve_minutes: Annotated[int, Query(ge=1, le=1440)] = alert_quality.AUTO_RESOLVE_MINUTES,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict[str, Any]:
    lo, hi = rules.period(start, to, ctx.now, timedelta(days=30))
    return alert_quality.alert_quality(
        ctx.session, start=lo, end=hi, auto_resolve_minutes=auto_resolve_minutes, limit=limit
    )


@router.get("/metrics/toil", summary="Automation candidates ranked by hand-executions × time")
def toil_ranked(
    ctx: Reader,
    min_incidents: Annotated[int, Query(ge=1, le=1000)] = runbook_toil.DEFAULT_MIN_INCIDENTS,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[dict[str, Any]]:
    return toil.ranked(ctx.session, min_incidents=min_incidents, limit=limit)
