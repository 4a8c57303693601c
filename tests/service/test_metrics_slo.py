"""Error budgets on both databases with a frozen clock: pushed counts (idempotent, rolled up per
minute/hour/day), incident impact windows as bad time, exhaustion and the freeze flag."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from commandpost.clock import FrozenClock
from commandpost.db.engine import transaction
from commandpost.errors import NotFound, ValidationFailed
from commandpost.incidents.models import Incident
from commandpost.metrics import slo
from commandpost.metrics.models import SloEvent, SloRollup
from commandpost.policy.opsfiles import OpsConfig

NOW = datetime(2026, 6, 24, 3, 0, tzinfo=UTC)
SERVICE = "payment-platform"


def push(
    sessions: sessionmaker[Session], config: OpsConfig, counts: list[slo.Count], name: str = "availability"
):
    with transaction(sessions) as s:
        return slo.push(s, config=config, service=SERVICE, slo=name, counts=counts, now=NOW)


def status(session: Session, config: OpsConfig, name: str) -> dict[str, Any]:
    session.rollback()
    (found,) = slo.statuses(session, config=config, now=NOW, service=SERVICE, slo=name)
    return found.to_dict()


def test_counts_are_idempotent_by_client_id_and_rolled_up_once(sessions, session, applied_ops) -> None:
    at = NOW - timedelta(minutes=2, seconds=10)  # 02:57:50
    batch = [
        slo.Count(f"c{i}", 990, 1000, at + timedelta(seconds=20 * i)) for i in range(3)
    ]  # 02:57:50 … 02:58:30
    assert push(sessions, applied_ops, batch) == slo.Ingested(3, 0)
    assert push(sessions, applied_ops, [*batch, slo.Count("c3", 5, 5, at)]) == slo.Ingested(1, 3)
    rows = session.execute(
        select(SloRollup.size, SloRollup.bucket, SloRollup.good, SloRollup.total).order_by(
            SloRollup.size, SloRollup.bucket
        )
    ).all()
    minute = int(datetime(2026, 6, 24, 2, 57, tzinfo=UTC).timestamp())
    assert [tuple(r) for r in rows] == [
        (60, minute, 995, 1005),  # c0 and c3 at 02:57:50
        (60, minute + 60, 1980, 2000),  # c1 02:58:10, c2 02:58:30
        (3600, minute - 57 * 60, 2975, 3005),
        (86400, int(datetime(2026, 6, 24, tzinfo=UTC).timestamp()), 2975, 3005),
    ]
    assert session.scalar(select(func.count()).select_from(SloEvent)) == 4


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ([slo.Count("a", 11, 10, NOW)], "events[1]: good (11) must be between 0 and total (10)"),
        (
            [slo.Count("a", 1, 1, NOW + timedelta(minutes=6))],
            "events[1].at 2026-06-24T03:06:00+00:00 is in the future",
        ),
        ([slo.Count("a", 1, 1, NOW - timedelta(days=401))], "is older than 400 days"),
        (
            [slo.Count("a", 1, 1, NOW), slo.Count("a", 1, 1, NOW)],
            "events[2].id 'a' appears twice in this batch",
        ),
        ([slo.Count("a", 1, 1, datetime(2026, 6, 24, 3, 0))], "events[1].at needs a UTC offset"),
        ([slo.Count("", 1, 1, NOW)], "events[1].id must be 1–200 characters"),
    ],
)
def test_bad_batches_store_nothing(sessions, session, applied_ops, counts, message) -> None:
    good = slo.Count("fine", 1, 1, NOW)
    with pytest.raises(ValidationFailed, match=re.escape(message)):
        push(sessions, applied_ops, [good, *counts])
    with pytest.raises(ValidationFailed, match="send at least one count"):
        push(sessions, applied_ops, [])
    with pytest.raises(NotFound, match="service 'payment-platform' has no SLO 'latency'"):
        push(sessions, applied_ops, [good], name="latency")
    assert session.scalar(select(func.count()).select_from(SloEvent)) == 0
    assert session.scalar(text("SELECT COUNT(*) FROM slo_series")) == 0


def test_event_budget_and_burn_rates_over_their_windows(sessions, session, applied_ops) -> None:
    counts = [
        slo.Count("old", 0, 1_000_000, NOW - timedelta(days=31)),  # outside the 30-day window
        slo.Count("d10", 99_800, 100_000, NOW - timedelta(days=10)),  # 200 bad
        slo.Count("h2", 49_950, 50_000, NOW - timedelta(hours=2)),  # 50 bad: in 6h and 3d only
        slo.Count("m3", 9_900, 10_000, NOW - timedelta(minutes=3)),  # 100 bad: in every window
    ]
    push(sessions, applied_ops, counts)
    got = status(session, applied_ops, "availability")
    assert got["source"] == "events"
    assert got["budget"] == {
        "unit": "events",
        "allowed": 160.0,  # 0.1 % of 160,000
        "consumed": 350.0,
        "remaining": -190.0,
        "remaining_percent": -118.75,
        "consumed_percent": 218.75,
        "exhausted": True,
    }
    assert got["burn_rates"] == {"5m": 10.0, "30m": 10.0, "1h": 10.0, "6h": 2.5, "3d": 2.5}  # 150/60,000
    assert [a["condition"] for a in got["alerts"]] == ["ticket_3d"]
    assert got["freeze"] is True
    assert slo.freeze_status(session, config=applied_ops, service=SERVICE, now=NOW).to_dict() == {
        "service": SERVICE,
        "freeze": True,
        "exhausted": ["availability"],
    }


def _incident(
    s: Session, number: int, severity: str, start: datetime, end: datetime | None, **extra: Any
) -> None:
    s.add(
        Incident(
            number=number,
            title="impact",
            service=extra.get("service", SERVICE),
            severity=severity,
            status="mitigated" if end else "investigating",
            labels=extra.get("labels", {}),
            detection="automatic",
            channel=f"inc-{number}",
            created_by="test",
            impact_started_at=start if extra.get("impact_known", True) else None,
            detected_at=start + timedelta(minutes=extra.get("detected_after", 0)),
            declared_at=start,
            mitigated_at=end,
            updated_at=start,
        )
    )


def test_incident_impact_windows_spend_an_availability_budget(sessions, session, applied_ops) -> None:
    """No counts pushed: bad time is the union of SEV1/SEV2 impact windows (overlaps once)."""
    with transaction(sessions) as s:
        _incident(s, 1, "SEV1", NOW - timedelta(minutes=50), NOW - timedelta(minutes=30))
        _incident(s, 2, "SEV2", NOW - timedelta(minutes=40), None)  # overlaps, still open: counts until now
        _incident(s, 3, "SEV1", NOW - timedelta(days=2), NOW - timedelta(days=2) + timedelta(minutes=10))
        _incident(s, 4, "SEV2", NOW - timedelta(days=40), NOW - timedelta(days=39))  # before the window
        _incident(s, 5, "SEV3", NOW - timedelta(hours=3), NOW - timedelta(hours=2))  # not SEV1/SEV2
        _incident(s, 6, "SEV1", NOW - timedelta(hours=5), NOW, labels={"drill": "true"})
        _incident(s, 7, "SEV1", NOW - timedelta(hours=5), NOW, service="checkout")
        # No impact start: the window opens at detection (12 minutes on the 4th day back).
        _incident(
            s,
            8,
            "SEV1",
            NOW - timedelta(days=4),
            NOW - timedelta(days=4) + timedelta(minutes=12),
            impact_known=False,
            detected_after=0,
        )
    got = status(session, applied_ops, "availability")
    assert got["source"] == "incidents"
    consumed = (50 + 10 + 12) * 60
    assert got["budget"]["unit"] == "seconds"
    assert got["budget"]["allowed"] == 2592.0  # 43.2 minutes
    assert got["budget"]["consumed"] == consumed
    assert got["budget"]["exhausted"] is True and got["freeze"] is True
    # The 1h window is [02:01, 03:01): 02:10–03:00 of it was bad.
    assert got["burn_rates"]["1h"] == pytest.approx(float(Fraction(50 * 60, 3600) * 1000))
    assert got["burn_rates"]["3d"] == pytest.approx(float(Fraction((50 + 10) * 60, 3 * 86400) * 1000))
    assert got["alerts"] == []  # incidents already paged: no burn alerts from their own minutes
    correctness = status(session, applied_ops, "charge-success")
    assert (correctness["source"], correctness["budget"], correctness["freeze"]) == ("none", None, False)


def test_within_budget_is_not_frozen(sessions, session, applied_ops) -> None:
    with transaction(sessions) as s:
        _incident(s, 1, "SEV1", NOW - timedelta(minutes=30), NOW - timedelta(minutes=10))
    got = status(session, applied_ops, "availability")
    assert got["budget"]["consumed"] == 1200.0
    assert got["budget"]["remaining_percent"] == pytest.approx(100 * (2592 - 1200) / 2592)
    assert not got["freeze"]
    assert slo.freeze_status(session, config=applied_ops, service=SERVICE, now=NOW).frozen is False


def test_targets_from_the_applied_ops(applied_ops, clock: FrozenClock) -> None:
    out = slo.targets(applied_ops, NOW)
    assert [(s["slo"], s["allowed_downtime"], s.get("quarter_range")) for s in out["slos"]] == [
        ("availability", "43.2 min", None),
        ("charge-success", "13.104 min", "12.96 min (90 d) – 13.248 min (92 d)"),
    ]
    assert out["warnings"] == []


def test_rebuilt_rollups_equal_the_ones_kept_at_insert(sessions, session, applied_ops) -> None:
    counts = [slo.Count(f"r{i}", 1000 - i % 7, 1000, NOW - timedelta(minutes=37 * i)) for i in range(200)]
    push(sessions, applied_ops, counts[:120])
    push(sessions, applied_ops, counts[80:])

    def rollups() -> list[tuple[int, ...]]:
        session.rollback()
        query = select(SloRollup.size, SloRollup.bucket, SloRollup.series_id, SloRollup.good, SloRollup.total)
        return [tuple(r) for r in session.execute(query.order_by(SloRollup.size, SloRollup.bucket))]

    kept = rollups()
    assert len(kept) == 200 + 124 + 6  # minutes, hours (37-minute steps), days
    with transaction(sessions) as s:
        slo.rebuild_rollups(s)
    assert rollups() == kept
