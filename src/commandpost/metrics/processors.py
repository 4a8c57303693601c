"""The engine processor for multiwindow burn-rate alerts (SRE workbook), raised through the alert intake.

Once per minute it computes every SLO's burn rates (the same SQL as the API), publishes the
Prometheus gauges, and for each SLO with pushed counts and each condition (14.4× over 1 h and
5 m → page; 6× over 6 h and 30 m → page; 1× over 3 d and 6 h → ticket) compares "firing now"
with ``slo_alert_state``. A change is taken by a conditional UPDATE (``WHERE firing = :was``),
so of two engine replicas exactly one raises or resolves. Raising is a ``trigger`` event of
source ``slo`` through ``alerts.service.ingest`` — routed by the service's alert rules, linked
to the runbook whose front matter names the SLO, paged like any alert; clearing is its ``resolve``.

SLOs fed by incident impact windows are not alerted on: their bad minutes come from an incident
that already exists and paged.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from commandpost.alerts import service as alerts_service
from commandpost.alerts.normalized import NormalizedEvent
from commandpost.db.upsert import insert_for
from commandpost.errors import Unavailable
from commandpost.metrics import prometheus, rules, slo
from commandpost.metrics.models import SloAlertState
from commandpost.metrics.rules import ALERTNAME, dedup_key
from commandpost.policy import service as policy_service
from commandpost.policy.models import IntegrationKey
from commandpost.policy.opsfiles import OpsConfig

SOURCE = "slo"
_STATE = cast(Table, SloAlertState.__table__)
_KEYS = cast(Table, IntegrationKey.__table__)


def integration(session: Session, service: str, now: datetime) -> alerts_service.IntegrationRef:
    """The service's internal ``slo`` integration row (created inactive on first use: its key opens
    no intake URL and ``apply`` leaves undeclared inactive rows alone)."""
    name = f"slo:{service}"
    session.execute(
        insert_for(session, _KEYS)
        .values(
            name=name, service=service, source=SOURCE, key=secrets.token_hex(16), created_at=now, active=False
        )
        .on_conflict_do_nothing()
    )
    found = session.scalar(select(IntegrationKey.id).where(IntegrationKey.name == name))
    assert found is not None
    return alerts_service.IntegrationRef(id=int(found), name=name, service=service, source=SOURCE)


def _runbook(config: OpsConfig, service: str, slo_name: str) -> str | None:
    """The runbook whose front matter names this SLO (and this service, or none)."""
    for runbook in sorted(config.runbooks, key=lambda r: r.slug):
        front = runbook.front_matter
        if front.slo == slo_name and front.service in (None, service):
            return runbook.slug
    return None


def _event(config: OpsConfig, st: slo.SloStatus, condition: rules.Condition, action: str) -> NormalizedEvent:
    long, short = st.burn.get(condition.long), st.burn.get(condition.short)
    name = f"{st.service} {st.slo.name}"
    summary = (
        f"{name}: error budget burning {float(long or 0):.1f}× over {condition.long} and "
        f"{float(short or 0):.1f}× over {condition.short} (> {float(condition.factor):g}×, "
        f"SLO {st.slo.objective:g} % per {st.slo.window})"
    )
    remaining = st.budget.remaining_ratio if st.budget else None
    return NormalizedEvent(
        action=action,  # type: ignore[arg-type]
        dedup_key=dedup_key(st.service, st.slo.name, condition.name),
        summary=summary
        if action == "trigger"
        else f"{name}: burn rate back under {float(condition.factor):g}×",
        source_severity=condition.kind,
        alertname=ALERTNAME,
        source="commandpost slo",
        labels=rules.burn_labels(st.service, st.slo.name, condition),
        details={
            "burn_rates": {w: None if v is None else round(float(v), 4) for w, v in st.burn.items()},
            "objective": st.slo.objective,
            "window": st.slo.window,
            "budget_remaining_percent": None if remaining is None else round(float(remaining * 100), 3),
        },
        group_key=f"slo/{st.service}/{st.slo.name}",
        runbook_url=_runbook(config, st.service, st.slo.name),
    )


def _flip(session: Session, key: tuple[str, str, str], *, to: bool, now: datetime) -> bool:
    """Take the change of one condition: True for exactly one caller."""
    service, slo_name, condition = key
    session.execute(
        insert_for(session, _STATE)
        .values(service=service, slo=slo_name, condition=condition, firing=False, changed_at=now)
        .on_conflict_do_nothing()
    )
    result = session.execute(
        update(_STATE)
        .where(
            _STATE.c.service == service,
            _STATE.c.slo == slo_name,
            _STATE.c.condition == condition,
            _STATE.c.firing.is_(not to),
        )
        .values(firing=to, changed_at=now)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def evaluate(session: Session, config: OpsConfig, now: datetime) -> int:
    """One evaluation: publish gauges, raise what started firing, resolve what cleared."""
    statuses = slo.statuses(session, config=config, now=now)
    prometheus.publish(statuses)
    done = 0
    evaluated: set[tuple[str, str, str]] = set()
    for st in statuses:
        if st.source != "events":
            continue
        firing = {c.name for c in st.firing}
        for condition in rules.CONDITIONS:
            key = (st.service, st.slo.name, condition.name)
            evaluated.add(key)
            fires = condition.name in firing
            if _flip(session, key, to=fires, now=now):
                event = _event(config, st, condition, "trigger" if fires else "resolve")
                ref = integration(session, st.service, now)
                (outcome,) = alerts_service.ingest(
                    session, integration=ref, events=[event], now=now, config=config
                )
                if fires and outcome.alert_id is not None:
                    session.execute(
                        update(_STATE)
                        .where(
                            _STATE.c.service == key[0], _STATE.c.slo == key[1], _STATE.c.condition == key[2]
                        )
                        .values(alert_id=outcome.alert_id)
                    )
                done += 1
    done += _resolve_orphans(session, config, evaluated, now)
    session.flush()
    return done


def _resolve_orphans(
    session: Session, config: OpsConfig, evaluated: set[tuple[str, str, str]], now: datetime
) -> int:
    """Conditions still firing for SLOs no longer alerted on (removed from ops): resolve them."""
    done = 0
    rows = session.execute(
        select(SloAlertState.service, SloAlertState.slo, SloAlertState.condition).where(
            SloAlertState.firing.is_(True)
        )
    ).all()
    for service, slo_name, condition in rows:
        key = (str(service), str(slo_name), str(condition))
        if key in evaluated or not _flip(session, key, to=False, now=now):
            continue
        event = NormalizedEvent(
            action="resolve",
            dedup_key=dedup_key(*key),
            summary=f"{service} {slo_name}: no longer alerted on",
            source="commandpost slo",
        )
        alerts_service.ingest(
            session, integration=integration(session, key[0], now), events=[event], now=now, config=config
        )
        done += 1
    return done


class BurnRateAlerts:
    """Evaluates once per UTC minute (the windows' resolution); ``next_due`` is the next minute."""

    name = "metrics.burn_rate_alerts"

    def __init__(self) -> None:
        self._evaluated: int | None = None

    def has_work(self, session: Session, now: datetime) -> bool:
        return self._evaluated != rules.window_end(now)

    def run(self, session: Session, now: datetime) -> int:
        minute = rules.window_end(now)
        if self._evaluated == minute:
            return 0
        try:
            config = policy_service.current_config(session)
        except Unavailable:
            return 0
        done = evaluate(session, config, now)
        self._evaluated = minute
        return done

    def next_due(self, session: Session, now: datetime) -> datetime | None:
        return datetime.fromtimestamp(rules.window_end(now), UTC)
