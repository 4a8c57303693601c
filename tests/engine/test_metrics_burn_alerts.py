"""Multiwindow burn-rate alerts with a frozen clock, raised through the alert intake as source ``slo``.

Traffic is 1,000 requests a minute. Three quiet days, then 2 % errors from T (burn rate 20): with
n error minutes in a window of W minutes the burn rate there is 20·n/W, so
- page_1h (14.4× over 1 h and 5 m) first fires at T+43m (n = 44: 14.67; at n = 43: 14.33),
- page_6h (6× over 6 h and 30 m) at T+108m (n = 109: 6.06),
- the errors stop after T+108m; page_1h clears at T+110m, when only 3 of the last 5 minutes erred (12×).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from commandpost.alerts.models import Alert
from commandpost.clock import FrozenClock
from commandpost.db.engine import transaction
from commandpost.incidents.models import Incident
from commandpost.metrics import slo
from commandpost.metrics.models import SloAlertState
from commandpost.metrics.processors import BurnRateAlerts
from commandpost.policy import service as policy_service
from commandpost.policy.opsfiles import OpsConfig
from tests.paging_support import ops_variant

T = datetime(2026, 6, 24, 3, 0, tzinfo=UTC)
SERVICE = "payment-platform"


def _no_burn_rule(data: dict[str, Any]) -> None:
    """The example ops without its SLOErrorBudgetBurn rules: every burn alert falls to the default."""
    rules = data["alert_rules"]
    data["alert_rules"] = [r for r in rules if r["match"].get("alertname") != "SLOErrorBudgetBurn"]


def _apply(sessions: sessionmaker[Session], folder: Path) -> OpsConfig:
    with transaction(sessions) as s:
        policy_service.apply_folder(s, path=folder, now=T - timedelta(days=4), actor="test")
        return policy_service.current_config(s)


def _push(sessions: sessionmaker[Session], config: OpsConfig, counts: list[slo.Count], now: datetime) -> None:
    for i in range(0, len(counts), slo.MAX_BATCH):
        with transaction(sessions) as s:
            slo.push(
                s,
                config=config,
                service=SERVICE,
                slo="availability",
                counts=counts[i : i + slo.MAX_BATCH],
                now=now,
            )


def _minute(k: int, bad: int) -> slo.Count:
    return slo.Count(f"m{k}", 1000 - bad, 1000, T + timedelta(minutes=k, seconds=5))


@pytest.fixture
def scenario(sessions, clock: FrozenClock, tmp_path: Path) -> Callable[..., Any]:  # type: ignore[no-untyped-def]
    def build(paged: bool) -> tuple[OpsConfig, Callable[[int], int]]:
        # The example ops pages on page-urgency burns (SEV2, the SLO's runbook); ticket-urgency is SEV3.
        folder = ops_variant(tmp_path, {} if paged else {"services/payment-platform.yaml": _no_burn_rule})
        config = _apply(sessions, folder)
        quiet = [_minute(k, 0) for k in range(-3 * 1440, 0)]
        _push(sessions, config, quiet, T)

        def at(k: int) -> int:
            """Move the clock into minute k (T+k:30) and run one evaluation, as a fresh engine would."""
            clock.set(T + timedelta(minutes=k, seconds=30))
            with transaction(sessions) as s:
                return BurnRateAlerts().run(s, clock.now())

        return config, at

    return build


def _alerts(session: Session) -> list[tuple[str, str, int, str, int | None]]:
    session.rollback()
    rows = session.scalars(select(Alert).where(Alert.source == "slo").order_by(Alert.id))
    return [(a.dedup_key.rsplit("/", 1)[-1], a.status, a.count, a.severity, a.incident_number) for a in rows]


def test_burn_alerts_fire_once_at_the_exact_minute_and_resolve_when_clear(
    sessions, session, clock: FrozenClock, scenario
) -> None:
    config, at = scenario(paged=True)
    errors = [_minute(k, 20) for k in range(0, 109)]
    _push(sessions, config, errors[:43], T + timedelta(minutes=43))
    assert at(0) == 0
    assert at(42) == 0  # 43 error minutes in the hour: 14.33×
    _push(sessions, config, errors[43:44], T + timedelta(minutes=44))
    assert at(43) == 1  # 44: 14.67×
    assert _alerts(session) == [("page_1h", "triggered", 1, "SEV2", 1)]
    incident = session.scalars(select(Incident)).one()
    assert (incident.severity, incident.runbook, incident.detection) == (
        "SEV2",
        "db-connection-exhaustion",
        "automatic",
    )
    assert at(43) == 0 and at(44) == 0  # still firing: nothing new, the alert's count stays 1
    _push(sessions, config, errors[44:108], T + timedelta(minutes=108))
    assert at(107) == 0  # 108 error minutes in 6 h: 6.0× is not more than 6
    _push(sessions, config, errors[108:], T + timedelta(minutes=109))
    assert at(108) == 1
    assert _alerts(session) == [
        ("page_1h", "triggered", 1, "SEV2", 1),
        ("page_6h", "triggered", 1, "SEV2", 1),
    ]
    _push(sessions, config, [_minute(k, 0) for k in range(109, 112)], T + timedelta(minutes=112))
    assert at(109) == 0  # 4 of the last 5 minutes erred: 16×
    assert at(110) == 1  # 3 of 5: 12× — page_1h clears
    assert _alerts(session) == [("page_1h", "resolved", 1, "SEV2", 1), ("page_6h", "triggered", 1, "SEV2", 1)]
    states = {
        s.condition: s.firing
        for s in session.scalars(select(SloAlertState).where(SloAlertState.service == SERVICE))
    }
    assert states == {"page_1h": False, "page_6h": True, "ticket_3d": False}
    exposition = REGISTRY.get_sample_value(
        "commandpost_slo_burn_rate", {"service": SERVICE, "slo": "availability", "window": "5m"}
    )
    assert exposition == pytest.approx(12.0)
    assert REGISTRY.get_sample_value("commandpost_slo_freeze", {"service": SERVICE}) == 0.0


def test_two_engines_raise_a_condition_once(sessions, session, clock: FrozenClock, scenario) -> None:
    config, _at = scenario(paged=True)
    _push(sessions, config, [_minute(k, 100) for k in range(0, 60)], T + timedelta(minutes=60))  # 10 % errors
    clock.set(T + timedelta(minutes=59, seconds=30))
    with transaction(sessions) as s:
        first = BurnRateAlerts().run(s, clock.now())
    with transaction(sessions) as s:
        second = BurnRateAlerts().run(
            s, clock.now()
        )  # another replica, same minute, after the first committed
    assert (first, second) == (3, 0)  # page_1h, page_6h and ticket_3d: 100× over 1 h, 16.7× over 6 h and 3 d
    assert [row[0] for row in _alerts(session)] == ["page_1h", "page_6h", "ticket_3d"]
    assert {row[4] for row in _alerts(session)[:2]} == {1}  # both pages attach to one incident per SLO
    assert _alerts(session)[2][3] == "SEV3"  # the ticket matches no page rule: the service default


def test_without_a_routing_rule_the_burn_alert_is_recorded(sessions, session, scenario) -> None:
    """Without a rule for it a burn alert takes the service default, SEV3: recorded for the team
    channel, no incident — the example ops has the rule (docs/metrics.md) so that it pages."""
    config, at = scenario(paged=False)
    _push(sessions, config, [_minute(k, 100) for k in range(0, 60)], T + timedelta(minutes=60))
    assert at(59) == 3
    assert [(r[0], r[3], r[4]) for r in _alerts(session)] == [
        ("page_1h", "SEV3", None),
        ("page_6h", "SEV3", None),
        ("ticket_3d", "SEV3", None),
    ]
    assert session.scalars(select(Incident)).first() is None
    alert = session.scalars(select(Alert).where(Alert.source == "slo")).first()
    assert alert is not None
    assert alert.runbook == "db-connection-exhaustion"  # its front matter names slo: availability
    assert alert.labels["urgency"] == "page" and alert.integration == f"slo:{SERVICE}"
    assert "burning 100.0× over 1h and 100.0× over 5m" in alert.summary
