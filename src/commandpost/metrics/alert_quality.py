"""Alert quality (guide §8: "make only what a human definitely moves on into paging", 1:1 alert/incident).

Over alerts first seen in a period: how many alerts each incident took, the noisiest alert names
(fired without an incident, resolved by their source within N minutes with nobody acknowledging,
acknowledged with no action after), and pages sent without a runbook. All counted in SQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from commandpost.db.base import UTCDateTime
from commandpost.incidents.rules import SYSTEM_AUTHOR
from commandpost.metrics.dialect import Dialect

AUTO_RESOLVE_MINUTES = 5
ACTION_KINDS = ("action", "decision", "status", "runbook_step", "severity", "comms")
"""Timeline entries that show a person did something about an incident (a note alone does not)."""


def _typed(sql: str) -> Any:
    binds = [bindparam("start", type_=UTCDateTime()), bindparam("end", type_=UTCDateTime())]
    if ":kinds" in sql:
        binds.append(bindparam("kinds", expanding=True))
    return text(sql).bindparams(*binds)


def alert_quality(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    auto_resolve_minutes: int = AUTO_RESOLVE_MINUTES,
    limit: int = 10,
) -> dict[str, Any]:
    d = Dialect.of(session)
    params: dict[str, Any] = {
        "start": start,
        "end": end,
        "auto": auto_resolve_minutes * 60,
        "limit": limit,
        "kinds": list(ACTION_KINDS),
        "system": SYSTEM_AUTHOR,
    }
    auto = (
        f"a.resolved_at IS NOT NULL AND a.acknowledged_at IS NULL "
        f"AND {d.epoch('a.resolved_at')} - {d.epoch('a.first_seen_at')} <= :auto"
    )
    idle = (
        "a.acknowledged_at IS NOT NULL AND (a.incident_id IS NULL OR NOT EXISTS ("
        "SELECT 1 FROM timeline_entry t "
        "WHERE t.incident_id = a.incident_id AND t.kind IN :kinds AND t.author <> :system))"
    )
    period = "a.first_seen_at >= :start AND a.first_seen_at < :end"
    summary = session.execute(
        _typed(
            "SELECT COUNT(*), COALESCE(SUM(a.count), 0), "
            "SUM(CASE WHEN a.incident_id IS NOT NULL THEN 1 ELSE 0 END), COUNT(DISTINCT a.incident_id), "
            "SUM(CASE WHEN a.paging THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN a.paging AND a.no_runbook THEN 1 ELSE 0 END) "
            f"FROM alert a WHERE {period}"
        ),
        params,
    ).one()
    alerts, firings, linked, incidents, paging, unrunbooked = (int(v or 0) for v in summary)
    noisy = session.execute(
        _typed(
            "SELECT a.service, a.alertname, COUNT(*) AS alerts, SUM(a.count) AS firings, "
            "SUM(CASE WHEN a.incident_id IS NULL THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN {auto} THEN 1 ELSE 0 END), SUM(CASE WHEN {idle} THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN a.incident_id IS NULL OR ({auto}) OR ({idle}) THEN 1 ELSE 0 END) AS noisy, "
            "SUM(CASE WHEN a.paging AND a.no_runbook THEN 1 ELSE 0 END) "
            f"FROM alert a WHERE {period} GROUP BY a.service, a.alertname "
            "ORDER BY noisy DESC, firings DESC, a.service, a.alertname LIMIT :limit"
        ),
        params,
    ).all()
    pages = session.execute(
        _typed(
            "SELECT COUNT(*), SUM(CASE WHEN i.no_runbook OR i.runbook IS NULL THEN 1 ELSE 0 END) FROM "
            "(SELECT DISTINCT m.person, m.incident_id, m.due_at FROM outgoing_message m "
            "WHERE m.key LIKE 'page/%' AND m.person IS NOT NULL "
            "AND m.due_at >= :start AND m.due_at < :end) p "
            "JOIN incident i ON i.id = p.incident_id"
        ),
        params,
    ).one()
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "auto_resolve_minutes": auto_resolve_minutes,
        "alerts": alerts,
        "firings": firings,
        "paging_alerts": paging,
        "alerts_with_incident": linked,
        "incidents": incidents,
        "alerts_per_incident": round(linked / incidents, 3) if incidents else None,
        "paging_alerts_without_runbook": unrunbooked,
        "pages": int(pages[0] or 0),
        "pages_without_runbook": int(pages[1] or 0),
        "noisy": [
            {
                "service": row[0],
                "alertname": row[1] or "(no name)",
                "alerts": int(row[2]),
                "firings": int(row[3] or 0),
                "without_incident": int(row[4] or 0),
                "auto_resolved": int(row[5] or 0),
                "acked_without_action": int(row[6] or 0),
                "noisy": int(row[7] or 0),
                "without_runbook": int(row[8] or 0),
            }
            for row in noisy
            if row[7]
        ],
    }
