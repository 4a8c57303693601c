"""Similar past incidents: candidates from the database's own full-text index, scored with alert identity.

The index (``incident_search``, migration 0021) is kept by triggers: an FTS5 table on SQLite, a
``tsvector`` with a GIN index on PostgreSQL. :func:`similar` asks it for the 100 incidents whose
documents best match the words of this one, keeps those declared before it that are not drills, and
scores each (:func:`rules.combine`): text rank relative to the incident's own, shared alertnames and
labels, same service. The three best above :data:`rules.MIN_SCORE` are shown.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, bindparam, func, select, text
from sqlalchemy.orm import Session

from commandpost.alerts.models import Alert
from commandpost.incidents import rules as incident_rules
from commandpost.incidents import timeline
from commandpost.incidents.models import Incident
from commandpost.policy.durations import format_duration
from commandpost.postmortems.models import Postmortem
from commandpost.similar import rules

CANDIDATES = 100
ALERTS_READ = 20
"""Alerts read per incident, as many as the index holds (0021)."""

_PAST = [
    bindparam("id", type_=Integer()),
    bindparam("at", type_=Incident.__table__.c.declared_at.type),
    bindparam("n", type_=Integer()),
]
"""Only incidents declared before this one, never itself: filtered before the LIMIT, so a long later
history cannot crowd the past out of the candidates."""
_SQLITE = text(
    "SELECT s.rowid, -bm25(incident_search, 4.0, 2.0, 1.0, 2.0) AS rank FROM incident_search s "
    "JOIN incident i ON i.id = s.rowid "
    "WHERE incident_search MATCH :q AND i.id != :id AND i.declared_at < :at ORDER BY rank DESC LIMIT :n"
).bindparams(*_PAST)
_SQLITE_SELF = text(
    "SELECT -bm25(incident_search, 4.0, 2.0, 1.0, 2.0) FROM incident_search "
    "WHERE incident_search MATCH :q AND rowid = :id"
)
_PG = text(
    "SELECT s.incident_id, ts_rank('{0.1, 0.4, 0.7, 1.0}', s.document, q) AS rank "
    "FROM incident_search s JOIN incident i ON i.id = s.incident_id, to_tsquery('english', :q) q "
    "WHERE s.document @@ q AND i.id != :id AND i.declared_at < :at ORDER BY rank DESC LIMIT :n"
).bindparams(*_PAST)
_PG_SELF = text(
    "SELECT ts_rank('{0.1, 0.4, 0.7, 1.0}', document, to_tsquery('english', :q)) "
    "FROM incident_search WHERE incident_id = :id"
)


@dataclass(frozen=True)
class Similar:
    """One suggestion: the past incident, its score and why, its postmortem's status (None: none
    started or not required) and how long it took to mitigate (to resolve, if never marked mitigated)."""

    incident: Incident
    score: float
    reasons: tuple[str, ...]
    postmortem: str | None
    time_to_mitigate: timedelta | None


def is_drill(incident: Incident) -> bool:
    """Label ``drill`` is ``true``, as the metrics and the status page read it: drills are never suggested."""
    value = (incident.labels or {}).get("drill")
    return value is not None and str(value).strip().lower() == "true"


def similar(session: Session, *, number: str | int, limit: int = rules.SHOWN) -> list[Similar]:
    """The ``limit`` past incidents most like incident ``number`` (404 if there is none), best first."""
    incident = timeline.incident(session, number=number)
    return for_incident(session, incident=incident, limit=limit)


def for_incident(session: Session, *, incident: Incident, limit: int = rules.SHOWN) -> list[Similar]:
    identities = _identities(session, [incident.id])
    own = identities[incident.id]
    # The service counts once, as SERVICE_WEIGHT; its words only when the incident has no others.
    terms = rules.words(incident.title, *own.words(), incident.summary or "") or rules.words(
        incident.service or ""
    )
    if not terms:
        return []
    ranks = _ranks(session, incident=incident, terms=terms)
    if not ranks:
        return []
    best = _self_rank(session, incident_id=incident.id, terms=terms) or max(ranks.values())
    rows = session.scalars(select(Incident).where(Incident.id.in_(list(ranks))))
    past = [row for row in rows if not is_drill(row)]
    identities.update(_identities(session, [row.id for row in past]))
    scored = []
    for row in past:
        result = rules.combine(
            text=ranks[row.id] / best if best > 0 else 0.0,
            query=own,
            candidate=identities[row.id],
            same_service=bool(incident.service) and row.service == incident.service,
            service=incident.service,
        )
        if result.score >= rules.MIN_SCORE:
            scored.append((result, row))
    scored.sort(key=lambda pair: (-pair[0].score, -pair[1].declared_at.timestamp(), pair[1].number))
    top = scored[:limit]
    statuses = _postmortems(session, [row.id for _, row in top])
    return [
        Similar(
            incident=row,
            score=result.score,
            reasons=result.reasons,
            postmortem=statuses.get(row.id),
            time_to_mitigate=_mitigated_in(row),
        )
        for result, row in top
    ]


def _ranks(session: Session, *, incident: Incident, terms: Sequence[str]) -> dict[int, float]:
    """The text rank of the :data:`CANDIDATES` best-matching incidents declared before ``incident``."""
    past = {"id": incident.id, "at": incident.declared_at, "n": CANDIDATES}
    if session.get_bind().dialect.name == "sqlite":
        query, params = _SQLITE, {"q": rules.fts5_query(terms), **past}
    else:
        query, params = _PG, {"q": rules.tsquery(terms), **past}
    return {int(row[0]): float(row[1]) for row in session.execute(query, params)}


def _self_rank(session: Session, *, incident_id: int, terms: Sequence[str]) -> float | None:
    if session.get_bind().dialect.name == "sqlite":
        value = session.scalar(_SQLITE_SELF, {"q": rules.fts5_query(terms), "id": incident_id})
    else:
        value = session.scalar(_PG_SELF, {"q": rules.tsquery(terms), "id": incident_id})
    return float(value) if value else None


def _identities(session: Session, incident_ids: Sequence[int]) -> dict[int, rules.Identity]:
    """Each incident's identity from its first :data:`ALERTS_READ` alerts and its own labels."""
    if not incident_ids:
        return {}
    numbered = (
        select(
            Alert.incident_id,
            Alert.alertname,
            Alert.labels,
            func.row_number().over(partition_by=Alert.incident_id, order_by=Alert.id).label("n"),
        )
        .where(Alert.incident_id.in_(incident_ids))
        .subquery()
    )
    alerts: dict[int, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for row in session.execute(select(numbered).where(numbered.c.n <= ALERTS_READ)):
        alerts[row.incident_id].append((row.alertname, row.labels or {}))
    own = session.execute(select(Incident.id, Incident.labels).where(Incident.id.in_(incident_ids)))
    labels = {row.id: row.labels or {} for row in own}
    return {i: rules.Identity.of(alerts.get(i, []), labels.get(i, {})) for i in incident_ids}


def _postmortems(session: Session, incident_ids: Sequence[int]) -> dict[int, str]:
    rows = session.execute(
        select(Postmortem.incident_id, Postmortem.status).where(
            Postmortem.incident_id.in_(incident_ids), Postmortem.status != "not_required"
        )
    )
    return {incident_id: status for incident_id, status in rows}


def _mitigated_in(incident: Incident) -> timedelta | None:
    end = incident.mitigated_at or incident.resolved_at
    return end - incident.detected_at if end and end >= incident.detected_at else None


def note_declared(session: Session, incident: Incident, now: datetime) -> None:
    """:func:`note_opened` for an incident a person declared; one opened from an alert is noted by
    alerts' ``incident_opened`` seam, once its alert (and so its identity) is attached."""
    if incident.detection != "automatic":
        note_opened(session, incident, now)


def note_opened(session: Session, incident: Incident, now: datetime) -> None:
    """One timeline line naming the similar past incidents, when there are any: what an IC woken at
    3 a.m. reads first (the incident's page has the links, the API the scores)."""
    found = for_incident(session, incident=incident)
    if not found:
        return
    timeline.append(
        session,
        incident=incident,
        kind="system",
        text="Similar past incidents: " + "; ".join(_line(s) for s in found),
        author=incident_rules.SYSTEM_AUTHOR,
        now=now,
        data={"similar": [{"number": s.incident.number, "score": s.score} for s in found]},
    )


def _line(found: Similar) -> str:
    parts = [f"{incident_rules.format_number(found.incident.number)} {found.incident.title[:80]}"]
    if found.time_to_mitigate is not None:
        parts.append(f"mitigated in {format_duration(found.time_to_mitigate)}")
    if found.incident.runbook:
        parts.append(f"runbook {found.incident.runbook}")
    if found.postmortem:
        parts.append(f"postmortem {found.postmortem.replace('_', ' ')}")
    return ", ".join(parts)
