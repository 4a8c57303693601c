"""A past incident to drill from, built as it happened (alert, ack, decision, mitigated, resolved).

INC-1 on payment-platform, SEV2, opened by an alert at ``t0`` (the frozen clock): acked by @yuta at
+4 min, a decision at +10 min, mitigated at +20 min, resolved at +30 min. Used by the drill tests.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from commandpost.alerts.models import Alert
from commandpost.incidents import service as incidents_service
from commandpost.incidents import timeline
from commandpost.incidents.models import Incident
from commandpost.policy.models import IntegrationKey


def past_incident(s: Session, t0: datetime) -> Incident:
    incident, _ = incidents_service.open_or_attach(
        s,
        service="payment-platform",
        severity="SEV2",
        title="Checkout error rate above 5%",
        group_key="checkout-errors",
        impact_started_at=None,
        detected_at=None,
        runbook=None,
        no_runbook=True,
        source_summary="alertmanager: CheckoutErrors",
        now=t0,
    )
    name = f"drill-fixture-{incident.number}"
    key = IntegrationKey(name=name, service="payment-platform", source="generic", key=name, created_at=t0)
    s.add(key)
    s.flush()
    s.add(
        Alert(
            integration_id=key.id,
            integration=name,
            service="payment-platform",
            source="generic",
            dedup_key="checkout-errors",
            status="resolved",
            severity="SEV2",
            paging=True,
            outcome="opened",
            alertname="CheckoutErrors",
            summary="5xx above 5% on /checkout",
            group_key="checkout-errors",
            labels={"route": "/checkout"},
            first_seen_at=t0,
            last_seen_at=t0,
            incident_id=incident.id,
            incident_number=incident.number,
        )
    )
    s.flush()
    incidents_service.acknowledge(s, incident=incident, person="yuta", now=t0 + timedelta(minutes=4))
    incidents_service.add_entry(
        s,
        incident=incident,
        kind="decision",
        text="roll back release 42",
        actor="yuta",
        now=t0 + timedelta(minutes=10),
    )
    for minutes, status in ((20, "mitigated"), (30, "resolved")):
        incidents_service.change_status(
            s,
            incident=timeline.incident(s, number=incident.number),
            status=status,
            actor="yuta",
            now=t0 + timedelta(minutes=minutes),
        )
    return incident
