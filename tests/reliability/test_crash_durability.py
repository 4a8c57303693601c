"""Check 1, bounded: 500 events while the server is SIGKILLed twice; every 2xx event is stored once."""

from __future__ import annotations

import pytest
from reliability.figures import failed, report
from reliability.stack import BACKENDS

from reliability import crash

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_answered_event_survives_sigkills(backend: str) -> None:
    figures = crash.run((backend,), count=500, kills=2, rate=125.0, keys=40, seed=7)
    assert not failed(figures), report(figures)
