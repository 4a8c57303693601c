"""Check 2, bounded: one dedup key × 400 over 50 connections on two replicas: one alert, incident, page."""

from __future__ import annotations

import pytest
from reliability.figures import failed, report
from reliability.stack import BACKENDS

from reliability import dedup_race

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_replicas_one_key_one_alert_one_incident_one_page(backend: str) -> None:
    figures = dedup_race.run((backend,), count=400)
    assert not failed(figures), report(figures)
