"""Toil ranked by hand-executions × time (guide §6-3): the runbooks domain's automation candidates
(``runbooks.toil.candidates``: steps with a command done by hand in N+ incidents), each timed.

The time of one execution is the gap between marking the step done and the previous mark in the
same checklist (or its attachment), capped at :data:`STEP_CAP_SECONDS` so a checklist left open
overnight does not dominate; a step's time is the median of its executions (nearest rank).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from commandpost.metrics.dialect import Dialect
from commandpost.runbooks import toil as runbook_toil

STEP_CAP_SECONDS = 3600


def ranked(
    session: Session, *, min_incidents: int = runbook_toil.DEFAULT_MIN_INCIDENTS, limit: int = 20
) -> list[dict[str, Any]]:
    candidates = runbook_toil.candidates(session, min_incidents=min_incidents, limit=200)
    if not candidates:
        return []
    d = Dialect.of(session)
    marked = d.epoch("s.marked_at")
    sql = text(
        "WITH marks AS (SELECT s.slug, s.step_hash, s.state, s.has_command, "
        f"{marked} - COALESCE(LAG({marked}) OVER (PARTITION BY s.attachment_id ORDER BY s.marked_at, s.id), "
        f"{d.epoch('a.attached_at')}) AS gap "
        "FROM runbook_step_state s JOIN incident_runbook a ON a.id = s.attachment_id), "
        "timed AS (SELECT slug, step_hash, "
        "CASE WHEN gap < 0 THEN 0 WHEN gap > :cap THEN :cap ELSE gap END AS d "
        "FROM marks WHERE state = 'done' AND has_command), "
        "ranked AS (SELECT slug, step_hash, d, "
        "ROW_NUMBER() OVER (PARTITION BY slug, step_hash ORDER BY d) AS rn, "
        "COUNT(*) OVER (PARTITION BY slug, step_hash) AS n FROM timed) "
        "SELECT slug, step_hash, MAX(n), SUM(d), MAX(CASE WHEN rn = (50 * n + 99) / 100 THEN d END) "
        "FROM ranked GROUP BY slug, step_hash"
    )
    timing = {
        (r[0], r[1]): (int(r[2]), int(r[3] or 0), int(r[4] or 0))
        for r in session.execute(sql, {"cap": STEP_CAP_SECONDS})
    }
    out = []
    for c in candidates:
        executions, total, median = timing.get((c.slug, c.step_id.rsplit("-", 1)[-1]), (c.incidents, 0, 0))
        out.append(
            {
                **c.to_dict(),
                "executions": executions,
                "median_seconds": median,
                "hand_seconds_total": total,
                "score_seconds": executions * median,
            }
        )
    out.sort(key=lambda x: (-x["score_seconds"], -x["incidents"], x["slug"], x["step_id"]))
    return out[:limit]
