"""MTTD / MTTA / MTTM / MTTR per severity on a seeded history with hand-computed expectations,
on both databases, by both percentile strategies (window ranking and index walk)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from commandpost.clock import FrozenClock
from commandpost.db.engine import transaction
from commandpost.errors import ValidationFailed
from commandpost.incidents import service as incident_service
from commandpost.incidents.models import Incident
from commandpost.metrics import response
from tests.factories import make_incident

T0 = datetime(2026, 6, 1, 5, 0, tzinfo=UTC)
FROM, TO = datetime(2026, 6, 1, 4, 0, tzinfo=UTC), datetime(2026, 6, 4, 0, 0, tzinfo=UTC)
M = 60  # seconds in a minute

# Minutes per incident: (ttd, tta, ttm, ttr); None = that timestamp is missing.
SEV1 = [(1, 1, 10, 30), (2, 1, 20, 60), (3, 2, 30, 90), (4, 5, 40, 120), (30, 10, 150, 600)]
SEV2 = [(2, 2, 20, 60), (4, 2, 40, 120), (6, 4, 60, 180), (8, 10, 80, 240), (None, 20, 300, 1200)]
SEV3 = [(3, 3, 30, 90), (6, 3, 60, 180), (9, 6, 90, 270), (12, 15, 120, 360), (90, 30, None, None)]
SEV4 = [(0, 60, 100, 200), (0, 120, 200, 400), (0, 180, 300, 600), (0, 240, 400, 800)]


def _add(
    s: Session, number: int, severity: str, detected: datetime, minutes: tuple[Any, ...], **extra: Any
) -> Incident:
    ttd, tta, ttm, ttr = (None if m is None else timedelta(minutes=m) for m in minutes)
    incident = Incident(
        number=number,
        title=f"incident {number}",
        service=extra.pop("service", "payment-platform"),
        severity=severity,
        status="resolved" if ttr else "investigating",
        labels=extra.pop("labels", {}),
        detection="automatic",
        channel=f"inc-{number}",
        created_by="test",
        impact_started_at=detected - ttd if ttd is not None else None,
        detected_at=detected,
        declared_at=detected,
        acknowledged_at=detected + tta if tta is not None else None,
        mitigated_at=detected + ttm if ttm is not None else None,
        resolved_at=detected + ttr if ttr is not None else None,
        updated_at=detected,
    )
    s.add(incident)
    s.flush()
    return incident


def seed(sessions: sessionmaker[Session]) -> None:
    """20 incidents in the period (4–5 per SEV, detected every 13 h from T0), drills and strays outside."""
    with transaction(sessions) as s:
        number = 1
        for severity, rows in (("SEV1", SEV1), ("SEV2", SEV2), ("SEV3", SEV3), ("SEV4", SEV4)):
            for i, minutes in enumerate(rows):
                _add(s, number, severity, T0 + timedelta(hours=13 * i, minutes=number), minutes)
                number += 1
        # Not counted: drills (either way of saying it), and incidents detected outside [FROM, TO).
        _add(s, 101, "SEV1", T0 + timedelta(hours=2), (500, 500, 500, 500), labels={"drill": "true"})
        _add(s, 102, "SEV1", T0 + timedelta(hours=3), (500, 500, 500, 500), labels={"drill": True})
        _add(s, 103, "SEV1", FROM - timedelta(seconds=1), (500, 500, 500, 500))
        _add(s, 104, "SEV1", TO, (500, 500, 500, 500))


def stats(mean: float | None, median: int | None, p90: int | None, count: int) -> dict[str, Any]:
    return {"count": count, "mean": mean, "median": median, "p90": p90}


# Hand-computed, in seconds. Nearest rank: median = value #ceil(n/2), p90 = value #ceil(0.9 n).
EXPECTED = [
    {
        "severity": "SEV1",
        "incidents": 5,
        "mttd": stats(8 * M, 3 * M, 30 * M, 5),  # (1+2+3+4+30)/5 = 8
        "mtta": stats(19 * M / 5, 2 * M, 10 * M, 5),
        "mttm": stats(50 * M, 30 * M, 150 * M, 5),
        "mttr": stats(180 * M, 90 * M, 600 * M, 5),
    },
    {
        "severity": "SEV2",
        "incidents": 5,
        "mttd": stats(5 * M, 4 * M, 8 * M, 4),  # one without impact start: n = 4, median = #2, p90 = #4
        "mtta": stats(38 * M / 5, 4 * M, 20 * M, 5),
        "mttm": stats(100 * M, 60 * M, 300 * M, 5),
        "mttr": stats(360 * M, 180 * M, 1200 * M, 5),
    },
    {
        "severity": "SEV3",
        "incidents": 5,
        "mttd": stats(24 * M, 9 * M, 90 * M, 5),
        "mtta": stats(57 * M / 5, 6 * M, 30 * M, 5),
        "mttm": stats(75 * M, 60 * M, 120 * M, 4),  # still open: not mitigated, not resolved
        "mttr": stats(225 * M, 180 * M, 360 * M, 4),
    },
    {
        "severity": "SEV4",
        "incidents": 4,
        "mttd": stats(0.0, 0, 0, 4),
        "mtta": stats(150 * M, 120 * M, 240 * M, 4),
        "mttm": stats(250 * M, 200 * M, 400 * M, 4),
        "mttr": stats(500 * M, 400 * M, 800 * M, 4),
    },
]


@pytest.mark.parametrize("strategy", ["rank", "bucket", "walk", "auto"])
def test_per_severity_statistics_match_the_hand_computed_ones(sessions, session, strategy) -> None:
    seed(sessions)
    report = response.response_times(session, start=FROM, end=TO, strategy=strategy)
    got = report.to_dict()
    assert got["severities"] == EXPECTED
    assert got["from"] == FROM.isoformat() and got["unit"] == "seconds"


def test_filters_by_service_severity_and_period(sessions, session) -> None:
    seed(sessions)
    with transaction(sessions) as s:
        _add(s, 200, "SEV1", T0 + timedelta(hours=1), (7, 7, 7, 7), service="checkout")
    only = response.response_times(session, start=FROM, end=TO, severity="1", service="checkout")
    assert only.to_dict()["severities"] == [
        {
            "severity": "SEV1",
            "incidents": 1,
            **{m: stats(7.0 * M, 7 * M, 7 * M, 1) for m in ("mttd", "mtta", "mttm", "mttr")},
        }
    ]
    payments = response.response_times(
        session, start=FROM, end=TO, severity="SEV1", service="payment-platform"
    )
    assert payments.to_dict()["severities"] == EXPECTED[:1]
    # A period inside one day, starting mid-day: SEV1's first two (T0+1m, T0+13h+2m) and checkout's.
    for strategy in ("walk", "bucket", "rank"):
        first_day = response.response_times(
            session, start=T0, end=T0 + timedelta(hours=14), severity="SEV1", strategy=strategy
        )
        assert first_day.to_dict()["severities"][0]["mttr"] == stats((30 + 60 + 7) * M / 3, 30 * M, 60 * M, 3)
    with pytest.raises(ValidationFailed):
        response.response_times(session, start=FROM, end=TO, severity="SEV9")


def test_day_table_and_fact_table_agree_with_the_incidents(sessions, session) -> None:
    seed(sessions)
    day_total = session.execute(
        text("SELECT SUM(incidents), SUM(n_ttr), SUM(s_ttr) FROM incident_response_day")
    )
    fact_total = session.execute(text("SELECT COUNT(*), COUNT(ttr), SUM(ttr) FROM incident_response"))
    assert (
        tuple(day_total.one())
        == tuple(fact_total.one())
        == (21, 20, (900 + 1800 + 900 + 2000 + 500 + 500) * M)
    )
    hist = session.execute(
        text("SELECT metric, SUM(n) FROM incident_response_hist GROUP BY metric ORDER BY metric")
    )
    facts = session.execute(
        text("SELECT COUNT(tta), COUNT(ttd), COUNT(ttm), COUNT(ttr) FROM incident_response")
    )
    assert [int(n) for _m, n in hist] == list(facts.one()) == [21, 20, 20, 20]
    # SEV1's MTTR values (30, 60, 90, 120, 600 minutes and the two strays' 500) by duration bucket:
    buckets = session.execute(
        text(
            "SELECT bucket, SUM(n) FROM incident_response_hist WHERE metric = 'ttr' AND severity = 'SEV1' "
            "GROUP BY bucket ORDER BY bucket"
        )
    )
    assert [tuple(r) for r in buckets] == [(15, 1), (17, 1), (18, 1), (19, 1), (23, 3)]  # [28800, 43200)


def test_updates_move_an_incident_between_severities_and_drills(
    sessions, session, clock: FrozenClock
) -> None:
    seed(sessions)
    with transaction(sessions) as s:
        moved = s.get(Incident, 1)  # SEV1, ttr 30 min
        assert moved is not None
        moved.severity = "SEV2"
        drilled = s.get(Incident, 2)  # SEV1, ttr 60 min: turns out it was a game day
        assert drilled is not None
        drilled.labels = {"drill": "true", "team": "payments"}

    def sev(name: str) -> dict[str, Any]:
        session.rollback()
        rows = response.response_times(session, start=FROM, end=TO, severity=name).to_dict()["severities"]
        return rows[0]

    assert sev("SEV1")["mttr"] == stats(270 * M, 120 * M, 600 * M, 3)  # 90, 120, 600
    assert sev("SEV2")["mttr"] == stats(305 * M, 120 * M, 1200 * M, 6)  # 30 joined 60…1200
    with transaction(sessions) as s:
        back = s.get(Incident, 2)
        assert back is not None
        back.labels = {"team": "payments"}
    assert sev("SEV1")["mttr"] == stats(217.5 * M, 90 * M, 600 * M, 4)


def test_the_real_lifecycle_feeds_the_statistics(sessions, session, applied_ops, clock: FrozenClock) -> None:
    """Declared 10 minutes after impact was noticed, mitigated at +25 m, resolved at +70 m: the
    services' own timestamps, through the triggers."""
    start = clock.now()
    with transaction(sessions) as s:
        incident = make_incident(
            s,
            severity="SEV2",
            now=start,
            detected_at=start - timedelta(minutes=10),
            impact_started_at=start - timedelta(minutes=14),
            page=False,
        )
        incident_id = incident.id
    for minutes, status in ((25, "mitigated"), (70, "resolved")):
        clock.set(start + timedelta(minutes=minutes))
        with transaction(sessions) as s:
            row = s.get(Incident, incident_id)
            assert row is not None
            incident_service.change_status(s, incident=row, status=status, actor="yuta", now=clock.now())
    got = response.response_times(session, start=start - timedelta(days=1), end=clock.now()).to_dict()
    assert got["severities"] == [
        {
            "severity": "SEV2",
            "incidents": 1,
            "mttd": stats(4.0 * M, 4 * M, 4 * M, 1),
            "mtta": stats(10.0 * M, 10 * M, 10 * M, 1),  # declared without paging: acknowledged when declared
            "mttm": stats(35.0 * M, 35 * M, 35 * M, 1),
            "mttr": stats(80.0 * M, 80 * M, 80 * M, 1),
        }
    ]
