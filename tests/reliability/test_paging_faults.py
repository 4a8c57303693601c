"""Checks 3 and 4, bounded: two engines paging 60 incidents × 3 pages (2 levels), the incidents arriving over
8 s, while the older replica is SIGKILLed every 2 s and replaced — at least 2 of those kills must land while
pages are being decided (PostgreSQL, the replicas share work with SKIP LOCKED; the workers' claims expire
after 10 s instead of 30 s, so the pages in flight at a kill are sent again, and counted, within the test);
a restart 10 minutes past a due escalation pages within 5 s, marked late (SQLite, the engine lease handed
over)."""

from __future__ import annotations

import pytest
from reliability.figures import failed, report

from reliability import paging

pytestmark = [pytest.mark.integration, pytest.mark.wallclock]


def test_two_engines_killed_every_few_seconds_miss_no_page() -> None:
    figures = paging.exactly_once(
        "postgresql",
        incidents=60,
        kill_every=2.0,
        timeout=120.0,
        arrival_seconds=8.0,
        min_kills=2,
        claim_seconds=10.0,
    )
    assert not failed(figures, timings=False), report(figures)
    landed = next(f for f in figures if f.name == "SIGKILLs while pages were being decided")
    assert landed.value >= 2, report(figures)


def test_a_restart_past_an_escalation_boundary_pages_at_once_marked_late() -> None:
    figures = paging.restart_boundary("sqlite")
    assert not failed(figures, timings=False), report(figures)  # the ≤ 5 s is printed, not asserted
