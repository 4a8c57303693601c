"""``commandpost metrics …`` and ``commandpost slo …`` through the real client against the app, on both
databases: tables, --json, the freeze exit code a deploy pipeline gates on, and offline targets."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import typer
from typer.testing import CliRunner, Result

from commandpost.client import Client
from commandpost.db.engine import transaction
from commandpost.errors import NotFound
from commandpost.incidents.models import Incident
from commandpost.metrics import cli as metrics_cli
from commandpost.metrics import slo
from tests.conftest import EXAMPLE_OPS

NOW = datetime(2026, 6, 24, 3, 0, tzinfo=UTC)


def invoke(*args: str) -> Result:
    app = typer.Typer()
    metrics_cli.register(app)
    return CliRunner(env={"COLUMNS": "250", "TTY_COMPATIBLE": "1"}).invoke(
        app, list(args)
    )  # a terminal: tables


@pytest.fixture
def api(client, applied_ops, make_token, monkeypatch) -> Callable[[], None]:  # type: ignore[no-untyped-def]
    token = make_token("read", person="hana")

    def relay(request: httpx.Request) -> httpx.Response:
        answer = client.request(
            request.method, str(request.url), headers=request.headers, content=request.content
        )
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    monkeypatch.setattr(
        metrics_cli,
        "_client",
        lambda: Client("http://testserver", token, transport=httpx.MockTransport(relay)),
    )
    return lambda: None


def _outage(sessions, minutes: int) -> None:  # type: ignore[no-untyped-def]
    start = NOW - timedelta(minutes=minutes + 5)
    with transaction(sessions) as s:
        s.add(
            Incident(
                number=1,
                title="all APIs 5xx",
                service="payment-platform",
                severity="SEV1",
                status="mitigated",
                labels={},
                detection="automatic",
                channel="inc-1",
                created_by="test",
                impact_started_at=start,
                detected_at=start + timedelta(minutes=2),
                declared_at=start + timedelta(minutes=2),
                acknowledged_at=start + timedelta(minutes=4),
                mitigated_at=start + timedelta(minutes=minutes),
                updated_at=start,
            )
        )


def test_slo_status_exits_10_while_the_budget_is_exhausted(api, sessions) -> None:  # type: ignore[no-untyped-def]
    _outage(sessions, 20)
    fine = invoke("slo", "status", "--service", "payment-platform")
    assert fine.exit_code == 0, fine.output
    assert "availability" in fine.stdout and "FREEZE" not in fine.stdout
    with transaction(sessions) as s:
        incident = s.get(Incident, 1)
        assert incident is not None
        incident.impact_started_at = NOW - timedelta(minutes=50)  # 50 minutes of full outage: over 43.2
        incident.mitigated_at = NOW
    frozen = invoke("slo", "status", "--service", "payment-platform")
    assert frozen.exit_code == metrics_cli.FREEZE_EXIT == 10
    assert "FREEZE payment-platform: error budget exhausted (availability)" in frozen.stdout
    as_json = invoke("slo", "status", "--json")
    assert as_json.exit_code == 10
    assert json.loads(as_json.stdout)["services"] == [
        {"service": "payment-platform", "freeze": True, "exhausted": ["availability"]}
    ]
    unknown = invoke("slo", "status", "--service", "checkout")
    assert isinstance(unknown.exception, NotFound)  # the root CLI exits 4: the gate cannot tell, and fails


def test_slo_targets_offline_and_from_the_server(api) -> None:  # type: ignore[no-untyped-def]
    offline = invoke("slo", "targets", "--ops", str(EXAMPLE_OPS), "--json")
    assert offline.exit_code == 0, offline.output
    slos = json.loads(offline.stdout)["slos"]
    assert slos[0]["allowed_downtime"] == "43.2 min"
    assert slos[1]["quarter_range"] == "12.96 min (90 d) – 13.248 min (92 d)"
    table = invoke("slo", "targets")
    assert table.exit_code == 0, table.output
    assert "43.2 min" in table.stdout and "13.104 min" in table.stdout  # the server's quarter: Q2, 91 days
    assert "typical mitigation assumed: 15m00s" in table.stdout


def test_slo_targets_refuses_a_broken_folder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "severities.yaml").write_text("severities: {}\n")
    result = invoke("slo", "targets", "--ops", str(tmp_path))
    assert result.exit_code != 0
    assert "run 'commandpost check" in str(result.exception)


def test_metrics_tables_and_json(api, sessions) -> None:  # type: ignore[no-untyped-def]
    _outage(sessions, 20)
    table = invoke("metrics", "response", "--from", "2026-06-01")
    assert table.exit_code == 0, table.output
    assert "MTTR" in table.stdout and "nearest rank" in table.stdout
    data = json.loads(invoke("metrics", "response", "--json", "--severity", "SEV1").stdout)
    assert data["severities"][0]["mtta"] == {"count": 1, "mean": 120.0, "median": 120, "p90": 120}
    assert data["severities"][0]["mttm"]["median"] == 18 * 60
    oncall = invoke("metrics", "oncall", "--from", "2026-06-17", "--to", "2026-06-24")
    assert oncall.exit_code == 0, oncall.output
    assert "@yuta" in oncall.stdout and "Rotations" in oncall.stdout
    alerts = invoke("metrics", "alerts")
    assert alerts.exit_code == 0 and "alerts per incident (aim: 1)" in alerts.stdout
    assert invoke("metrics", "toil").exit_code == 0
    bad = invoke("metrics", "response", "--from", "yesterday")
    assert bad.exit_code != 0 and "not an ISO 8601 date" in str(bad.exception)


def test_slo_status_table_shows_every_burn_window(api, sessions, applied_ops) -> None:  # type: ignore[no-untyped-def]
    """The five windows of the issue (5m, 30m, 1h, 6h, 3d), each with its burn rate."""
    with transaction(sessions) as s:
        slo.push(
            s,
            config=applied_ops,
            service="payment-platform",
            slo="availability",
            counts=[
                slo.Count("since", 0, 0, NOW - timedelta(days=4)),  # reporting for 4 days: enough to freeze
                slo.Count("c1", 990, 1000, NOW - timedelta(minutes=1)),  # 1 % bad: 10× everywhere
            ],
            now=NOW,
        )
    result = invoke("slo", "status", "--service", "payment-platform")
    assert result.exit_code == 10, result.output  # 10 bad of 1,000 against 1 allowed
    header = next(line for line in result.stdout.splitlines() if "objective" in line)
    windows = ["5m", "30m", "1h", "6h", "3d"]
    assert [w for w in windows if f" {w} " in header] == windows
    row = next(line for line in result.stdout.splitlines() if "availability" in line)
    assert row.count("10.0×") == 5
