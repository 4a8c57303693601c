"""The labelled set of tests/fixtures/similar/labelled.yaml, stored as rows, and its precision@3.

Rows are inserted as an import would (incident, then its alerts, then its postmortem), so the
database's triggers index them exactly as they index live incidents. Used by
tests/service/test_similar_quality.py and bench/similar.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from commandpost.alerts.models import Alert
from commandpost.incidents.models import Incident
from commandpost.policy.models import IntegrationKey
from commandpost.postmortems.models import Postmortem
from commandpost.similar import service

LABELLED = Path(__file__).resolve().parent / "fixtures" / "similar" / "labelled.yaml"
FIRST = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
FIRST_NUMBER = 1000


@dataclass(frozen=True)
class Labelled:
    numbers: dict[str, int]
    """fixture id → incident number"""
    expected: dict[str, list[str]]


def load(session: Session, path: Path = LABELLED, *, declared_queries: bool = False) -> Labelled:
    """Every incident of the set, one a day from :data:`FIRST`, numbered from :data:`FIRST_NUMBER`.

    ``declared_queries``: the queries come without their alerts, as a person declares an incident
    (only its words and service to go by)."""
    doc = yaml.safe_load(path.read_text())
    key = IntegrationKey(
        name="labelled-set", service="labelled", source="generic", key="labelled-set-key", created_at=FIRST
    )
    session.add(key)
    session.flush()
    numbers = {}
    for i, item in enumerate(doc["incidents"]):
        incident = _incident(item, number=FIRST_NUMBER + i, at=FIRST + timedelta(days=i))
        session.add(incident)
        session.flush()
        alerts = [] if declared_queries and item.get("query") else item.get("alerts") or []
        for j, alert in enumerate(alerts):
            session.add(_alert(alert, key=key, incident=incident, n=j))
        session.flush()
        if item.get("root_cause"):
            session.add(_postmortem(item["root_cause"], incident=incident))
            session.flush()
        numbers[item["id"]] = incident.number
    return Labelled(numbers=numbers, expected=doc["expected"])


def precision_at_3(session: Session, labelled: Labelled) -> dict[str, float]:
    """Per query: the share of the top 3 suggestions that are expected."""
    by_number = {n: i for i, n in labelled.numbers.items()}
    out = {}
    for query, expected in labelled.expected.items():
        found = service.similar(session, number=labelled.numbers[query])
        hits = sum(1 for s in found if by_number[s.incident.number] in expected)
        out[query] = hits / 3
    return out


def _incident(item: dict[str, Any], *, number: int, at: datetime) -> Incident:
    finished = not item.get("query")
    return Incident(
        number=number,
        title=item["title"],
        summary=item.get("summary", ""),
        impact="",
        service=item["service"],
        severity="SEV2",
        status="closed" if finished else "investigating",
        labels={"drill": "true"} if item.get("drill") else {},
        data_loss=False,
        manual_intervention=False,
        detection="automatic" if item.get("alerts") else "manual",
        channel=f"inc-{number}",
        group_key=None,
        open_group=None,
        runbook=f"{item['service']}-{item['id'][:2]}" if item.get("alerts") else None,
        no_runbook=not item.get("alerts"),
        created_by="labelled-set",
        detected_at=at,
        declared_at=at,
        mitigated_at=at + timedelta(minutes=17 + number % 40) if finished else None,
        resolved_at=at + timedelta(hours=2) if finished else None,
        closed_at=at + timedelta(days=1) if finished else None,
        reopen_count=0,
        updated_at=at,
    )


def _alert(item: dict[str, Any], *, key: IntegrationKey, incident: Incident, n: int) -> Alert:
    labels = {"alertname": item["alertname"], **item.get("labels", {})}
    return Alert(
        integration_id=key.id,
        integration=key.name,
        service=incident.service or "",
        source="alertmanager",
        dedup_key=f"{incident.number}-{n}",
        open_dedup_key=None,
        status="resolved",
        severity=incident.severity,
        paging=True,
        outcome="incident_opened" if n == 0 else "attached",
        alertname=item["alertname"],
        summary=incident.title,
        group_key=f"alertname={item['alertname']}",
        labels=labels,
        first_seen_at=incident.detected_at,
        last_seen_at=incident.detected_at,
        incident_id=incident.id,
        incident_number=incident.number,
    )


def _postmortem(root_cause: str, *, incident: Incident) -> Postmortem:
    at = incident.declared_at + timedelta(days=2)
    return Postmortem(
        incident_id=incident.id,
        status="final",
        title=incident.title,
        required=True,
        criteria={},
        evaluated_at=at,
        evaluated_for=at,
        sections={"root_cause": root_cause},
        created_at=at,
        created_by="labelled-set",
        updated_at=at,
    )
