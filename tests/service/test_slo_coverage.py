"""Issue 14, item 18: a few minutes of SLI counts do not freeze deploys.

An event-based budget's allowance is a share of the events counted in the window, so five minutes of
counts, all bad, "exhaust" a 30-day budget that has seen nothing else. Such a budget may only report
``exhausted`` — and freeze the service, and make ``commandpost slo status`` exit 10 — once its counts
cover at least 10 % of the SLO window (3 days of 30): from the first count in the window to the
window's end. The burn-rate alerts still fire at once; only the freeze waits. Both databases.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import typer
from typer.testing import CliRunner, Result

from commandpost.client import Client
from commandpost.db.engine import transaction
from commandpost.metrics import cli as metrics_cli
from commandpost.metrics import slo

NOW = datetime(2026, 6, 24, 3, 0, tzinfo=UTC)  # the conftest clock
END = NOW + timedelta(minutes=1)  # windows end with the current minute
SERVICE = "payment-platform"


def _push(sessions, config, counts: list[slo.Count]) -> None:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        slo.push(s, config=config, service=SERVICE, slo="availability", counts=counts, now=NOW)


def _burst(minutes: int = 5) -> list[slo.Count]:
    """``minutes`` minutes of counts, every request bad, ending now."""
    return [slo.Count(f"bad-{m}", 0, 1000, NOW - timedelta(minutes=m)) for m in range(minutes)]


def _status(session, config) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    session.rollback()
    (found,) = slo.statuses(session, config=config, now=NOW, service=SERVICE, slo="availability")
    return found.to_dict()


@pytest.fixture
def cli(client, applied_ops, make_token, monkeypatch) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """``commandpost slo status`` through the real client against the app."""
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

    def invoke(*args: str) -> Result:
        app = typer.Typer()
        metrics_cli.register(app)
        return CliRunner(env={"COLUMNS": "250"}).invoke(app, list(args))

    yield invoke


def test_five_minutes_of_bad_counts_do_not_freeze(sessions, session, applied_ops, cli) -> None:
    _push(sessions, applied_ops, _burst())
    got = _status(session, applied_ops)
    budget = got["budget"]
    assert (budget["allowed"], budget["consumed"]) == (5.0, 5000.0)  # spent a thousand times over …
    assert budget["exhausted"] is False and got["freeze"] is False  # … on 5 minutes of a 30-day window
    assert got["coverage"] == {
        "since": (NOW - timedelta(minutes=4)).isoformat(),
        "seconds": 300,
        "ratio": pytest.approx(300 / (30 * 86400)),
        "needed": 0.1,
        "enough": False,
    }
    assert [a["condition"] for a in got["alerts"]] == ["page_1h", "page_6h", "ticket_3d"]  # it still pages
    assert slo.freeze_status(session, config=applied_ops, service=SERVICE, now=NOW).frozen is False

    gate = cli("slo", "status", "--service", SERVICE)
    assert gate.exit_code == 0, gate.output
    assert "FREEZE" not in gate.stdout
    assert "no freeze until the counts cover 10 % of the window" in gate.stdout
    as_json = json.loads(cli("slo", "status", "--json").stdout)
    assert as_json["services"] == [{"service": SERVICE, "freeze": False, "exhausted": []}]


def test_enough_coverage_freezes(sessions, session, applied_ops, cli) -> None:
    # counts have arrived for 4 days (all good until the last five minutes)
    history = [slo.Count(f"ok-{h}", 1000, 1000, NOW - timedelta(hours=h)) for h in range(5, 96)]
    _push(sessions, applied_ops, [*history, *_burst()])
    got = _status(session, applied_ops)
    assert got["budget"]["exhausted"] is True and got["freeze"] is True
    assert got["coverage"]["enough"] is True
    assert got["coverage"]["since"] == (NOW - timedelta(hours=95)).isoformat()
    gate = cli("slo", "status", "--service", SERVICE)
    assert gate.exit_code == metrics_cli.FREEZE_EXIT == 10
    assert f"FREEZE {SERVICE}: error budget exhausted (availability)" in gate.stdout


@pytest.mark.parametrize(
    ("first", "frozen"), [(END - timedelta(hours=72), True), (END - timedelta(hours=71, minutes=59), False)]
)
def test_the_boundary_is_ten_percent_of_the_window(sessions, session, applied_ops, first, frozen) -> None:
    """10 % of 30 days is 72 hours, measured from the first count's minute to the window's end."""
    _push(sessions, applied_ops, [slo.Count("first", 1000, 1000, first), *_burst()])
    got = _status(session, applied_ops)
    assert got["coverage"]["enough"] is frozen
    assert got["budget"]["exhausted"] is frozen and got["freeze"] is frozen


def test_counts_before_the_window_do_not_count_as_coverage(sessions, session, applied_ops) -> None:
    """A month-old count, then nothing until the burst: the window itself holds only 5 minutes."""
    _push(sessions, applied_ops, [slo.Count("old", 1000, 1000, NOW - timedelta(days=31)), *_burst()])
    got = _status(session, applied_ops)
    assert got["coverage"]["seconds"] == 300
    assert got["freeze"] is False
