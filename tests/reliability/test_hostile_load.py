"""Checks 12–14, bounded: hostile input under load (issue 14, items 1, 2 and 6) — the full-size figures are
``make reliability``'s. A timing is printed, never deciding the test (the reliability checks' rule)."""

from __future__ import annotations

import pytest
from reliability.figures import failed, report

from reliability import hostile

pytestmark = pytest.mark.integration


@pytest.mark.timeout(240)
def test_twenty_guessing_clients_for_twenty_seconds_leave_intake_and_the_engine_alone() -> None:
    figures = hostile.login_storm("sqlite", clients=20, seconds=20.0, rate=50.0)
    print(report(figures))
    assert not failed(figures, timings=False), report(figures)


def test_a_nul_flood_is_accepted_and_stored_as_the_replacement_character() -> None:
    figures = hostile.nul_flood("postgresql", rate=100.0, seconds=3.0, keys=100)
    assert not failed(figures, timings=False), report(figures)


def test_a_locked_database_answers_503_with_retry_after_then_stores_everything() -> None:
    figures = hostile.locked_database(hold_seconds=8.0, requests=12)
    print(report(figures))
    assert not failed(figures, timings=False), report(figures)
