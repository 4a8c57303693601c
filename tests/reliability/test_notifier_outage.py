"""Check 5, bounded: sinks answer 500 / 429 (Retry-After) for 10 s, then hold requests 10 s: nothing lost,
dead letters only past the budget. The latency figures are printed by ``make reliability``; a timing
never decides a test (DESIGN.md), so this asserts only what was delivered."""

from __future__ import annotations

import pytest
from reliability.figures import failed, report

from reliability import outage

pytestmark = pytest.mark.integration


def test_an_outage_of_every_sink_loses_no_message() -> None:
    figures = outage.run("postgresql", outage_seconds=10.0, incidents=8, rate=50.0)
    assert not failed(figures, timings=False), report(figures)
