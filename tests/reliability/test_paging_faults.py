"""Checks 3 and 4, bounded: two engines paging 60 incidents × 3 pages (2 levels) while one is SIGKILLed
every 3 s (PostgreSQL, the replicas share work with SKIP LOCKED); a restart 10 minutes past a due escalation
pages within 5 s, marked late (SQLite, the engine lease handed over)."""

from __future__ import annotations

import pytest
from reliability.figures import failed, report

from reliability import paging

pytestmark = pytest.mark.integration


def test_two_engines_killed_every_few_seconds_miss_no_page() -> None:
    figures = paging.exactly_once("postgresql", incidents=60, kill_every=3.0, timeout=120.0)
    assert not failed(figures), report(figures)


def test_a_restart_past_an_escalation_boundary_pages_at_once_marked_late() -> None:
    figures = paging.restart_boundary("sqlite")
    assert not failed(figures, timings=False), report(figures)  # the ≤ 5 s is printed, not asserted
